"""Tool: one metric over a period — total, split by a dimension, as a series, or compared."""

from __future__ import annotations

from kpi_engine.query import query
from kpi_engine.result_json import metric_result_dict
from kpi_engine.specs import Filter, MetricResult
from tools.answer import Answer
from tools.context import ToolContext
from tools.render import FactSheet, bucket_label, group_label, source_line

MAX_ROWS = 12


def get_metric(
    ctx: ToolContext,
    metric: str,
    period: str | None = None,
    *,
    group_by: str | None = None,
    grain: str | None = None,
    compare: str | None = None,
    filters: tuple[Filter, ...] = (),
) -> Answer:
    """The value of `metric` over `period`; raises KpiUserError for unknown names or periods."""
    definition = ctx.catalog.metric(metric)
    resolved = ctx.period(period)
    result = query(
        ctx.engine,
        ctx.catalog,
        definition.name,
        resolved,
        group_by=(group_by,) if group_by else (),
        grain=grain,
        compare=compare,
        filters=filters,
    )
    return render_metric(result)


def render_metric(result: MetricResult) -> Answer:
    metric = result.metric
    sheet = FactSheet()
    period = result.request.period
    total = sheet.value(metric.name, metric, result.total.value)
    scope = "".join(f" — {f.dimension} {' or '.join(f.values)}" for f in result.request.filters)
    lines = [f"*{metric.label}*{scope} — {period.label}: *{total}*"]
    missing = result.total.extra("missing")
    if missing:
        lines[0] += f" ({sheet.number(metric.name + '.missing', missing)} not reached yet)"
    starts = result.provenance.data_start
    first_day = bucket_label(starts, "day") if starts is not None else ""
    c = result.comparison
    if c is not None and result.baseline_predates_data:
        lines.append(f"No comparison: {c.baseline_period.label} is before the data starts "
                     f"({first_day}).")
    elif c is not None:
        baseline = sheet.value(metric.name + ".baseline", metric, c.baseline)
        lines.append(
            f"{sheet.change(metric.name, metric, c).capitalize()} vs "
            f"{c.baseline_period.label}: {baseline}"
        )
    rows = result.rows
    if result.request.grain is None:
        rows = tuple(sorted(rows, key=lambda r: (r.value is None, -(r.value or 0))))
    before_data = False
    for row in rows[:MAX_ROWS]:
        if row.bucket is not None:
            label = bucket_label(row.bucket, result.request.grain)
        else:
            label = group_label(row)
        name = f"{metric.name}[{label}]"
        if row.bucket is not None and row.value is None and result.predates_data(row.bucket):
            lines.append(f"• {label}: no data yet")
            before_data = True
            continue
        line = f"• {label}: {sheet.value(name, metric, row.value)}"
        if row.baseline is not None:
            line += f" (was {sheet.value(name + '.baseline', metric, row.baseline.value)})"
        lines.append(line)
    if len(rows) > MAX_ROWS:
        lines.append(f"… and {len(rows) - MAX_ROWS} more")
    if before_data:
        lines.append(f"_The data starts on {first_day}._")
    if result.provenance.rows_counted == 0:
        lines.append(
            "_No rows in this period: is the data loaded, or is the period in the future?_"
        )
    return Answer(
        kind="metric",
        text="\n".join(lines),
        facts=sheet.facts,
        sources=(source_line(result.provenance),),
        data=metric_result_dict(result),
    )
