"""Tool: the open leads to call first, best score first, each with the reasons behind it."""

from __future__ import annotations

from collections.abc import Sequence

from kpi_engine.scoring.leads import TopLead, top_leads
from tools.answer import Answer
from tools.context import ToolContext
from tools.render import FactSheet

DEFAULT_LIMIT = 10
# More than this makes a chat message nobody reads; `kpibot leads --limit` has no such cap.
MAX_LIMIT = 25
NO_SCORES = (
    "No scored open leads yet. Train the model and score the leads first: "
    "`kpibot train` then `kpibot score`."
)


# What a question may narrow top leads by; a rep is more specific than a team.
NARROWING = ("rep", "team", "source")


def rank_leads(
    ctx: ToolContext, *, limit: int | None = None, filters: Sequence[tuple[str, str]] = (),
    min_score: float | None = None,
) -> Answer:
    """The viewer's own leads for a rep, their team's for a manager, everyone's when anonymous;
    narrowed to the rep, team or lead source the question names ("top LinkedIn leads"), to
    the number asked for ("top 5", at most MAX_LIMIT) and to a least score."""
    asked = limit or DEFAULT_LIMIT
    limit = max(1, min(asked, MAX_LIMIT))
    viewer = ctx.asking_rep
    named = dict(filters)
    rep = named.get("rep")
    team = None if rep else named.get("team")
    found = top_leads(
        ctx.engine,
        ctx.clock.now(),
        viewer=viewer,
        rep=rep,
        team=team,
        everyone=viewer is None and not (rep or team),
        source=named.get("source"),
        min_score=min_score,
        limit=limit,
    )
    if not found:
        # Filters that match nothing read differently from no scores at all.
        scored = (named or min_score is not None) and top_leads(
            ctx.engine, ctx.clock.now(), viewer=viewer, everyone=viewer is None, limit=1)
        text = (f"No scored open leads match {_scope(rep, team, named, min_score)}." if scored
                else NO_SCORES)
        return Answer(kind="top_leads", text=text, ok=False)
    if rep or team:
        whose = f"{rep}'s" if rep else f"team {team}'s"
    else:
        whose = (
            "your own"
            if viewer and viewer.role != "manager"
            else "your team's"
            if viewer
            else "the team's"
        )
    if named.get("source"):
        whose += f", from {named['source']}"
    sheet = FactSheet()
    if min_score is not None:
        whose += f", scoring at least {sheet.number('leads.min_score', min_score, 'g')}"
    lines = [f"Top {sheet.number('leads.count', len(found))} open leads ({whose}), best first:"]
    if asked > limit:
        lines.append(f"(At most {sheet.number('leads.max', MAX_LIMIT)} in a message; "
                     "`kpibot leads --limit N` lists more.)")
    ignored = sorted(d for d in named if d not in NARROWING)
    if ignored:
        verb = "is" if len(ignored) == 1 else "are"
        lines.append(f"(Top leads can be narrowed by rep, team or source; "
                     f"{' and '.join(ignored)} {verb} not applied.)")
    lines += [_lead_line(sheet, rank, lead) for rank, lead in enumerate(found, 1)]
    return Answer(
        kind="top_leads",
        text="\n".join(lines),
        facts=sheet.facts,
        data={"leads": [lead.as_dict() for lead in found]},
    )


def _scope(rep: str | None, team: str | None, named: dict[str, str],
           min_score: float | None = None) -> str:
    parts = [f"rep {rep}" if rep else f"team {team}" if team else None,
             f"source {named['source']}" if named.get("source") else None,
             f"a score of at least {min_score:g}" if min_score is not None else None]
    return " and ".join(p for p in parts if p) or "the question"


def _lead_line(sheet: FactSheet, rank: int, lead: TopLead) -> str:
    score = sheet.number(f"lead[{lead.external_id}].score", lead.score, ".0f", "score")
    return "\n    ".join([f"{rank}. *{score}* · {lead_facts(sheet, lead)}", *reason_lines(lead)])


def lead_facts(sheet: FactSheet, lead: TopLead) -> str:
    """"`L-06226` · Diego Alvarez · Partner · last touch 1 d ago"."""
    if lead.days_since_touch is None:
        touch = "never touched"
    else:
        days = sheet.number(f"lead[{lead.external_id}].days_since_touch", lead.days_since_touch,
                            ".0f", "days")
        touch = f"last touch {days} d ago"
    return (f"`{lead.external_id}` · {lead.owner or 'unassigned'} · "
            f"{lead.source or 'unknown source'} · {touch}")


def reason_lines(lead: TopLead) -> list[str]:
    """"▲ 4–10 opened marketing emails (typical lead: 0)", one per stored reason."""
    return [("▲ " if r.get("effect") == "raises" else "▼ ") + str(r["text"])
            for r in lead.reasons]
