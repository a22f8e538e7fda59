"""Change drivers: why did a metric move between a period and its baseline?

For each allowed dimension the metric is queried grouped by that dimension over both
periods (the ordinary query API, so every figure comes from the same compiled SQL as any
other answer), and the change is split over the dimension's values:

- **additive metrics** (counts, sums): a segment's contribution is its own change,
  `value_now - value_before`; the contributions add up to the whole change.
- **ratio metrics** (win rate, conversion rate, and derived `a / b` metrics such as the
  average deal size: numerator / denominator): the overall rate
  is the weighted mean of the segment rates, `R = sum(w_i * r_i)` with `w_i` the segment's
  share of the denominator. Each segment's part of the change splits symmetrically
  (Shapley) into a *rate effect* `(r1 - r0) * (w0 + w1) / 2` — the segment got better or
  worse — and a *mix effect* `(w1 - w0) * ((r0 + r1) / 2 - R_avg)` — the segment grew or
  shrank, which moves the overall rate only as far as its rate differs from the average
  `R_avg = (R0 + R1) / 2`. The identity `w1 r1 - w0 r0 = rate + mix + (w1 - w0) R_avg`
  and `sum(w1 - w0) = 0` make the per-segment effects add up EXACTLY to `R1 - R0`.
  A segment present in one period only takes its rate from the period where it exists.

Rows that the group-by cannot place (e.g. a NULL dimension value the query leaves out)
are kept as an "(unassigned)" segment, so shares always add up to the whole change.

Dimensions are ranked by how surely they *explain* the change. Under "nothing special
happened" every segment moves in proportion to its size: segment i would contribute
`w_i * change`. A segment's *excess* is its contribution minus that; divided by the
segment's sampling noise (Poisson for counts, compound Poisson for sums, binomial for
rates) it is a z-score. A dimension's `score` is the evidence that its largest z is not
chance: -log10 of the Bonferroni-adjusted p-value (k segments, two-sided), so 0 means
"could be chance" and 2 means p = 0.01 — a dimension with many small segments (reps,
accounts) does not win just because one of them moved by luck. `concentration` (0..1) is
the share of the change that is out of proportion to segment sizes, ignoring noise; it
breaks ties.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from kpi_engine.catalog import Catalog, MetricDefinition
from kpi_engine.catalog.model import DerivedParams
from kpi_engine.errors import InvalidInputError, KpiUserError, UnknownNameError
from kpi_engine.periods import Period
from kpi_engine.query import query, run
from kpi_engine.specs import MetricRequest, MetricValue

logger = logging.getLogger(__name__)

UNASSIGNED = "(unassigned)"
COMPARE_CHOICES = ("previous", "last_year")
# Sums below this are float noise, not a residual worth a segment of its own.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Contributor:
    """One value of one dimension and its part of the change.

    For additive metrics `current`/`baseline` are the segment's values; for ratio metrics
    they are the segment's rates and `current_weight`/`baseline_weight` its shares of the
    denominator, and `contribution == rate_effect + mix_effect`.
    """

    dimension: str
    value: str
    current: float | None
    baseline: float | None
    contribution: float  # this segment's part of the total change (metric units; ratio: fraction)
    share: float | None  # contribution / total change; None when the total did not change
    rate_effect: float | None = None
    mix_effect: float | None = None
    current_weight: float | None = None
    baseline_weight: float | None = None


@dataclass(frozen=True)
class DimensionBreakdown:
    """The change split over the values of one dimension, largest contributions first."""

    dimension: str
    contributors: tuple[Contributor, ...]
    score: float  # -log10 of the adjusted p-value of the most surprising segment (0 = chance)
    concentration: float  # 0..1: how much of the change is out of proportion to segment sizes

    @property
    def chance(self) -> float:
        """The adjusted p-value behind `score`: how likely such a move is by chance alone."""
        return float(10 ** -self.score)

    @property
    def total_rate_effect(self) -> float | None:
        effects = [c.rate_effect for c in self.contributors if c.rate_effect is not None]
        return sum(effects) if effects else None

    @property
    def total_mix_effect(self) -> float | None:
        effects = [c.mix_effect for c in self.contributors if c.mix_effect is not None]
        return sum(effects) if effects else None


@dataclass(frozen=True)
class ChangeExplanation:
    """Why `metric` changed between `period` and `baseline_period`, dimension by dimension."""

    metric: str
    label: str
    unit: str
    direction: str
    method: str  # "additive" | "ratio"
    period: Period
    baseline_period: Period
    current: float | None
    baseline: float | None
    # Absolute. For rates (unit "fraction") a difference of fractions: -0.012 is -1.2 pp
    # (Comparison.change from the query API says -1.2 for the same move).
    change: float | None
    relative_change: float | None
    breakdowns: tuple[DimensionBreakdown, ...]  # the dimension that explains the most first

    @property
    def top_driver(self) -> Contributor | None:
        """The largest contributor of the most explanatory dimension."""
        for breakdown in self.breakdowns:
            if breakdown.contributors:
                return breakdown.contributors[0]
        return None


@dataclass(frozen=True)
class _Segment:
    value: str
    current: float  # additive: value; ratio: numerator
    baseline: float
    current_den: float = 0.0
    baseline_den: float = 0.0


def explain_change(
    engine: Engine,
    catalog: Catalog,
    metric: str,
    period: Period,
    *,
    compare: str = "previous",
    dimensions: Sequence[str] | None = None,
) -> ChangeExplanation:
    """Split the change of `metric` from its baseline period over each dimension.

    `compare` is "previous" (the period before, same elapsed length) or "last_year";
    `dimensions` defaults to every dimension the metric allows. Raises a KpiUserError for an
    unknown metric or dimension, or for a metric that neither adds up nor is a ratio.
    """
    definition = catalog.metric(metric)
    compare = compare.replace("-", "_")
    if compare not in COMPARE_CHOICES:
        raise InvalidInputError(
            f"Unknown comparison '{compare}': use one of {', '.join(COMPARE_CHOICES)}."
        )
    baseline_period = period.previous() if compare == "previous" else period.last_year()
    allowed = tuple(definition.dimensions)
    chosen = tuple(dimensions) if dimensions else allowed
    for name in chosen:
        if name not in allowed:
            raise UnknownNameError(f"dimension for {definition.name}", name, allowed)

    fraction = _fraction_of(definition, catalog)
    current_total, _, counted = _figures(engine, catalog, definition, fraction, period)
    baseline_total, _, counted0 = _figures(engine, catalog, definition, fraction,
                                           baseline_period)
    method = _method(definition.name, bool(definition.additive), current_total, baseline_total)
    noise = _NoiseModel.of(method, definition.unit, current_total, baseline_total,
                           counted + counted0)

    breakdowns = []
    for name in chosen:
        # One request per dimension: the engine scans both periods at once and hands each
        # group row its baseline figure.
        _, rows, _ = _figures(engine, catalog, definition, fraction, period, (name,), compare)
        segments = _segments(name, rows, current_total, baseline_total, method)
        breakdowns.append(_breakdown(name, segments, method, noise))
    breakdowns.sort(key=lambda b: (-b.score, -b.concentration, b.dimension))

    current = current_total.value
    baseline = baseline_total.value
    change = None if current is None or baseline is None else current - baseline
    relative = None if change is None or not baseline else change / abs(baseline)
    return ChangeExplanation(
        metric=definition.name, label=definition.label, unit=definition.unit,
        direction=definition.direction, method=method, period=period,
        baseline_period=baseline_period, current=current, baseline=baseline, change=change,
        relative_change=relative, breakdowns=tuple(breakdowns),
    )


def _fraction_of(definition: MetricDefinition, catalog: Catalog) -> tuple[str, str] | None:
    """(numerator, denominator) metric names of a derived `a / b` over additive metrics."""
    params = definition.type_params
    if not isinstance(params, DerivedParams):
        return None
    match = re.fullmatch(r"\s*(\w+)\s*/\s*(\w+)\s*", params.expr)
    if match is None or not all(catalog.metric(n).additive for n in match.groups()):
        return None
    return match.group(1), match.group(2)


def _figures(
    engine: Engine,
    catalog: Catalog,
    definition: MetricDefinition,
    fraction: tuple[str, str] | None,
    period: Period,
    group_by: tuple[str, ...] = (),
    compare: str | None = None,
) -> tuple[MetricValue, tuple[MetricValue, ...], int]:
    """The total, the group rows and the rows counted; a derived `a / b` is asked as its two
    parts (one request, one scan) and returned with numerator and denominator filled in."""
    if fraction is None:
        result = query(engine, catalog, definition.name, period, group_by=group_by,
                       compare=compare)
        return result.total, result.rows, result.provenance.rows_counted
    request = MetricRequest.create(fraction, period, group_by=group_by, compare=compare)
    top, bottom = run(engine, catalog, request)
    bottoms = {row.group: row for row in bottom.rows}
    rows = tuple(_quotient(definition.name, n, bottoms.get(n.group)) for n in top.rows)
    missing = [row for group, row in bottoms.items() if group not in {r.group for r in rows}]
    rows += tuple(_quotient(definition.name, None, d) for d in missing)
    total = _quotient(definition.name, top.total, bottom.total)
    return total, rows, bottom.provenance.rows_counted


def _quotient(metric: str, top: MetricValue | None, bottom: MetricValue | None) -> MetricValue:
    def parts(n: MetricValue | None, d: MetricValue | None) -> tuple[float, float]:
        return (float(n.value or 0.0) if n else 0.0), (float(d.value or 0.0) if d else 0.0)

    num, den = parts(top, bottom)
    before = None
    if (top and top.baseline) or (bottom and bottom.baseline):
        b_num, b_den = parts(top.baseline if top else None, bottom.baseline if bottom else None)
        before = MetricValue(metric, b_num / b_den if b_den else None, numerator=b_num,
                             denominator=b_den)
    group = top.group if top else bottom.group if bottom else ()
    return MetricValue(metric, num / den if den else None, group, numerator=num,
                       denominator=den, baseline=before)


def _method(metric: str, additive: bool, now: MetricValue, before: MetricValue) -> str:
    if now.denominator is not None or before.denominator is not None:
        return "ratio"
    if additive:
        return "additive"
    raise KpiUserError(
        f"'{metric}' neither adds up over segments nor is a ratio (e.g. a median), so its "
        "change cannot be split into drivers. Try it grouped by a dimension with "
        "`kpibot metric --by` instead."
    )


def _group_value(row: MetricValue, dimension: str) -> str:
    for name, value in row.group:
        if name == dimension:
            return "(none)" if value is None else str(value)
    return UNASSIGNED


def _parts(row: MetricValue, method: str) -> tuple[float, float]:
    """(amount, denominator) of a row: its value for additive metrics, n/d for ratios."""
    if method == "ratio":
        return float(row.numerator or 0.0), float(row.denominator or 0.0)
    return float(row.value or 0.0), 0.0


def _segments(
    dimension: str,
    rows: Sequence[MetricValue],
    now_total: MetricValue,
    before_total: MetricValue,
    method: str,
) -> list[_Segment]:
    amounts: dict[str, list[float]] = {}  # value -> [cur, base, cur_den, base_den]
    for row in rows:
        slot = amounts.setdefault(_group_value(row, dimension), [0.0, 0.0, 0.0, 0.0])
        for offset, figure in ((0, row), (1, row.baseline)):
            if figure is not None:
                amount, den = _parts(figure, method)
                slot[offset] += amount
                slot[offset + 2] += den
    # Whatever the segments do not cover of the totals becomes one more segment.
    totals = [0.0, 0.0, 0.0, 0.0]
    for offset, total in ((0, now_total), (1, before_total)):
        totals[offset], totals[offset + 2] = _parts(total, method)
    residual = [totals[i] - sum(s[i] for s in amounts.values()) for i in range(4)]
    if any(abs(r) > _EPSILON * max(1.0, abs(t)) for r, t in zip(residual, totals, strict=True)):
        slot = amounts.setdefault(UNASSIGNED, [0.0, 0.0, 0.0, 0.0])
        for i in range(4):
            slot[i] += residual[i]
    return [_Segment(value, *parts) for value, parts in amounts.items()]


def _breakdown(dimension: str, segments: list[_Segment], method: str,
               noise_model: _NoiseModel) -> DimensionBreakdown:
    if method == "ratio":
        contributors, weights = _ratio_contributors(dimension, segments)
    else:
        contributors, weights = _additive_contributors(dimension, segments)
    if not contributors:
        return DimensionBreakdown(dimension, (), 0.0, 0.0)
    change = sum(c.contribution for c in contributors)
    excess = [c.contribution - w * change for c, w in zip(contributors, weights, strict=True)]
    scale = sum(abs(c.contribution) for c in contributors) + abs(change)
    concentration = sum(abs(x) for x in excess) / scale if scale > _EPSILON else 0.0
    noise = [noise_model.of_segment(s, w) for s, w in zip(segments, weights, strict=True)]
    surprise = max((abs(x) / n for x, n in zip(excess, noise, strict=True)), default=0.0)
    # Two-sided p-value of the largest z among k segments, Bonferroni-adjusted.
    p_value = min(1.0, len(segments) * math.erfc(surprise / math.sqrt(2)))
    score = -math.log10(max(p_value, 1e-300)) + 0.0  # + 0.0: no negative zero
    ranked = sorted(contributors, key=lambda c: (-abs(c.contribution), c.value))
    return DimensionBreakdown(dimension, tuple(ranked), score, concentration)


@dataclass(frozen=True)
class _NoiseModel:
    """How much a segment's contribution moves by chance alone.

    Additive: compound Poisson, sqrt((|v0| + |v1|) * m) with m the average amount per row
    counted (1 for counts). Fractions: the binomial error of the segment's rate change,
    smoothed so an empty or tiny segment counts as very noisy, times its weight. Other
    ratios (an average deal size): the error of a mean whose items spread about as much as
    the overall average.
    """

    method: str
    bounded: bool
    unit_amount: float  # additive: average amount per row; ratio: pooled average ratio

    @classmethod
    def of(cls, method: str, unit: str, now: MetricValue, before: MetricValue,
           rows_counted: int) -> _NoiseModel:
        if method == "ratio":
            num = (now.numerator or 0.0) + (before.numerator or 0.0)
            den = (now.denominator or 0.0) + (before.denominator or 0.0)
            return cls(method, unit == "fraction", abs(num / den) if den else 0.0)
        amount = abs(now.value or 0.0) + abs(before.value or 0.0)
        return cls(method, False, amount / rows_counted if rows_counted else 1.0)

    def of_segment(self, segment: _Segment, weight: float) -> float:
        if self.method == "ratio":
            inverse_sizes = 1 / (segment.baseline_den + 0.5) + 1 / (segment.current_den + 0.5)
            if self.bounded:
                trials = segment.baseline_den + segment.current_den
                rate = (segment.baseline + segment.current + 0.5) / (trials + 1.0)
                spread = rate * (1 - rate)
            else:
                spread = self.unit_amount ** 2
            return max(weight * math.sqrt(spread * inverse_sizes), _EPSILON)
        unit = max(self.unit_amount, _EPSILON)
        return math.sqrt((abs(segment.baseline) + abs(segment.current)) * unit + unit * unit)


def _additive_contributors(
    dimension: str, segments: list[_Segment]
) -> tuple[list[Contributor], list[float]]:
    change = sum(s.current - s.baseline for s in segments)
    base_total = sum(s.baseline for s in segments)
    now_total = sum(s.current for s in segments)
    contributors, weights = [], []
    for s in segments:
        contribution = s.current - s.baseline
        contributors.append(Contributor(
            dimension=dimension, value=s.value, current=s.current, baseline=s.baseline,
            contribution=contribution, share=_share(contribution, change),
        ))
        # A proportional change would give each segment its share of the baseline.
        if base_total:
            weights.append(s.baseline / base_total)
        else:
            weights.append(s.current / now_total if now_total else 0.0)
    return contributors, weights


def _ratio_contributors(
    dimension: str, segments: list[_Segment]
) -> tuple[list[Contributor], list[float]]:
    den0 = sum(s.baseline_den for s in segments)
    den1 = sum(s.current_den for s in segments)
    rate0_total = sum(s.baseline for s in segments) / den0 if den0 else None
    rate1_total = sum(s.current for s in segments) / den1 if den1 else None
    if rate0_total is None or rate1_total is None:
        # One period is empty: there is no change to split.
        return [], []
    average = (rate0_total + rate1_total) / 2
    change = rate1_total - rate0_total
    contributors, weights = [], []
    for s in segments:
        w0 = s.baseline_den / den0
        w1 = s.current_den / den1
        r0 = s.baseline / s.baseline_den if s.baseline_den else None
        r1 = s.current / s.current_den if s.current_den else None
        # A segment missing from one period takes its rate from the other (no rate effect).
        r0_used = r0 if r0 is not None else (r1 if r1 is not None else 0.0)
        r1_used = r1 if r1 is not None else r0_used
        rate_effect = (r1_used - r0_used) * (w0 + w1) / 2
        mix_effect = (w1 - w0) * ((r0_used + r1_used) / 2 - average)
        contribution = rate_effect + mix_effect
        contributors.append(Contributor(
            dimension=dimension, value=s.value, current=r1, baseline=r0,
            contribution=contribution, share=_share(contribution, change),
            rate_effect=rate_effect, mix_effect=mix_effect, current_weight=w1,
            baseline_weight=w0,
        ))
        weights.append((w0 + w1) / 2)
    return contributors, weights


def _share(contribution: float, change: float) -> float | None:
    # "+ 0.0" turns a negative zero (0 / -17) into a plain zero.
    return contribution / change + 0.0 if abs(change) > _EPSILON else None
