"""Query requests and results: the frozen values that cross from the engine to its callers.

Every figure a user sees is one of these values, computed by `kpi_engine.query.run`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kpi_engine.catalog.model import MetricDefinition
from kpi_engine.periods import Period

GRAINS = ("day", "week", "month")
COMPARISONS = ("previous", "last_year")
NONE_LABEL = "(none)"  # the group of rows whose dimension value is missing


@dataclass(frozen=True)
class Filter:
    """Keep only rows whose `dimension` is one of `values`."""

    dimension: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class MetricRequest:
    """One question: metrics over a period, optionally as a series, split, filtered, compared."""

    metrics: tuple[str, ...]  # one or more metric names (several over one table → one scan)
    period: Period
    grain: str | None = None  # "day" | "week" | "month": a series
    group_by: tuple[str, ...] = ()
    filters: tuple[Filter, ...] = ()
    compare: str | None = None  # None | "previous" | "last_year"

    @classmethod
    def create(cls, metrics: str | tuple[str, ...] | list[str], period: Period, *,
               grain: str | None = None, group_by: tuple[str, ...] | list[str] | str = (),
               filters: tuple[Filter, ...] | list[Filter] = (),
               compare: str | None = None) -> MetricRequest:
        """Normalise loose inputs (a single name, lists, "last-year") into a request."""
        names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        groups = (group_by,) if isinstance(group_by, str) else tuple(group_by)
        compare = compare.replace("-", "_") if compare else None
        return cls(names, period, grain, groups, tuple(filters), compare)


@dataclass(frozen=True)
class MetricValue:
    """One figure: the total, or one group / series bucket.

    For ratio and conversion metrics `numerator` / `denominator` hold the parts of the rate.
    `extras` carries figures reported apart, e.g. (("missing", 12.0),) for a duration metric:
    the rows of the period that have no end yet (untouched leads). With a comparison, group
    rows carry the same figure for the baseline period in `baseline`.
    """

    metric: str
    value: float | None
    group: tuple[tuple[str, str], ...] = ()  # (dimension, value)
    bucket: dt.datetime | None = None  # series bucket start, aware, workspace time zone
    numerator: float | None = None
    denominator: float | None = None
    extras: tuple[tuple[str, float], ...] = ()
    baseline: MetricValue | None = None

    def extra(self, name: str) -> float | None:
        return dict(self.extras).get(name)


@dataclass(frozen=True)
class Comparison:
    """The period against a baseline period.

    `change` is value − baseline; for ratio metrics (unit "fraction") it is in percentage
    points (0.631 vs 0.600 → 3.1). `relative_change` is change ÷ |baseline| (as a fraction,
    computed on the raw values), None when the baseline is 0 or missing.
    """

    baseline_period: Period
    baseline: float | None
    change: float | None
    relative_change: float | None
    change_unit: str = "same"  # "same" (the metric's unit) | "percentage_points"


@dataclass(frozen=True)
class Provenance:
    """Where a figure comes from, shown as a context line with every answer."""

    metric: str
    period_start: dt.datetime
    period_end: dt.datetime  # what was counted up to: min(period end, as of)
    timezone: str
    filters: tuple[Filter, ...]
    data_freshness: dt.datetime | None  # the latest timestamp among the rows counted (naive UTC)
    rows_counted: int
    query_id: str  # a short hash of the SQL and its parameters
    # Series and comparisons: the earliest time the metric's table holds (naive UTC); buckets
    # and baselines that end before it have no data rather than a zero.
    data_start: dt.datetime | None = None


@dataclass(frozen=True)
class MetricResult:
    """The answer for one metric of a request."""

    request: MetricRequest
    metric: MetricDefinition
    total: MetricValue
    rows: tuple[MetricValue, ...]  # group-by / series rows
    comparison: Comparison | None
    provenance: Provenance
    sql: str = field(repr=False)

    def predates_data(self, moment: dt.datetime) -> bool:
        """Whether `moment` (aware) is no later than the start of the data (series and
        comparisons only), so that what ends there has no data rather than a zero."""
        start = self.provenance.data_start
        return start is not None and moment <= start.replace(tzinfo=dt.UTC)

    @property
    def baseline_predates_data(self) -> bool:
        return self.comparison is not None and self.predates_data(
            self.comparison.baseline_period.query_end)
