"""Metric definitions as frozen values: what the YAML files say, checked and normalised.

A metric is one of five types (in the spirit of dbt MetricFlow):
- simple: one aggregation (count, sum, average, count_distinct, min, max) over one table,
  optionally filtered, counted over the rows whose time column falls in the period; or, with
  `snapshot`, counted over the rows *open* at the period end (e.g. open deals);
- ratio: numerator metric / denominator metric;
- derived: arithmetic over other metrics (`revenue_won / deals_won`);
- conversion: of the rows (entities) whose time column falls in the period, how many reached a
  second timestamp by the period's as-of instant, optionally within a window;
- duration: median / p90 / mean time between two timestamps of the rows in the period; the end
  may be a column or the first matching row of another table (first outbound touch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

METRIC_TYPES = ("simple", "ratio", "derived", "conversion", "duration")
AGGREGATIONS = ("count", "sum", "average", "count_distinct", "min", "max")
UNITS = ("count", "currency", "fraction", "hours", "days")
DIRECTIONS = ("higher_is_better", "lower_is_better")
FILTER_OPS = ("eq", "ne", "in", "not_in", "is_null", "not_null")
STATISTICS = ("median", "p90", "mean")
# Seconds per unit, for duration metrics.
UNIT_SECONDS = {"hours": 3600.0, "days": 86400.0}


@dataclass(frozen=True)
class ColumnFilter:
    """A condition on a column of the metric's own table: `is_won eq true`."""

    column: str
    op: str
    value: object = None


@dataclass(frozen=True)
class ActivityCheck:
    """Rows of another table that point at the metric's row: `activities.deal_id = deals.id`."""

    table: str
    key: str  # the foreign-key column in `table`
    time: str  # its timestamp column
    filters: tuple[ColumnFilter, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """Count rows open at the period end: started before it and not ended by then.

    `idle_days` further keeps only rows with no `activity` in the last N days before the end
    (and started at least N days before it): "stalled".
    """

    open_until: str
    idle_days: int | None = None
    activity: ActivityCheck | None = None


@dataclass(frozen=True)
class SimpleParams:
    table: str
    agg: str
    column: str | None = None
    filters: tuple[ColumnFilter, ...] = ()
    snapshot: Snapshot | None = None


@dataclass(frozen=True)
class RatioParams:
    numerator: str
    denominator: str


@dataclass(frozen=True)
class DerivedParams:
    expr: str
    metrics: tuple[str, ...]  # the metric names the expression uses


@dataclass(frozen=True)
class ConversionParams:
    """Of the rows created in the period, those whose `converted_column` is set by the as-of
    instant (and, with a window, at most `window_days` after the time column)."""

    table: str
    converted_column: str
    window_days: float | None = None
    calculation: str = "rate"  # "rate" | "count"
    filters: tuple[ColumnFilter, ...] = ()


@dataclass(frozen=True)
class DurationParams:
    """Time from `start` (a column) to `end` (a column) or to the first row of `end_first_of`."""

    table: str
    start: str
    statistic: str
    end: str | None = None
    end_first_of: ActivityCheck | None = None
    filters: tuple[ColumnFilter, ...] = ()
    # Report the rows in the period that have no end yet (e.g. untouched leads) as "missing".
    report_missing: bool = False


TypeParams = SimpleParams | RatioParams | DerivedParams | ConversionParams | DurationParams


@dataclass(frozen=True)
class MetricDefinition:
    """One metric of the catalog. `table` is the base table (None for ratio/derived metrics
    over several tables); `additive` says whether parts (groups) add up to the whole."""

    name: str
    label: str
    description: str
    synonyms: tuple[str, ...]
    type: str
    type_params: TypeParams
    unit: str
    format: str
    direction: str
    time_column: str | None
    dimensions: tuple[str, ...]
    public: bool = True
    additive: bool = False
    table: str | None = None
    source_file: Path | None = field(default=None, compare=False)

    def format_value(self, value: float | None) -> str:
        """The value as people read it: `63.1 %`, `10,005,534`, `45.0 days`."""
        if value is None:
            return "n/a"
        text = format(value, self.format)
        if self.unit == "fraction" and not self.format.endswith("%"):
            return text
        if self.format.endswith("%"):
            return text[:-1] + " %"
        if self.unit in UNIT_SECONDS:
            return f"{text} {self.unit}"
        return text
