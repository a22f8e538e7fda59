"""Tool: are we on track? Each KPI against its target, pro-rated, with the projection."""

from __future__ import annotations

from kpi_engine.catalog.model import MetricDefinition
from kpi_engine.specs import Filter
from kpi_engine.targets import KpiStatus, kpi_board, load_kpis
from tools.answer import Answer
from tools.context import ToolContext
from tools.get_metric import get_metric
from tools.render import FactSheet

STATUS_WORDS = {
    "on_track": "on track",
    "at_risk": "AT RISK",
    "off_track": "OFF TRACK",
    "no_data": "no data yet",
    "no_target": "no target",
}
STATUS_ICONS = {
    "on_track": "🟢",
    "at_risk": "🟠",
    "off_track": "🔴",
    "no_data": "⚪",
    "no_target": "⚪",
}


def check_targets(
    ctx: ToolContext,
    metric: str | None = None,
    period: str | None = None,
    *,
    scope: tuple[str, str] | None = None,
) -> Answer:
    """KPI status for one metric (all scopes, or only `scope`) or every KPI (overall only)."""
    wanted = ctx.catalog.metric(metric).name if metric else None
    definitions = load_kpis(ctx.catalog, ctx.settings.targets_dir)
    board = kpi_board(ctx.engine, ctx.catalog, definitions, ctx.clock, ctx.calendar, period)
    statuses = [s for s in board.statuses if wanted is None or s.metric == wanted]
    if scope is not None:  # ("team", "West"): that team's or rep's own target only
        statuses = [s for s in statuses if (s.scope.kind, s.scope.name) == scope]
    elif wanted is None:
        statuses = [s for s in statuses if s.scope.kind == "overall"]
    if not statuses:
        if wanted is None:
            return Answer(
                kind="pacing",
                ok=False,
                text="No KPI has a target yet. Set one with `kpibot target set revenue_won VALUE`.",
            )
        # Still answer with the figure (of the scope asked about), and say how to make it a KPI.
        filters = (Filter(scope[0], (scope[1],)),) if scope else ()
        figure = get_metric(ctx, wanted, period, filters=filters)
        whose = f" for {scope[0]} {scope[1]}" if scope else ""
        option = f' --{scope[0]} "{scope[1]}"' if scope else ""
        hint = (f"\n_No target is set for it{whose}; set one with "
                f"`kpibot target set {wanted} VALUE{option}`._")
        return Answer(
            kind="pacing",
            text=figure.text + hint,
            facts=figure.facts,
            sources=figure.sources,
            data=figure.data,
        )
    sheet = FactSheet()
    metrics = {m.name: m for m in ctx.catalog.metrics}
    lines = [status_line(s, metrics[s.metric], sheet) for s in statuses]
    if wanted is not None:
        lines.append(_why_status(statuses[0], metrics[statuses[0].metric], sheet))
    return Answer(
        kind="pacing",
        text="\n".join(lines),
        facts=sheet.facts,
        data={"kpis": [_status_data(s) for s in statuses]},
    )


def status_line(status: KpiStatus, metric: MetricDefinition, sheet: FactSheet | None = None) -> str:
    """ "Revenue won · team West · this month: 77,300 vs target 592,000; … — on track"."""
    sheet = sheet or FactSheet()
    key = f"{status.metric}[{status.scope}]"
    head = f"{STATUS_ICONS[status.status]} {status.label} · {status.scope} · {status.period_label}"
    actual = sheet.value(key, metric, status.actual)
    if status.status == "no_target":
        return f"{head}: {actual} — no target set"
    parts = [f"{actual} vs target {sheet.value(key + '.target', metric, status.target)}"]
    if status.method == "run_rate" and status.projected is not None:
        parts.append(
            f"pro-rated {sheet.value(key + '.prorated', metric, status.prorated_target)}, "
            f"projected {sheet.value(key + '.projected', metric, status.projected)}"
        )
    return f"{head}: {'; '.join(parts)} — {STATUS_WORDS[status.status]}"


def _why_status(status: KpiStatus, metric: MetricDefinition, sheet: FactSheet) -> str:
    """The basis of the overall status in one sentence, every figure formatted like the rest."""
    if status.status in ("no_target", "no_data") or status.target is None:
        return ""
    key = f"{status.metric}[{status.scope}]"
    limit = "at most" if status.direction == "lower_is_better" else "at least"
    target = sheet.value(key + ".target", metric, status.target)
    if status.method == "run_rate" and status.projected is not None:
        elapsed = sheet.number(key + ".elapsed", status.elapsed_fraction, ".0%", "fraction")
        projected = sheet.value(key + ".projected", metric, status.projected)
        basis = f"{elapsed} of the period has gone; at this pace it ends near {projected}"
    else:
        basis = f"the current value {sheet.value(key, metric, status.actual)} is compared as is"
    band = sheet.number(key + ".band", status.at_risk_band, ".0%", "fraction")
    return (
        f"_{STATUS_WORDS[status.status].capitalize()}: {basis}, against a target of {limit} "
        f"{target} (within {band} of it counts as at risk)._"
    )


def _status_data(status: KpiStatus) -> dict[str, object]:
    return {
        "metric": status.metric,
        "scope": str(status.scope),
        "actual": status.actual,
        "target": status.target,
        "prorated_target": status.prorated_target,
        "projected": status.projected,
        "status": status.status,
        "method": status.method,
    }
