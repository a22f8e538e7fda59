"""Compile a MetricRequest into SQLAlchemy Core statements: one scan per base table.

How a request becomes SQL:
1. Every metric is broken into *leaves*: single aggregations over one table (a ratio has two,
   a derived metric the leaves of the metrics it uses, a conversion a cohort and a converted
   count, a duration its statistic and the count of rows with no end yet).
2. Leaves over the same table share one scan. Each leaf and counting window (the period, and
   the baseline period when comparing) becomes one aggregate column `AGG(CASE WHEN <its
   conditions> THEN value END)`; conditions common to every column move to WHERE, and the
   windows' date ranges are OR-ed into WHERE on the *bare* time column so indexes are used.
3. Series bucket by the local (workspace time zone) day / week / month of the time column;
   group-by and filters reach dimensions through LEFT joins (deals → reps → teams ...).
   When every leaf of a table is additive, its totals are folded from the group rows
   (`Scan.combine`) instead of a second scan; medians, averages and the like keep one.
4. Freshness (the latest time among the rows counted) is an uncorrelated scalar subquery:
   one seek down the time index rather than a max() over every row. Series and comparisons
   also get where the table's data starts (the min of each of its time columns), the same way.

The statements are plain Core `Select`s; `kpi_engine.query` runs them and composes the figures.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import (
    DateTime,
    Float,
    Select,
    and_,
    case,
    cast,
    exists,
    extract,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import Table

from kpi_engine.catalog import Catalog, MetricDefinition
from kpi_engine.catalog.dimensions import ColumnPath, Dimension
from kpi_engine.catalog.model import (
    ActivityCheck,
    ColumnFilter,
    ConversionParams,
    DerivedParams,
    DurationParams,
    RatioParams,
    SimpleParams,
)
from kpi_engine.db.models import metadata
from kpi_engine.errors import InvalidInputError, UnknownNameError
from kpi_engine.periods import Period
from kpi_engine.specs import COMPARISONS, GRAINS, MetricRequest

BUCKET = "kpi_bucket"
PERCENTILE_FUNCTION = "kpi_percentile"  # registered on SQLite connections by kpi_engine.query
_TZ_NAME = re.compile(r"^[A-Za-z0-9_+\-/]+$")


# --- values -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A counting window in naive UTC: rows with `start <= t < end`; conversions up to `as_of`."""

    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime

    @classmethod
    def of(cls, period: Period) -> Window:
        start, end = period.utc_bounds()
        return cls(start, end, _naive_utc(period.as_of))


@dataclass(frozen=True)
class Leaf:
    """One aggregation of a metric. role: value | cohort | converted | duration | missing."""

    metric: MetricDefinition
    role: str

    @property
    def id(self) -> str:
        return f"{self.metric.name}:{self.role}"


@dataclass(frozen=True)
class Bucket:
    """A series bucket: its key as the SQL returns it ('YYYY-MM-DD') and its local bounds."""

    key: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Scan:
    """One statement and how to read its columns.

    `values` maps (leaf id, window index) to a column label; `rows_counted`, `freshness` and
    `data_start` map a metric name to its label(s) (totals scans only). A series scan groups
    by `BUCKET`; a snapshot series scan has one window per bucket instead (`bucket_windows`).
    """

    table: str
    statement: Select[tuple[object, ...]]
    group_labels: tuple[str, ...]
    values: dict[tuple[str, int], str]
    rows_counted: dict[str, str] = field(default_factory=dict)
    freshness: dict[str, str] = field(default_factory=dict)
    # Series and comparisons only: the earliest time of each time column of the table, so
    # that a bucket or baseline before the data starts reads "no data", not 0.
    data_start: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bucketed: bool = False
    bucket_windows: bool = False
    purpose: str = "total"  # total | rows
    # A rows scan whose leaves are all additive also yields the totals: `combine` says how
    # to fold each column over its group rows (count | sum | min | max), saving a scan.
    totals_from_rows: bool = False
    combine: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    request: MetricRequest
    metrics: tuple[MetricDefinition, ...]
    windows: tuple[Window, ...]  # [current] or [current, baseline]
    baseline_period: Period | None
    buckets: tuple[Bucket, ...]
    scans: tuple[Scan, ...]


# --- leaves -----------------------------------------------------------------------------------


def leaves_of(metric: MetricDefinition, catalog: Catalog) -> list[Leaf]:
    """The single aggregations `metric` is computed from."""
    params = metric.type_params
    if isinstance(params, SimpleParams):
        return [Leaf(metric, "value")]
    if isinstance(params, ConversionParams):
        return [Leaf(metric, "cohort"), Leaf(metric, "converted")]
    if isinstance(params, DurationParams):
        out = [Leaf(metric, "duration")]
        return out + [Leaf(metric, "missing")] if params.report_missing else out
    if isinstance(params, RatioParams):
        names: Sequence[str] = (params.numerator, params.denominator)
    else:
        assert isinstance(params, DerivedParams)
        names = params.metrics
    out = []
    for name in names:
        out.extend(leaves_of(catalog.metric(name), catalog))
    return out


def base_leaf(metric: MetricDefinition, catalog: Catalog) -> Leaf:
    """The leaf whose rows are "the rows counted" for `metric` (a ratio's denominator...)."""
    params = metric.type_params
    if isinstance(params, RatioParams):
        return base_leaf(catalog.metric(params.denominator), catalog)
    if isinstance(params, DerivedParams):
        return base_leaf(catalog.metric(params.metrics[-1]), catalog)
    if isinstance(params, ConversionParams):
        return Leaf(metric, "cohort")
    if isinstance(params, DurationParams):
        return Leaf(metric, "duration")
    return Leaf(metric, "value")


def _unique(leaves: Iterable[Leaf]) -> list[Leaf]:
    seen: dict[str, Leaf] = {}
    for leaf in leaves:
        seen.setdefault(leaf.id, leaf)
    return list(seen.values())


# --- compile ----------------------------------------------------------------------------------


def compile_request(request: MetricRequest, catalog: Catalog, dialect: str) -> Plan:
    """Check `request` against the catalog and build its statements for `dialect`."""
    metrics = tuple(catalog.metric(name) for name in request.metrics)
    if not metrics:
        raise InvalidInputError("Ask for at least one metric.")
    for dim in (*request.group_by, *(f.dimension for f in request.filters)):
        for metric in metrics:
            catalog.dimension(dim, metric)
    if request.grain is not None and request.grain not in GRAINS:
        raise UnknownNameError("grain", request.grain, GRAINS)
    if request.compare is not None and request.compare not in COMPARISONS:
        raise UnknownNameError("comparison", request.compare, COMPARISONS)
    period = request.period
    baseline = None
    windows = [Window.of(period)]
    if request.compare == "previous":
        baseline = period.previous()
    elif request.compare == "last_year":
        baseline = period.last_year()
    if baseline is not None:
        windows.append(Window.of(baseline))

    leaves = _unique(leaf for m in metrics for leaf in leaves_of(m, catalog))
    by_table: dict[str, list[Leaf]] = {}
    for leaf in leaves:
        assert leaf.metric.table is not None
        by_table.setdefault(leaf.metric.table, []).append(leaf)
    bases = {m.name: base_leaf(m, catalog) for m in metrics}

    builder = _Builder(catalog, dialect, request)
    counted = {table: {name: leaf for name, leaf in bases.items() if leaf.metric.table == table}
               for table in by_table}
    dims = request.group_by
    buckets: tuple[Bucket, ...] = ()
    series: dict[tuple[str, str, bool], list[Leaf]] = {}
    if request.grain is not None:
        buckets = series_buckets(period, request.grain)
        for leaf in leaves:
            snap = _is_snapshot(leaf)
            series.setdefault((leaf.metric.table or "", leaf.metric.time_column or "", snap),
                              []).append(leaf)
    # Tables whose totals are folded from their group rows instead of a second scan: every
    # leaf additive, and one rows scan holding every leaf over every window.
    folded = {table for table, table_leaves in by_table.items()
              if all(_additive(leaf) for leaf in table_leaves)
              and (bool(dims) if request.grain is None
                   else len(windows) == 1
                   and [snap for key_table, _, snap in series if key_table == table] == [False])}

    scans: list[Scan] = []
    for table, table_leaves in by_table.items():
        if table not in folded:
            scans.append(builder.scan(table, table_leaves, windows, (), counted=counted[table]))
    if request.grain is not None:
        for (table, time_column, snap), group in series.items():
            if snap:
                bucket_windows = [Window(windows[0].start, _naive_utc(min(b.end, period.query_end)),
                                         windows[0].as_of) for b in buckets]
                scans.append(builder.scan(table, group, bucket_windows, dims, bucket_windows=True))
            else:
                scans.append(builder.scan(table, group, windows[:1], dims,
                                          bucket=(time_column, buckets),
                                          counted=counted[table] if table in folded else None))
    elif dims:
        for table, table_leaves in by_table.items():
            scans.append(builder.scan(table, table_leaves, windows, dims,
                                      counted=counted[table] if table in folded else None))
    return Plan(request, metrics, tuple(windows), baseline, buckets, tuple(scans))


def _additive(leaf: Leaf) -> bool:
    """Whether the totals of `leaf` can be folded from its per-group values (sum / min / max)."""
    params = leaf.metric.type_params
    if isinstance(params, SimpleParams):
        return params.agg in ("count", "sum", "min", "max")
    if isinstance(params, ConversionParams):
        return True  # cohort and converted are counts
    return leaf.role == "missing"  # a duration's median / p90 / mean is not additive


def _is_snapshot(leaf: Leaf) -> bool:
    params = leaf.metric.type_params
    return isinstance(params, SimpleParams) and params.snapshot is not None


Conjunct = tuple[str, ColumnElement[bool], bool]  # (identity key, clause, is a time bound)


class _Builder:
    """Builds one scan at a time; keeps the dialect-specific SQL in one place."""

    def __init__(self, catalog: Catalog, dialect: str, request: MetricRequest) -> None:
        self.catalog = catalog
        self.dialect = dialect
        self.request = request

    # -- scan --

    def scan(self, table_name: str, leaves: list[Leaf], windows: Sequence[Window],
             dims: tuple[str, ...], *, counted: dict[str, Leaf] | None = None,
             bucket: tuple[str, tuple[Bucket, ...]] | None = None,
             bucket_windows: bool = False) -> Scan:
        table = metadata.tables[table_name]
        joins = _Joins(table)
        group_columns = [joins.dimension(self.catalog.dimensions[d]).label(f"g{i}")
                         for i, d in enumerate(dims)]
        dim_filters = [joins.dimension(self.catalog.dimensions[f.dimension]).in_(f.values)
                       for f in self.request.filters]

        # (label key, aggregate kind, value expression, conjuncts) per output column.
        specs: list[tuple[tuple[str, int], str, ColumnElement[object] | None, list[Conjunct]]] = []
        for leaf in leaves:
            for index, window in enumerate(windows):
                kind, value, conjuncts = self.leaf(table, leaf, window)
                specs.append(((leaf.id, index), kind, value, conjuncts))
        extra: list[tuple[str, str, ColumnElement[object] | None, list[Conjunct]]] = []
        latest: list[tuple[str, ColumnElement[object], list[Conjunct]]] = []
        for metric_name, leaf in (counted or {}).items():
            _, _, conjuncts = self.leaf(table, leaf, windows[0])
            time_col = table.c[leaf.metric.time_column or ""]
            extra.append((f"rows:{metric_name}", "count", None, conjuncts))
            latest.append((metric_name, time_col, conjuncts))

        all_conjuncts = [c for *_, c in specs] + [c for *_, c in extra]
        common = set.intersection(*({key for key, _, _ in c} for c in all_conjuncts))
        where: list[ColumnElement[bool]] = []
        common_clauses: dict[str, ColumnElement[bool]] = {}
        for conjuncts in all_conjuncts:
            for key, clause, _ in conjuncts:
                if key in common:
                    common_clauses[key] = clause
        where.extend(common_clauses.values())
        # The remaining time bounds of each column, OR-ed: still a range on the bare column.
        ranges: dict[tuple[str, ...], ColumnElement[bool]] = {}
        unbounded = False
        for conjuncts in all_conjuncts:
            own = [(k, c) for k, c, is_time in conjuncts if is_time and k not in common]
            if not own:
                unbounded = True
                break
            ranges.setdefault(tuple(k for k, _ in own), and_(*(c for _, c in own)))
        if ranges and not unbounded:
            where.append(or_(*ranges.values()) if len(ranges) > 1 else next(iter(ranges.values())))
        where.extend(dim_filters)

        columns: list[ColumnElement[object]] = []
        seen: dict[str, str] = {}
        combine: dict[str, str] = {}

        def add(kind: str, value: ColumnElement[object] | None, conjuncts: list[Conjunct],
                value_key: str) -> str:
            residual = [(k, c) for k, c, _ in conjuncts if k not in common]
            identity = f"{kind}|{value_key}|{'&'.join(sorted(k for k, _ in residual))}"
            if identity not in seen:
                label = f"c{len(seen)}"
                seen[identity] = label
                condition = and_(*(c for _, c in residual)) if residual else None
                columns.append(self.aggregate(kind, value, condition).label(label))
                combine[label] = kind
            return seen[identity]

        values: dict[tuple[str, int], str] = {}
        for (leaf_id, index), kind, value, conjuncts in specs:
            values[(leaf_id, index)] = add(kind, value, conjuncts, _value_key(value, leaf_id, kind))
        rows_counted: dict[str, str] = {}
        freshness: dict[str, str] = {}
        for key, kind, value, conjuncts in extra:
            rows_counted[key.split(":", 1)[1]] = add(kind, value, conjuncts,
                                                     _value_key(value, key, kind))
        # Freshness as a scalar subquery over the same rows: the database answers max(time)
        # with one seek on the time index instead of reading the column of every row.
        data_start: dict[str, tuple[str, ...]] = {}
        # Where the table's data starts: the earliest of the catalog's time columns on it
        # (a deals table starts with its first deal created, not its first deal won).
        time_columns = sorted({m.time_column for m in self.catalog.metrics
                               if m.table == table_name and m.time_column})
        spans = self.request.grain is not None or self.request.compare is not None

        def bound(kind: str, time_col: ColumnElement[object], conjuncts: list[Conjunct]) -> str:
            keys = "&".join(sorted(k for k, _, _ in conjuncts))
            identity = f"{kind}|{getattr(time_col, 'name', '')}|{keys}"
            if identity not in seen:
                label = f"c{len(seen)}"
                seen[identity] = label
                columns.append(self.time_bound(table, time_col, conjuncts, kind).label(label))
                combine[label] = kind
            return seen[identity]

        for metric_name, time_col, conjuncts in latest:
            freshness[metric_name] = bound("max", time_col, conjuncts)
            if spans:
                data_start[metric_name] = tuple(bound("min", table.c[c], [])
                                                for c in time_columns)

        group_by: list[ColumnElement[object]] = [c.element for c in group_columns]
        selected: list[ColumnElement[object]] = [*group_columns]
        if bucket is not None:
            time_column, buckets = bucket
            bucket_expr = self.local_bucket(table.c[time_column], buckets)
            selected.append(bucket_expr.label(BUCKET))
            group_by.append(literal_column(BUCKET))
        statement = select(*selected, *columns).select_from(joins.from_clause())
        if where:
            statement = statement.where(*where)
        if group_by:
            statement = statement.group_by(*group_by)
        grouped = bool(dims) or bucket is not None or bucket_windows
        return Scan(table_name, statement, tuple(f"g{i}" for i in range(len(dims))), values,
                    rows_counted, freshness, data_start, bucketed=bucket is not None,
                    bucket_windows=bucket_windows,
                    purpose="rows" if grouped else "total",
                    totals_from_rows=grouped and counted is not None,
                    combine=combine if grouped and counted is not None else {})

    def time_bound(self, table: Table, time_col: ColumnElement[object],
                   conjuncts: list[Conjunct], kind: str) -> ColumnElement[object]:
        """`(SELECT max|min(time) FROM table ... WHERE <conjuncts> AND <filters>)`, uncorrelated."""
        joins = _Joins(table)
        dim_filters = [joins.dimension(self.catalog.dimensions[f.dimension]).in_(f.values)
                       for f in self.request.filters]
        edge = func.max(time_col) if kind == "max" else func.min(time_col)
        inner = (select(edge).select_from(joins.from_clause())
                 .where(*(c for _, c, _ in conjuncts), *dim_filters))
        # The outer statement reads the same table: keep it in this FROM, not correlated.
        return inner.correlate(None).scalar_subquery()

    # -- leaves --

    def leaf(self, table: Table, leaf: Leaf, window: Window) -> tuple[
            str, ColumnElement[object] | None, list[Conjunct]]:
        """(aggregate kind, value expression, conjuncts) of `leaf` counted over `window`."""
        metric = leaf.metric
        params = metric.type_params
        time_col = table.c[metric.time_column or ""]
        if isinstance(params, SimpleParams):
            conjuncts = [_filter(table, f) for f in params.filters]
            if params.snapshot is None:
                conjuncts = _range(time_col, window) + conjuncts
            else:
                conjuncts = self.snapshot(table, time_col, params, window) + conjuncts
            value = table.c[params.column] if params.column else None
            return params.agg, value, conjuncts
        if isinstance(params, ConversionParams):
            conjuncts = _range(time_col, window) + [_filter(table, f) for f in params.filters]
            if leaf.role == "cohort":
                return "count", None, conjuncts
            converted = table.c[params.converted_column]
            conjuncts = conjuncts + [
                (f"nn:{converted.name}", converted.is_not(None), False),
                (f"lt:{converted.name}:{window.as_of.isoformat()}",
                 converted < literal(window.as_of, DateTime()), False),
            ]
            if params.window_days is not None:
                seconds = self.seconds_between(time_col, converted)
                conjuncts.append((f"win:{params.window_days}",
                                  seconds <= params.window_days * 86400.0, False))
            return "count", None, conjuncts
        assert isinstance(params, DurationParams)
        conjuncts = _range(time_col, window) + [_filter(table, f) for f in params.filters]
        end = self.duration_end(table, params, window)
        if leaf.role == "missing":
            return "count", None, conjuncts + [(f"noend:{window.as_of.isoformat()}",
                                               end.is_(None), False)]
        seconds = self.seconds_between(table.c[params.start], end)
        kind = {"median": "p50", "p90": "p90", "mean": "average"}[params.statistic]
        return kind, seconds, conjuncts

    def snapshot(self, table: Table, time_col: ColumnElement[object], params: SimpleParams,
                 window: Window) -> list[Conjunct]:
        """Rows open at the window's end: started before it, not ended by then (and idle)."""
        snap = params.snapshot
        assert snap is not None
        end = literal(window.end, DateTime())
        until = table.c[snap.open_until]
        stamp = window.end.isoformat()
        out: list[Conjunct] = [
            (f"snap<:{time_col.name}:{stamp}", time_col < end, True),  # type: ignore[attr-defined]
            (f"open:{until.name}:{stamp}", or_(until.is_(None), until >= end), False),
        ]
        if snap.idle_days is not None and snap.activity is not None:
            since = window.end - dt.timedelta(days=snap.idle_days)
            since_bind = literal(since, DateTime())
            out.append((f"idle<:{time_col.name}:{since.isoformat()}", time_col < since_bind, False))
            act = metadata.tables[snap.activity.table].alias("idle_activity")
            recent = and_(act.c[snap.activity.key] == table.c.id,
                          act.c[snap.activity.time] >= since_bind, act.c[snap.activity.time] < end,
                          *(_filter(act, f)[1] for f in snap.activity.filters))
            out.append((f"idle:{stamp}:{snap.idle_days}", ~exists().where(recent), False))
        return out

    def duration_end(self, table: Table, params: DurationParams,
                     window: Window) -> ColumnElement[object]:
        if params.end is not None:
            end_col = table.c[params.end]
            # An end after the as-of instant has not happened yet.
            return case((end_col < literal(window.as_of, DateTime()), end_col), else_=null())
        first = params.end_first_of
        assert isinstance(first, ActivityCheck)
        act = metadata.tables[first.table].alias("first_touch")
        return (
            select(func.min(act.c[first.time]))
            .where(act.c[first.key] == table.c.id,
                   act.c[first.time] < literal(window.as_of, DateTime()),
                   *(_filter(act, f)[1] for f in first.filters))
            .scalar_subquery()
        )

    # -- dialect-specific pieces --

    def seconds_between(self, start: ColumnElement[object],
                        end: ColumnElement[object]) -> ColumnElement[float]:
        if self.dialect == "sqlite":
            # julianday() carries ~50 µs of float noise at today's dates: round to the ms.
            return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)
        return cast(extract("epoch", end - start), Float)  # type: ignore[operator]

    def aggregate(self, kind: str, value: ColumnElement[object] | None,
                  condition: ColumnElement[bool] | None) -> ColumnElement[object]:
        if kind == "count" and value is None:
            if condition is None:
                return func.count()
            return func.count(case((condition, literal_column("1"))))
        assert value is not None
        expr = value if condition is None else case((condition, value))
        if kind == "count":
            return func.count(expr)
        if kind == "sum":
            return func.sum(expr)
        if kind == "average":
            return func.avg(expr)
        if kind == "count_distinct":
            return func.count(expr.distinct())
        if kind in ("min", "max"):
            return getattr(func, kind)(expr)
        fraction = {"p50": 0.5, "p90": 0.9}[kind]
        if self.dialect == "postgresql":
            return func.percentile_cont(fraction).within_group(cast(expr, Float))
        return getattr(func, PERCENTILE_FUNCTION)(expr, fraction)

    def local_bucket(self, column: ColumnElement[object],
                     buckets: tuple[Bucket, ...]) -> ColumnElement[str]:
        """The local start date ('YYYY-MM-DD') of the day / week / month `column` falls in."""
        period = self.request.period
        grain = self.request.grain
        week_start = period.calendar.week_start if period.calendar is not None else 0
        tz_name = period.timezone
        if self.dialect == "postgresql":
            if not _TZ_NAME.match(tz_name):
                raise InvalidInputError(f"Unusable time zone name '{tz_name}'.")
            # Inlined (validated) so GROUP BY repeats the very same expression.
            local = func.timezone(literal_column(f"'{tz_name}'"),
                                  func.timezone(literal_column("'UTC'"), column))
            if grain == "week":
                shift = (7 - week_start) % 7
                interval = literal_column(f"INTERVAL '{shift} days'")
                start = func.date_trunc(literal_column("'week'"), local + interval) - interval
            else:
                start = func.date_trunc(literal_column(f"'{grain}'"), local)
            return func.to_char(start, literal_column("'YYYY-MM-DD'"))
        # SQLite has no time zones: shift by the UTC offset in force at each instant; the offset
        # changes at the DST transitions inside the period, found here in Python.
        first, last = buckets[0].start, buckets[-1].end
        changes = utc_offsets(ZoneInfo(tz_name) if tz_name != "UTC" else ZoneInfo("UTC"),
                              _naive_utc(first), _naive_utc(last))
        if len(changes) == 1:
            modifier: ColumnElement[object] = literal_column(f"'{changes[0][1]:+d} seconds'")
        else:
            whens = [(column < literal(at, DateTime()), literal_column(f"'{prev:+d} seconds'"))
                     for (at, _), (_, prev) in zip(changes[1:], changes[:-1], strict=True)]
            modifier = case(*whens, else_=literal_column(f"'{changes[-1][1]:+d} seconds'"))
        # No shift at all in UTC (or any fixed zero offset): leave the column as it is.
        local = column if len(changes) == 1 and changes[0][1] == 0 else func.datetime(
            column, modifier)
        if grain == "day":
            return func.date(local)
        if grain == "month":
            return func.strftime(literal_column("'%Y-%m-01'"), local)
        sqlite_weekday = (week_start + 1) % 7  # SQLite: 0 = Sunday
        return func.date(local, literal_column("'-6 days'"),
                         literal_column(f"'weekday {sqlite_weekday}'"))


def _value_key(value: ColumnElement[object] | None, fallback: str, kind: str) -> str:
    if value is None:
        return "*"
    if hasattr(value, "table") and hasattr(value, "name"):
        return f"{value.table.name}.{value.name}"  # a plain column
    return fallback


def _range(column: ColumnElement[object], window: Window) -> list[Conjunct]:
    name = getattr(column, "name", "t")
    return [
        (f">=:{name}:{window.start.isoformat()}",
         column >= literal(window.start, DateTime()), True),
        (f"<:{name}:{window.end.isoformat()}", column < literal(window.end, DateTime()), True),
    ]


def _filter(table: Table, f: ColumnFilter) -> Conjunct:
    column = table.c[f.column]
    key = f"f:{table.name}.{f.column}:{f.op}:{f.value!r}"
    if f.op == "eq":
        clause = column.is_(None) if f.value is None else column == f.value
    elif f.op == "ne":
        clause = column.is_not(None) if f.value is None else column != f.value
    elif f.op == "in":
        clause = column.in_(list(f.value))  # type: ignore[call-overload]
    elif f.op == "not_in":
        clause = column.not_in(list(f.value))  # type: ignore[call-overload]
    elif f.op == "is_null":
        clause = column.is_(None)
    else:
        assert f.op == "not_null", f.op
        clause = column.is_not(None)
    return key, clause, False


class _Joins:
    """The LEFT joins a scan needs to reach its dimensions, each made once."""

    def __init__(self, base: Table) -> None:
        self.base = base
        self.aliases: dict[str, object] = {}
        self.order: list[tuple[object, ColumnElement[bool]]] = []

    def column(self, path: ColumnPath) -> ColumnElement[object]:
        current: object = self.base
        chain = ""
        for hop in path.hops:
            chain = f"{chain}.{hop.alias}" if chain else hop.alias
            if chain not in self.aliases:
                alias = metadata.tables[hop.table].alias(f"d_{chain.replace('.', '_')}")
                on = alias.c.id == current.c[hop.column]  # type: ignore[attr-defined]
                self.aliases[chain] = alias
                self.order.append((alias, on))
            current = self.aliases[chain]
        return current.c[path.column]  # type: ignore[attr-defined,no-any-return]

    def dimension(self, dimension: Dimension) -> ColumnElement[object]:
        paths = dimension.paths[self.base.name]
        columns = [self.column(p) for p in paths]
        return columns[0] if len(columns) == 1 else func.coalesce(*columns)

    def from_clause(self) -> object:
        joined: object = self.base
        for alias, on in self.order:
            joined = joined.outerjoin(alias, on)  # type: ignore[attr-defined]
        return joined


# --- calendars --------------------------------------------------------------------------------


def series_buckets(period: Period, grain: str) -> tuple[Bucket, ...]:
    """The local days / weeks / months covering [period.start, period.query_end)."""
    tz = period.start.tzinfo
    assert tz is not None
    week_start = period.calendar.week_start if period.calendar is not None else 0
    day = period.start.date()
    if grain == "week":
        day -= dt.timedelta(days=(day.weekday() - week_start) % 7)
    elif grain == "month":
        day = day.replace(day=1)
    step = {"day": relativedelta(days=1), "week": relativedelta(weeks=1),
            "month": relativedelta(months=1)}[grain]
    end_utc = _naive_utc(period.query_end)
    out: list[Bucket] = []
    while True:
        start = _midnight(period, day)
        if _naive_utc(start) >= end_utc and out:
            break
        following = day + step
        out.append(Bucket(day.isoformat(), start, _midnight(period, following)))
        day = following
        if len(out) > 5000:
            raise InvalidInputError("That series has too many buckets; use a coarser grain.")
        if _naive_utc(start) >= end_utc:
            break
    return tuple(out)


def _midnight(period: Period, day: dt.date) -> dt.datetime:
    if period.calendar is not None:
        return period.calendar.midnight(day)
    return dt.datetime(day.year, day.month, day.day, tzinfo=period.start.tzinfo)


def utc_offsets(tz: ZoneInfo, start: dt.datetime,
                end: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """[(naive UTC instant, offset seconds from then on)] covering [start, end)."""

    def offset(at: dt.datetime) -> int:
        moment = at.replace(tzinfo=dt.UTC).astimezone(tz)
        delta = moment.utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    out = [(start, offset(start))]
    day = dt.timedelta(days=1)
    current = start
    while current < end:
        following = current + day
        if offset(following) != out[-1][1]:
            low, high = current, following  # the change is in (low, high]
            while (high - low) > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == out[-1][1]:
                    low = middle
                else:
                    high = middle
            high = high.replace(microsecond=0)
            out.append((high, offset(high)))
        current = following
    return out


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


__all__ = ["BUCKET", "Bucket", "Leaf", "Plan", "Scan", "Window", "base_leaf", "compile_request",
           "leaves_of", "series_buckets", "utc_offsets"]
