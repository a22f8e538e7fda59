"""Run metric requests: compile, execute in the database, compose typed results.

The database does the counting (one scan per base table and request part); this module only
combines the few aggregate numbers it returns: ratios, derived arithmetic, comparisons.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine

from kpi_engine.catalog import Catalog, MetricDefinition
from kpi_engine.catalog.arithmetic import evaluate
from kpi_engine.catalog.model import (
    UNIT_SECONDS,
    ConversionParams,
    DerivedParams,
    DurationParams,
    RatioParams,
    SimpleParams,
)
from kpi_engine.compile import (
    BUCKET,
    PERCENTILE_FUNCTION,
    Leaf,
    Plan,
    compile_request,
)
from kpi_engine.dimension_values import resolve_filters
from kpi_engine.periods import Period
from kpi_engine.specs import (
    NONE_LABEL,
    Comparison,
    Filter,
    MetricRequest,
    MetricResult,
    MetricValue,
    Provenance,
)

LeafValues = dict[tuple[str, int], Any]  # (leaf id, window index) → raw aggregate
RowKey = tuple[tuple[str, ...], str | None]  # (group values, bucket key)


def query(engine: Engine, catalog: Catalog, metric: str, period: Period, *,
          grain: str | None = None, group_by: tuple[str, ...] | list[str] | str = (),
          filters: tuple[Filter, ...] | list[Filter] = (),
          compare: str | None = None) -> MetricResult:
    """One metric over `period`: the convenience form of `run`."""
    request = MetricRequest.create(metric, period, grain=grain, group_by=group_by,
                                   filters=filters, compare=compare)
    return run(engine, catalog, request)[0]


def run(engine: Engine, catalog: Catalog, request: MetricRequest) -> tuple[MetricResult, ...]:
    """Answer `request`: one result per requested metric, in request order."""
    if request.filters:
        with engine.connect() as connection:
            filters = resolve_filters(connection, request.filters)
        request = dataclasses.replace(request, filters=filters)
    plan = compile_request(request, catalog, engine.dialect.name)
    texts: list[str] = []
    outputs: list[list[Mapping[str, Any]]] = []
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            _register_sqlite_functions(connection)
        for scan in plan.scans:
            result = connection.execute(scan.statement)
            # The SQL text shown to users is the compiled form SQLAlchemy just executed (from
            # its statement cache), with this request's own parameters: no second compile.
            context = result.context
            texts.append(f"{context.compiled}\n-- params: "
                         f"{_params(context.compiled_parameters[0])}")
            outputs.append([dict(r) for r in result.mappings()])
    sql = ";\n\n".join(texts)
    query_id = hashlib.sha1(sql.encode()).hexdigest()[:10]
    return tuple(_result(plan, catalog, metric, outputs, sql, query_id) for metric in plan.metrics)


# --- composing figures ------------------------------------------------------------------------


def _result(plan: Plan, catalog: Catalog, metric: MetricDefinition,
            outputs: list[list[Mapping[str, Any]]], sql: str, query_id: str) -> MetricResult:
    request = plan.request
    totals: LeafValues = {}
    rows_counted = 0
    freshness: dt.datetime | None = None
    data_start: dt.datetime | None = None
    rows: dict[RowKey, LeafValues] = {}
    for scan, output in zip(plan.scans, outputs, strict=True):
        if scan.purpose == "total" or scan.totals_from_rows:
            record = (output[0] if output else {}) if scan.purpose == "total" else _fold(
                scan.combine, output)
            for key, label in scan.values.items():
                totals[key] = record.get(label)
            if metric.name in scan.rows_counted:
                rows_counted = int(record.get(scan.rows_counted[metric.name]) or 0)
                freshness = record.get(scan.freshness[metric.name])
                firsts = [record.get(label) for label in scan.data_start.get(metric.name, ())]
                data_start = min((f for f in firsts if f is not None), default=None)
            if scan.purpose == "total":
                continue
        for record in output:
            group = tuple(_group_value(record[g]) for g in scan.group_labels)
            if scan.bucket_windows:
                for (leaf_id, index), label in scan.values.items():
                    key = (group, plan.buckets[index].key)
                    rows.setdefault(key, {})[(leaf_id, 0)] = record[label]
            else:
                key = (group, str(record[BUCKET])[:10] if scan.bucketed else None)
                target = rows.setdefault(key, {})
                for leaf_key, label in scan.values.items():
                    target[leaf_key] = record[label]
    if plan.buckets:
        groups = {group for group, _ in rows} or {()}
        for group in groups:
            for bucket in plan.buckets:
                rows.setdefault((group, bucket.key), {})

    starts_at = data_start.replace(tzinfo=dt.UTC) if data_start is not None else None

    def before_data(end: dt.datetime) -> bool:
        """Whether a window ending at `end` closed before the table's first row."""
        return starts_at is not None and end <= starts_at

    no_baseline = plan.baseline_period is not None and before_data(plan.baseline_period.query_end)
    total = _value(metric, catalog, totals, 0, (), None)
    comparison = None
    if plan.baseline_period is not None:
        baseline = _value(metric, catalog, totals, 1, (), None)
        comparison = _compare(metric, plan.baseline_period, total.value,
                              None if no_baseline else baseline.value)
    out_rows = []
    starts = {b.key: b.start for b in plan.buckets}
    ends = {b.key: b.end for b in plan.buckets}
    for (group, bucket_key), values in rows.items():
        labelled = tuple(zip(request.group_by, group, strict=True))
        bucket = starts.get(bucket_key) if bucket_key is not None else None
        value = _value(metric, catalog, values, 0, labelled, bucket)
        if bucket_key is not None and before_data(ends[bucket_key]):
            value = MetricValue(metric.name, None, labelled, bucket)
        if plan.baseline_period is not None and not plan.buckets:
            before = _value(metric, catalog, values, 1, labelled, None)
            if no_baseline:
                before = MetricValue(metric.name, None, labelled)
            value = MetricValue(value.metric, value.value, value.group, value.bucket,
                                value.numerator, value.denominator, value.extras, before)
        out_rows.append(value)
    if plan.buckets:
        out_rows.sort(key=lambda v: (v.bucket or dt.datetime.min.replace(tzinfo=dt.UTC), v.group))
    else:
        out_rows.sort(key=lambda v: (v.value is None, -(v.value or 0.0), v.group))
    period = request.period
    provenance = Provenance(
        metric=metric.name, period_start=period.start, period_end=period.query_end,
        timezone=period.timezone, filters=request.filters, data_freshness=freshness,
        rows_counted=rows_counted, query_id=query_id, data_start=data_start,
    )
    return MetricResult(request, metric, total, tuple(out_rows), comparison, provenance, sql)


def _fold(combine: Mapping[str, str], output: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The totals row of a grouped scan, folded from its group rows (additive columns only).

    Same as the database's aggregate over all rows: NULLs are skipped, no value is NULL,
    except a count, which is 0.
    """
    record: dict[str, Any] = {}
    for label, kind in combine.items():
        present = [r[label] for r in output if r[label] is not None]
        if kind == "count":
            record[label] = sum(present)
        elif not present:
            record[label] = None
        elif kind == "sum":
            record[label] = sum(present)
        elif kind == "min":
            record[label] = min(present)
        else:
            assert kind == "max", kind
            record[label] = max(present)
    return record


def _value(metric: MetricDefinition, catalog: Catalog, values: LeafValues, index: int,
           group: tuple[tuple[str, str], ...], bucket: dt.datetime | None) -> MetricValue:
    def get(leaf: Leaf) -> Any:
        return values.get((leaf.id, index))

    value, numerator, denominator, extras = _figure(metric, catalog, get)
    return MetricValue(metric.name, value, group, bucket, numerator, denominator, extras)


Figure = tuple[float | None, float | None, float | None, tuple[tuple[str, float], ...]]


def _figure(metric: MetricDefinition, catalog: Catalog, get: Callable[[Leaf], Any]) -> Figure:
    """(value, numerator, denominator, extras) of `metric` from its leaves' raw aggregates."""
    params = metric.type_params
    if isinstance(params, SimpleParams):
        raw = get(Leaf(metric, "value"))
        if raw is None and params.agg in ("count", "sum", "count_distinct"):
            raw = 0  # nothing counted is zero, not "no data"
        return _number(raw), None, None, ()
    if isinstance(params, RatioParams):
        numerator = _figure(catalog.metric(params.numerator), catalog, get)[0]
        denominator = _figure(catalog.metric(params.denominator), catalog, get)[0]
        return _divide(numerator, denominator), numerator, denominator, ()
    if isinstance(params, DerivedParams):
        parts = {name: _figure(catalog.metric(name), catalog, get)[0] for name in params.metrics}
        return evaluate(params.expr, parts), None, None, ()
    if isinstance(params, ConversionParams):
        cohort = float(get(Leaf(metric, "cohort")) or 0)
        converted = float(get(Leaf(metric, "converted")) or 0)
        if params.calculation == "count":
            return converted, None, None, ()
        return _divide(converted, cohort), converted, cohort, ()
    assert isinstance(params, DurationParams)
    seconds = _number(get(Leaf(metric, "duration")))
    value = None if seconds is None else seconds / UNIT_SECONDS.get(metric.unit, 1.0)
    extras: tuple[tuple[str, float], ...] = ()
    if params.report_missing:
        extras = (("missing", float(get(Leaf(metric, "missing")) or 0)),)
    return value, None, None, extras


def _compare(metric: MetricDefinition, baseline_period: Period, value: float | None,
             baseline: float | None) -> Comparison:
    if value is None or baseline is None:
        return Comparison(baseline_period, baseline, None, None)
    change = value - baseline
    relative = change / abs(baseline) if baseline else None
    if metric.unit == "fraction":
        return Comparison(baseline_period, baseline, change * 100.0, relative, "percentage_points")
    return Comparison(baseline_period, baseline, change, relative)


def _divide(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _number(raw: Any) -> float | None:
    if raw is None:
        return None
    number = float(raw)
    return None if math.isnan(number) else number


def _group_value(raw: Any) -> str:
    return NONE_LABEL if raw is None else str(raw)


def _params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v.isoformat() if isinstance(v, dt.datetime) else v!r}"
                     for k, v in params.items())


# --- SQLite ------------------------------------------------------------------------------------


class _Percentile:
    """percentile_cont for SQLite: linear interpolation between the two nearest ranks."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value: float | None, fraction: float) -> None:
        if value is not None:
            self.values.append(float(value))
        self.fraction = float(fraction)

    def finalize(self) -> float | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        position = self.fraction * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _register_sqlite_functions(connection: Connection) -> None:
    raw = connection.connection.driver_connection
    raw.create_aggregate(PERCENTILE_FUNCTION, 2, _Percentile)  # type: ignore[union-attr]


__all__ = ["query", "run"]
