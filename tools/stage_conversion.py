"""Tool: stage to stage conversion in the journey ("from Demo to Proposal")."""

from __future__ import annotations

from kpi_engine.journey import load_journey, stage_conversion
from tools.answer import Answer
from tools.context import ToolContext
from tools.find_bottlenecks import DEFAULT_PROCESS
from tools.render import FactSheet

# Long enough for most deals that reached the first stage to have been decided.
DEFAULT_CONVERSION_PERIOD = "last 90 days"


def convert_between(ctx: ToolContext, from_stage: str, to_stage: str,
                    period: str | None = None) -> Answer:
    """Of the deals active in the period that reached `from_stage`, the share that went on to
    `to_stage`, counted over the decided ones; unknown stages raise with the known ones."""
    resolved = ctx.period(period, default=DEFAULT_CONVERSION_PERIOD)
    loaded = load_journey(ctx.engine, DEFAULT_PROCESS, resolved, clock=ctx.clock)
    result = stage_conversion(loaded, from_stage, to_stage)
    sheet = FactSheet()
    key = f"stage_conversion[{result.from_stage}→{result.to_stage}]"
    head = f"*{result.from_stage} → {result.to_stage}*, deals active {loaded.window.label}"
    if result.rate is None:
        return Answer(kind="stage_conversion", ok=False,
                      text=f"{head}: no deal that reached {result.from_stage} has been decided "
                           "yet, so there is no conversion to give.")
    rate = sheet.number(key, result.rate, ".1%", "fraction")
    went_on = sheet.number(key + ".went_on", result.went_on)
    decided = sheet.number(key + ".decided", result.went_on + result.closed_without)
    lines = [f"{head}: *{rate}* went on to {result.to_stage} ({went_on} of the {decided} "
             f"decided deals that reached {result.from_stage})."]
    if result.still_open:
        still = sheet.number(key + ".still_open", result.still_open)
        lines.append(f"{still} more reached {result.from_stage} and are still open.")
    return Answer(kind="stage_conversion", text="\n".join(lines), facts=sheet.facts,
                  data={"from_stage": result.from_stage, "to_stage": result.to_stage,
                        "rate": result.rate, "reached": result.reached,
                        "went_on": result.went_on, "closed_without": result.closed_without,
                        "still_open": result.still_open})
