"""Tool: the open leads to call first, best score first, each with the reasons behind it."""

from __future__ import annotations

from kpi_engine.scoring.leads import TopLead, find_viewer, top_leads
from tools.answer import Answer
from tools.context import ToolContext
from tools.render import FactSheet

DEFAULT_LIMIT = 10
NO_SCORES = (
    "No scored open leads yet. Train the model and score the leads first: "
    "`kpibot train` then `kpibot score`."
)


def rank_leads(
    ctx: ToolContext, *, limit: int = DEFAULT_LIMIT, source: str | None = None
) -> Answer:
    """The viewer's own leads for a rep, their team's for a manager, everyone's when anonymous."""
    identity = ctx.viewer.slack_user_id or ctx.viewer.email
    viewer = find_viewer(ctx.engine, identity) if identity else None
    found = top_leads(
        ctx.engine,
        ctx.clock.now(),
        viewer=viewer,
        everyone=viewer is None,
        source=source,
        limit=limit,
    )
    if not found:
        return Answer(kind="top_leads", text=NO_SCORES, ok=False)
    whose = (
        "your own"
        if viewer and viewer.role != "manager"
        else "your team's"
        if viewer
        else "the team's"
    )
    sheet = FactSheet()
    lines = [f"Top {sheet.number('leads.count', len(found))} open leads ({whose}), best first:"]
    lines += [_lead_line(sheet, rank, lead) for rank, lead in enumerate(found, 1)]
    return Answer(
        kind="top_leads",
        text="\n".join(lines),
        facts=sheet.facts,
        data={"leads": [lead.as_dict() for lead in found]},
    )


def _lead_line(sheet: FactSheet, rank: int, lead: TopLead) -> str:
    key = f"lead[{lead.external_id}]"
    score = sheet.number(key + ".score", lead.score, ".0f", "score")
    if lead.days_since_touch is None:
        touch = "never touched"
    else:
        days = sheet.number(key + ".days_since_touch", lead.days_since_touch, ".0f", "days")
        touch = f"last touch {days} d ago"
    line = (
        f"{rank}. *{score}* · `{lead.external_id}` · {lead.owner or 'unassigned'}"
        f" · {lead.source or 'unknown source'} · {touch}"
    )
    reasons = [
        ("▲ " if r.get("effect") == "raises" else "▼ ") + str(r["text"]) for r in lead.reasons
    ]
    if reasons:
        line += "\n    " + "\n    ".join(reasons)
    return line
