"""Tool: where does the journey get stuck? Ranked bottlenecks with the facts behind each."""

from __future__ import annotations

import re

from kpi_engine.journey import BottleneckReport, find_bottlenecks
from tools.answer import Answer, Fact
from tools.context import ToolContext

DEFAULT_BOTTLENECK_PERIOD = "last 30 days"
DEFAULT_PROCESS = "deals"
SHOWN = 3
# Figures inside the engine's explanations (already formatted by the engine).
_FIGURE = re.compile(r"\d[\d,]*(?:\.\d+)?")


def rank_bottlenecks(
    ctx: ToolContext,
    process: str | None = None,
    period: str | None = None,
    *,
    by: str | None = None,
    limit: int = SHOWN,
) -> Answer:
    resolved = ctx.period(period, default=DEFAULT_BOTTLENECK_PERIOD)
    report = find_bottlenecks(
        ctx.engine, process or DEFAULT_PROCESS, resolved, clock=ctx.clock, dimension=by, limit=limit
    )
    return render_bottlenecks(report)


def bottlenecks_text(report: BottleneckReport) -> str:
    lines = [
        f"Bottlenecks in '{report.process}', {report.window.label}"
        + (f" (baseline: {report.baseline.label})" if report.baseline is not None else "")
    ]
    if not report.bottlenecks:
        lines.append("No step waits longer than its reference: nothing to rank.")
    for b in report.bottlenecks:
        lines.append(f"{b.rank}. *{b.step}*: {b.impact_hours:,.0f} h of excess wait")
        lines.append(f"   {b.explanation}")
    return "\n".join(lines)


def render_bottlenecks(report: BottleneckReport) -> Answer:
    text = bottlenecks_text(report)
    # The engine wrote these figures; record each so the reply can be verified like any other.
    facts = tuple(
        Fact(f"bottlenecks.figure{i}", None, figure)
        for i, figure in enumerate(dict.fromkeys(_FIGURE.findall(text)))
    )
    return Answer(
        kind="bottlenecks",
        text=text,
        facts=facts,
        data={
            "process": report.process,
            "bottlenecks": [
                {
                    "rank": b.rank,
                    "step": b.step,
                    "kind": b.kind,
                    "items": b.items,
                    "impact_hours": b.impact_hours,
                    "median_hours": b.median_hours,
                    "baseline_median_hours": b.baseline_median_hours,
                    "stalled_items": b.stalled_items,
                    "explanation": b.explanation,
                }
                for b in report.bottlenecks
            ],
        },
    )
