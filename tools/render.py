"""Formatting engine values into words, recording each figure shown as a `Fact`."""

from __future__ import annotations

import datetime as dt

from kpi_engine.catalog.model import MetricDefinition
from kpi_engine.specs import Comparison, MetricValue, Provenance
from tools.answer import Fact


class FactSheet:
    """Collects the figures an answer shows, so text and facts can never disagree."""

    def __init__(self) -> None:
        self._facts: list[Fact] = []

    def value(self, name: str, metric: MetricDefinition, value: float | None) -> str:
        text = metric.format_value(value)
        self._facts.append(Fact(name, value, text, metric.unit))
        return text

    def number(self, name: str, value: float | None, fmt: str = ",.0f", unit: str = "") -> str:
        text = "n/a" if value is None else format(value, fmt)
        self._facts.append(Fact(name, value, text, unit))
        return text

    def change(self, name: str, metric: MetricDefinition, comparison: Comparison) -> str:
        """ "up 12 (+9.2 %)" or "down 3.1 pp": signs and units follow the metric."""
        change = comparison.change
        if change is None:
            return "no comparable figure"
        direction = "up" if change > 0 else "down" if change < 0 else "flat"
        if comparison.change_unit == "percentage_points":
            magnitude = self.number(f"{name}.change", abs(change), ",.1f", "pp") + " pp"
        else:
            magnitude = self.value(f"{name}.change", metric, abs(change))
        if direction == "flat":
            return "flat"
        text = f"{direction} {magnitude}"
        if comparison.relative_change is not None and comparison.change_unit != "percentage_points":
            pct = self.number(
                f"{name}.relative_change", comparison.relative_change, "+.1%", "fraction"
            )
            text += f" ({pct})"
        return text

    @property
    def facts(self) -> tuple[Fact, ...]:
        return tuple(self._facts)


def group_label(value: MetricValue) -> str:
    return ", ".join(v for _, v in value.group) or "all"


def bucket_label(bucket: dt.datetime, grain: str | None) -> str:
    if grain == "month":
        return bucket.strftime("%b %Y")
    if grain == "week":
        return "week of " + bucket.strftime("%-d %b %Y")
    return bucket.strftime("%a %-d %b %Y")


def source_line(provenance: Provenance) -> str:
    """The context line under a figure: what was counted, when, and the query id to trace it."""
    parts = [
        provenance.metric,
        f"{provenance.period_start:%Y-%m-%d %H:%M} → {provenance.period_end:%Y-%m-%d %H:%M} "
        f"{provenance.timezone}",
    ]
    for f in provenance.filters:
        parts.append(f"{f.dimension} = {' or '.join(f.values)}")
    parts.append(f"{provenance.rows_counted:,} rows")
    if provenance.data_freshness is not None:
        parts.append(f"data up to {provenance.data_freshness:%Y-%m-%d %H:%M} UTC")
    parts.append(f"query {provenance.query_id}")
    return " · ".join(parts)
