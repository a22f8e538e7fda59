"""The offline router: answers questions with no language model, from the engine alone.

It is also the fallback when the model is down or its reply fails verification, so every
kind of question the agent can answer has a deterministic path here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kpi_engine.errors import KpiUserError, UnknownNameError, closest
from kpi_engine.specs import Filter
from tools.answer import Answer, sorry
from tools.check_targets import check_targets
from tools.context import ToolContext
from tools.explain_change import explain_metric_change
from tools.find_bottlenecks import rank_bottlenecks
from tools.get_metric import get_metric
from tools.intents import Intent, IntentKind, metric_names, parse_question
from tools.lead_card import describe_lead
from tools.list_metrics import list_metrics
from tools.stage_conversion import convert_between
from tools.top_leads import rank_leads

HELP = (
    "Ask me about your KPIs, for example:\n"
    "• how many leads did we get this week?\n"
    "• how's conversion this month vs last month?\n"
    "• win rate last quarter by team\n"
    "• are we on track for revenue this quarter?\n"
    "• why did win rate drop?\n"
    "• my top leads? top 5 LinkedIn leads? leads scoring above 40?\n"
    "• why is L-06226 scored 55? (any lead by its id)\n"
    "• where do deals get stuck? conversion from Demo to Proposal?\n"
    "• which metrics do you know?"
)


def answer(ctx: ToolContext, question: str) -> Answer:
    """Answer `question`; user mistakes come back as a helpful answer, never an exception."""
    intent = parse_question(question, metric_names(ctx.metric_phrases), ctx.dimension_values)
    if intent.near_miss:
        dimension, written, closest_known = intent.near_miss
        return sorry(dimension, f"I don't know the {dimension} “{written}”. Did you mean "
                     + " or ".join(f"`{v}`" for v in closest_known) + "?",
                     suggestions=list(closest_known))
    if intent.unread_period:
        return sorry("period", f"I can't give figures for “{intent.unread_period}”: they "
                     "exist only for what has happened. Ask for a past period (this year, year "
                     "to date, last 30 days, Q3, March), or ask whether a KPI is on track for "
                     "this quarter or year to see where it is heading against its target.")
    handler = _HANDLERS.get(intent.kind, _metric)
    try:
        if intent.stages:
            stages = _between_stages(ctx, intent)
            if stages is not None:
                return stages
        return handler(ctx, intent)
    except KpiUserError as error:
        return sorry(intent.kind.value, str(error))


def _between_stages(ctx: ToolContext, intent: Intent) -> Answer | None:
    """Stage to stage conversion when both words name stages of the deals journey."""
    assert intent.stages is not None
    try:
        return convert_between(ctx, *intent.stages, intent.period_text)
    except UnknownNameError as error:
        if error.kind != "stage" or error.suggestions:
            raise  # "from demo to propsal": a stage misspelt is said, not answered around
        return None  # "from LinkedIn to …": not stages, the question is about something else


def _metric(ctx: ToolContext, intent: Intent) -> Answer:
    if intent.metric is None:
        return _unknown_metric(ctx, intent)
    named, whose_note = _whose(ctx, intent)
    merged: dict[str, list[str]] = {}
    for dimension, value in named:
        merged.setdefault(dimension, []).append(value)
    filters = tuple(Filter(dimension, tuple(values)) for dimension, values in merged.items())
    reply = get_metric(
        ctx,
        intent.metric,
        intent.period_text,
        group_by=intent.group_by,
        grain=intent.grain,
        compare=intent.compare,
        filters=filters,
    )
    if intent.unknown_split and reply.ok:
        metric = ctx.catalog.metric(intent.metric)
        reply = _noted(reply, f"_I can't split {metric.label.lower()} by "
                       f"“{intent.unknown_split}”; it splits by "
                       f"{', '.join(d.replace('_', ' ') for d in metric.dimensions)}. "
                       "Here is the total:_")
    if intent.unapplied and reply.ok:
        reply = _noted(reply, f"_I didn't apply “{intent.unapplied}”: it is no team, rep, "
                       "region, source or product I know. Here is the figure without it:_")
    return _noted(reply, whose_note)


def _whose(ctx: ToolContext, intent: Intent) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The question's filters, "my …" read as the asker's own figure (a manager's: their
    team's), and a note when the asker is unknown and the figure is everyone's."""
    if intent.mine is None or any(d in ("rep", "team") for d, _ in intent.filters):
        return intent.filters, None
    viewer = ctx.asking_rep
    if viewer is None:
        return intent.filters, ("_“My” means whoever asks, and I don't know who is asking here, "
                                "so this is everyone's (in Slack it is yours; in the local "
                                "chat, `kpibot chat --as EMAIL`)._")
    if (intent.mine == "team" or viewer.role == "manager") and viewer.team:
        return intent.filters + (("team", viewer.team),), None
    return intent.filters + (("rep", viewer.name),), None


def _noted(reply: Answer, note: str | None) -> Answer:
    return replace(reply, text=f"{note}\n{reply.text}") if note and reply.ok else reply


def _unknown_metric(ctx: ToolContext, intent: Intent) -> Answer:
    names = [m.name for m in ctx.catalog.metrics if m.public]
    words = (intent.unmatched or "").replace(" ", "_")
    suggestions = closest(words, names) if words else []
    if not suggestions and intent.unmatched:
        suggestions = [n for n in names if any(w in n for w in intent.unmatched.split())][:3]
    text = "I don't know which metric you mean"
    text += f" by “{intent.unmatched}”." if intent.unmatched else "."
    if suggestions:
        text += " Closest: " + ", ".join(f"`{s}`" for s in suggestions) + "."
    text += ' Say "which metrics do you know?" for the full list.'
    return sorry("metric", text, suggestions=suggestions)


def _pacing(ctx: ToolContext, intent: Intent) -> Answer:
    named, whose_note = _whose(ctx, intent)
    scope = next(((d, v) for d, v in named if d in ("team", "rep")), None)
    return _noted(check_targets(ctx, intent.metric, intent.period_text, scope=scope), whose_note)


def _why(ctx: ToolContext, intent: Intent) -> Answer:
    if intent.metric is None:
        return _unknown_metric(ctx, intent)
    return explain_metric_change(
        ctx, intent.metric, intent.period_text, compare=intent.compare or "previous"
    )


def _help(ctx: ToolContext, intent: Intent) -> Answer:
    return Answer(kind="help", text=HELP)


def _courtesy(ctx: ToolContext, intent: Intent) -> Answer:
    return Answer(kind="courtesy", text='Glad to help. Ask me about a KPI any time ("help" '
                  "for examples).")


_HANDLERS: dict[IntentKind, Callable[[ToolContext, Intent], Answer]] = {
    IntentKind.METRIC: _metric,
    IntentKind.LIST_METRICS: lambda ctx, intent: list_metrics(ctx),
    IntentKind.PACING: _pacing,
    IntentKind.WHY: _why,
    IntentKind.LEAD: lambda ctx, intent: describe_lead(ctx, intent.lead or ""),
    IntentKind.TOP_LEADS: lambda ctx, intent: rank_leads(
        ctx, filters=intent.filters, limit=intent.limit, min_score=intent.min_score),
    IntentKind.BOTTLENECKS: lambda ctx, intent: rank_bottlenecks(ctx, period=intent.period_text),
    IntentKind.HELP: _help,
    IntentKind.COURTESY: _courtesy,
}
