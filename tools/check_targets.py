"""Tool: are we on track? Each KPI against its target, pro-rated, with the projection."""

from __future__ import annotations

from kpi_engine.catalog.model import MetricDefinition
from kpi_engine.targets import KpiStatus, kpi_board, load_kpis
from tools.answer import Answer
from tools.context import ToolContext
from tools.render import FactSheet

STATUS_WORDS = {
    "on_track": "on track", "at_risk": "AT RISK", "off_track": "OFF TRACK",
    "no_data": "no data yet", "no_target": "no target",
}
STATUS_ICONS = {"on_track": "🟢", "at_risk": "🟠", "off_track": "🔴", "no_data": "⚪", "no_target": "⚪"}


def check_targets(ctx: ToolContext, metric: str | None = None, period: str | None = None, *,
                  scopes: str = "overall_first") -> Answer:
    """KPI status for one metric (all scopes) or for every KPI (overall scope only)."""
    wanted = ctx.catalog.metric(metric).name if metric else None
    definitions = load_kpis(ctx.catalog, ctx.settings.targets_dir)
    board = kpi_board(ctx.engine, ctx.catalog, definitions, ctx.clock, ctx.calendar, period)
    statuses = [s for s in board.statuses if wanted is None or s.metric == wanted]
    if wanted is None:
        statuses = [s for s in statuses if s.scope.kind == "overall"]
    if not statuses:
        label = ctx.catalog.metric(wanted).label if wanted else "any KPI"
        return Answer(kind="pacing", ok=False,
                      text=f"No target is set for {label}. Set one with "
                           f"`kpibot target set {wanted or 'revenue_won'} VALUE`.")
    sheet = FactSheet()
    metrics = {m.name: m for m in ctx.catalog.metrics}
    lines = [status_line(s, metrics[s.metric], sheet) for s in statuses]
    if wanted is not None and statuses[0].status not in ("no_target", "no_data"):
        lines.append(f"_{statuses[0].explanation()}_")
    return Answer(kind="pacing", text="\n".join(lines), facts=sheet.facts,
                  data={"kpis": [_status_data(s) for s in statuses]})


def status_line(status: KpiStatus, metric: MetricDefinition, sheet: FactSheet | None = None) -> str:
    """"Revenue won · team West · this month: 77,300 vs target 592,000; … — on track"."""
    sheet = sheet or FactSheet()
    key = f"{status.metric}[{status.scope}]"
    head = f"{STATUS_ICONS[status.status]} {status.label} · {status.scope} · {status.period_label}"
    actual = sheet.value(key, metric, status.actual)
    if status.status == "no_target":
        return f"{head}: {actual} — no target set"
    parts = [f"{actual} vs target {sheet.value(key + '.target', metric, status.target)}"]
    if status.method == "run_rate" and status.projected is not None:
        parts.append(f"pro-rated {sheet.value(key + '.prorated', metric, status.prorated_target)}, "
                     f"projected {sheet.value(key + '.projected', metric, status.projected)}")
    return f"{head}: {'; '.join(parts)} — {STATUS_WORDS[status.status]}"


def _status_data(status: KpiStatus) -> dict[str, object]:
    return {"metric": status.metric, "scope": str(status.scope), "actual": status.actual,
            "target": status.target, "prorated_target": status.prorated_target,
            "projected": status.projected, "status": status.status, "method": status.method}
