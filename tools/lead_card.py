"""Tool: one lead by its id: its score and the reasons behind it, or what became of it."""

from __future__ import annotations

from kpi_engine.scoring.leads import find_lead
from tools.answer import Answer
from tools.context import ToolContext
from tools.render import FactSheet, bucket_label
from tools.top_leads import lead_facts, reason_lines


def describe_lead(ctx: ToolContext, external_id: str) -> Answer:
    """"why is L-06226 scored 55?": the lead as the asker may see it (a rep: their own)."""
    card = find_lead(ctx.engine, ctx.clock.now(), external_id, viewer=ctx.asking_rep)
    lead = card.lead
    sheet = FactSheet()
    lines = [lead_facts(sheet, lead)]
    if card.status == "converted":
        when = f" on {bucket_label(card.decided_at, 'day')}" if card.decided_at else ""
        lines.append(f"Converted{when}: there is nothing left to score.")
    elif card.status != "open":
        lines.append(f"Closed as {card.status}: there is nothing left to score.")
    elif lead.score is None:
        lines.append("Not scored yet: run `kpibot score` (after `kpibot train`).")
    else:
        score = sheet.number(f"lead[{lead.external_id}].score", lead.score, ".0f", "score")
        version = sheet.number("model.version", card.model_version) if card.model_version \
            else "?"
        lines.append(f"Score *{score}* of 100 (model version {version}). What moves it most, "
                     "against a typical lead:")
        lines += [f"    {line}" for line in reason_lines(lead)] or [
            "    nothing: it looks like a typical lead."]
    return Answer(kind="lead", text="\n".join(lines), facts=sheet.facts,
                  data={"lead": card.as_dict()})
