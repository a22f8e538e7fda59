"""Engine results as plain dictionaries, for `--json` output and structured answers."""

from __future__ import annotations

from typing import Any

from kpi_engine.specs import MetricResult, MetricValue


def _value_dict(value: MetricValue) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value.value}
    if value.group:
        out["group"] = dict(value.group)
    if value.bucket is not None:
        out["bucket"] = value.bucket.isoformat()
    if value.numerator is not None or value.denominator is not None:
        out["numerator"], out["denominator"] = value.numerator, value.denominator
    if value.extras:
        out["extras"] = dict(value.extras)
    if value.baseline is not None:
        out["baseline"] = value.baseline.value
    return out


def metric_result_dict(result: MetricResult) -> dict[str, Any]:
    """A result as plain JSON types: raw numbers (a rate as a fraction), ISO bounds, provenance."""
    period = result.request.period
    p = result.provenance
    comparison = None
    if result.comparison is not None:
        c = result.comparison
        comparison = {
            "baseline_period": {"label": c.baseline_period.label,
                                "start": c.baseline_period.start.isoformat(),
                                "end": c.baseline_period.query_end.isoformat()},
            "baseline": c.baseline, "change": c.change, "change_unit": c.change_unit,
            "relative_change": c.relative_change,
        }
    return {
        "metric": result.metric.name, "label": result.metric.label, "unit": result.metric.unit,
        **_value_dict(result.total),
        "formatted": result.metric.format_value(result.total.value),
        "period": {"label": period.label, "start": period.start.isoformat(),
                   "end": period.end.isoformat(), "as_of": period.as_of.isoformat(),
                   "counted_until": period.query_end.isoformat(), "partial": period.is_partial},
        "group_by": list(result.request.group_by), "grain": result.request.grain,
        "comparison": comparison,
        "rows": [_value_dict(row) for row in result.rows],
        "provenance": {
            "metric": p.metric, "period_start": p.period_start.isoformat(),
            "period_end": p.period_end.isoformat(), "timezone": p.timezone,
            "filters": {f.dimension: list(f.values) for f in p.filters},
            "data_freshness": p.data_freshness.isoformat() if p.data_freshness else None,
            "data_start": p.data_start.isoformat() if p.data_start else None,
            "rows_counted": p.rows_counted, "query_id": p.query_id,
        },
    }
