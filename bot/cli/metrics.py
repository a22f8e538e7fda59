"""`kpibot metrics` and `kpibot metric NAME --period ...`: the catalog and its figures.

Engine modules are imported inside the commands so `kpibot --help` and other commands stay
fast to start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import calendar, catalog, clock, engine, fail, print_json, user_errors

if TYPE_CHECKING:
    from kpi_engine.catalog import Catalog, MetricDefinition
    from kpi_engine.specs import Filter, MetricResult, MetricValue


def register(app: typer.Typer) -> None:
    """Add the commands of this module to the root app."""
    app.command("metrics")(list_metrics)
    app.command("metric")(show_metric)


def list_metrics(
    as_json: bool = typer.Option(False, "--json", help="Print the catalog as JSON."),
    show_all: bool = typer.Option(False, "--all", help="Include private base metrics."),
) -> None:
    """List the metrics you can ask about."""
    with user_errors():
        metrics_catalog = catalog()
    metrics = [m for m in metrics_catalog.metrics if m.public or show_all]
    if as_json:
        print_json([_metric_json(m) for m in metrics])
        return
    width = max(len(m.name) for m in metrics)
    label_width = max(len(m.label) for m in metrics)
    for metric in metrics:
        typer.echo(f"{metric.name:<{width}}  {metric.label:<{label_width}}  {metric.unit:<8}  "
                   f"{metric.description}")


def show_metric(
    name: str = typer.Argument(..., help="Metric name or synonym, e.g. win_rate."),
    period: str = typer.Option(..., "--period", "-p", help='e.g. "last month", "Q3 2017", "MTD".'),
    by: list[str] = typer.Option([], "--by", help="Split by a dimension (repeatable)."),
    grain: str | None = typer.Option(None, "--grain", help="A series: day, week or month."),
    compare: str | None = typer.Option(None, "--compare",
                                       help="previous or last-year."),
    filters: list[str] = typer.Option([], "--filter", help="DIM=VALUE[,VALUE...] (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Raw numbers, bounds and provenance."),
) -> None:
    """Compute one metric over a period."""
    from kpi_engine.periods import parse_period
    from kpi_engine.query import query
    from kpi_engine.result_json import metric_result_dict

    if grain is not None and grain not in ("day", "week", "month"):
        fail(f"Unknown grain '{grain}'. Use day, week or month.")
    if compare is not None and compare.replace("_", "-") not in ("previous", "last-year"):
        fail(f"Unknown comparison '{compare}'. Use previous or last-year.")
    with user_errors():
        metrics_catalog = catalog()
        metric = metrics_catalog.metric(name)
        for dim in by:
            metrics_catalog.dimension(dim, metric)
        parsed_filters = _parse_filters(filters, metrics_catalog, metric)
        resolved = parse_period(period, clock(), calendar())
        result = query(engine(), metrics_catalog, metric.name, resolved, grain=grain,
                       group_by=tuple(by), filters=parsed_filters, compare=compare)
    if as_json:
        print_json(metric_result_dict(result))
    else:
        typer.echo(_render(result))


def _parse_filters(raw: list[str], catalog: Catalog,
                   metric: MetricDefinition) -> tuple[Filter, ...]:
    from kpi_engine.errors import InvalidInputError
    from kpi_engine.specs import Filter

    merged: dict[str, list[str]] = {}
    for text in raw:
        dim, sep, values = text.partition("=")
        if not sep or not dim.strip() or not values.strip():
            raise InvalidInputError(f"Bad --filter '{text}': write DIM=VALUE, e.g. region=West.")
        dimension = catalog.dimension(dim.strip(), metric).name
        merged.setdefault(dimension, []).extend(v.strip() for v in values.split(",") if v.strip())
    return tuple(Filter(dim, tuple(values)) for dim, values in merged.items())


# --- rendering --------------------------------------------------------------------------------


def _render(result: MetricResult) -> str:
    metric = result.metric
    period = result.request.period
    lines = [f"{metric.label} — {period.label}", f"  {_figure_text(metric, result.total)}"]
    starts = result.provenance.data_start
    if result.comparison is not None and result.baseline_predates_data and starts is not None:
        lines.append(f"  vs {result.comparison.baseline_period.label}: no data (the data starts "
                     f"on {starts:%Y-%m-%d})")
    elif result.comparison is not None:
        comparison = result.comparison
        base = metric.format_value(comparison.baseline)
        if comparison.change is None:
            change = "change n/a"
        elif comparison.change_unit == "percentage_points":
            change = f"{comparison.change:+.1f} pp"
        else:
            change = f"{'+' if comparison.change >= 0 else '−'}" \
                     f"{metric.format_value(abs(comparison.change))}"
        if comparison.relative_change is not None:
            change += f" ({comparison.relative_change:+.1%})"
        lines.append(f"  vs {comparison.baseline_period.label}: {base}, {change}")
    if result.rows:
        heads = [_row_label(row) for row in result.rows]
        width = max(len(h) for h in heads)
        texts = ["no data" if row.value is None and row.bucket is not None
                 and result.predates_data(row.bucket) else _figure_text(metric, row)
                 for row in result.rows]
        value_width = max(len(t.split("  ")[0]) for t in texts)
        title = " × ".join(result.request.group_by) if result.request.group_by else ""
        if result.request.grain:
            title = f"by {result.request.grain}" + (f", {title}" if title else "")
        else:
            title = f"by {title}"
        lines.append(f"  {title}:")
        for head, text, row in zip(heads, texts, result.rows, strict=True):
            value, _, rest = text.partition("  ")
            lines.append(f"    {head:<{width}}  {value:>{value_width}}  {rest}".rstrip())
            if row.baseline is not None:
                lines[-1] += f"  was {metric.format_value(row.baseline.value)}"
    p = result.provenance
    fresh = p.data_freshness.strftime("%Y-%m-%d %H:%M") + " UTC" if p.data_freshness else "none"
    filters = "; ".join(f"{f.dimension} = {', '.join(f.values)}" for f in p.filters)
    lines.append(f"  ({p.period_start:%Y-%m-%d %H:%M} → {p.period_end:%Y-%m-%d %H:%M} {p.timezone}"
                 f"{' · ' + filters if filters else ''} · {p.rows_counted:,} rows · "
                 f"data up to {fresh} · query {p.query_id})")
    return "\n".join(lines)


def _row_label(row: MetricValue) -> str:
    parts = [v for _, v in row.group]
    if row.bucket is not None:
        parts.insert(0, row.bucket.strftime("%Y-%m-%d"))
    return " · ".join(parts) or "total"


def _figure_text(metric: MetricDefinition, value: MetricValue) -> str:
    text = metric.format_value(value.value)
    details = []
    if value.numerator is not None and value.denominator is not None:
        details.append(f"{value.numerator:,.0f} / {value.denominator:,.0f}")
    for key, extra in value.extras:
        details.append(f"{extra:,.0f} {'untouched' if key == 'missing' else key}")
    return f"{text}  ({'; '.join(details)})" if details else text


def _metric_json(metric: MetricDefinition) -> dict[str, Any]:
    return {
        "name": metric.name, "label": metric.label, "description": metric.description,
        "synonyms": list(metric.synonyms), "type": metric.type, "unit": metric.unit,
        "format": metric.format, "direction": metric.direction, "time_column": metric.time_column,
        "dimensions": list(metric.dimensions), "public": metric.public,
        "additive": metric.additive,
    }
