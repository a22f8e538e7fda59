"""Bottlenecks: the few places in the journey that cost the most time, ranked and explained.

Impact is excess wait, in hours, summed over the items of the period:
- a transition `A → B`: each step's wait beyond the reference, the median wait of the same
  transition in the baseline period (or, with no baseline or too few baseline steps, the
  period's own median, so only the slow tail counts);
- speed to lead: each new lead's wait for a first outbound touch beyond the SLA (leads still
  untouched count with their age);
- stalled items: each open case's idle time beyond the stall threshold, credited to the
  costliest transition out of the stage it sits in (or standing alone when there is none);
  CRM processes only: an event log records no open state, so there they are a fact only.
Every bottleneck carries the facts that explain it: the median and its baseline, the segment
that holds most of the excess, the share of handoffs, the stalled items.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from kpi_engine.clock import Clock
from kpi_engine.errors import InvalidPeriodError
from kpi_engine.journey.explain import (
    hours_text,
    percent_text,
    plural,
    segment_text,
    trend_text,
)
from kpi_engine.journey.leads import DEFAULT_SLA_HOURS, fetch_lead_responses, lead_excess_seconds
from kpi_engine.journey.measures import (
    DAY,
    DEFAULT_IDLE_DAYS,
    LoadedJourney,
    load_journey,
)
from kpi_engine.journey.results import (
    Bottleneck,
    BottleneckReport,
    DurationStats,
    JourneyWindow,
    SegmentShare,
)
from kpi_engine.journey.stats import HOUR, grouped_stats, to_epoch
from kpi_engine.periods import Period

DEFAULT_LIMIT = 5
MIN_BASELINE_ITEMS = 5
# A segment is named in the explanation when it holds most of the excess, or when its share
# of the excess is well above its share of the items.
MAJORITY_SHARE = 0.5
OVER_REPRESENTED = 1.5
NOTABLE_HANDOFFS = 0.25
LEAD_DIMENSIONS = ("team", "rep", "source")

# When the average excess per item exceeds this many medians, the explanation names the tail.
LONG_TAIL_FACTOR = 3.0


@dataclass(frozen=True)
class _Candidate:
    kind: str
    step: str
    from_stage: str | None
    to_stage: str | None
    items: int
    median_hours: float | None
    baseline_median_hours: float | None
    reference_hours: float | None
    impact_hours: float
    handoff_share: float | None
    segments: tuple[SegmentShare, ...]
    stalled_items: int = 0
    stalled_oldest_days: float = 0.0
    breaches: int = 0


# What a ranked Bottleneck takes over from its candidate as it is.
_HANDED_ON = tuple(f.name for f in fields(Bottleneck)
                   if f.name in {c.name for c in fields(_Candidate)})


def find_bottlenecks(
    engine: Engine,
    process: str | None = None,
    period: Period | None = None,
    *,
    clock: Clock | None = None,
    dimension: str | None = None,
    baseline: Period | None = None,
    sla_hours: float = DEFAULT_SLA_HOURS,
    idle_days: float = DEFAULT_IDLE_DAYS,
    outcome: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> BottleneckReport:
    """Rank where `process` loses the most time in `period`, compared with a baseline period.

    The baseline defaults to the period before (`period.previous()`); with no period the
    whole history is analysed and each step is compared with its own median. `dimension`
    (team, rep, source, product; resource for event logs) picks the segments the excess is
    split by; by default team for CRM processes and resource for event logs.
    """
    loaded = load_journey(
        engine, process, period, clock=clock, dimension=dimension, outcome=outcome
    )
    base_window = None
    if period is not None:
        base = baseline or period.previous()
        start, end = base.utc_bounds()
        if loaded.window.end is not None and end > loaded.window.end:
            raise InvalidPeriodError(
                f"The baseline ({base.label}) must end before the period ({period.label}) does."
            )
        base_window = JourneyWindow(start=start, end=end, as_of=end, label=base.label)
    leads = base_leads = None
    if loaded.process.entity != "case":
        lead_dim = loaded.dimension if loaded.dimension in LEAD_DIMENSIONS else "team"
        leads = fetch_lead_responses(engine, loaded.window, lead_dim)
        if base_window is not None:
            base_leads = fetch_lead_responses(engine, base_window, lead_dim)
    return rank_bottlenecks(
        loaded,
        base_window,
        leads=leads,
        baseline_leads=base_leads,
        sla_hours=sla_hours,
        idle_days=idle_days,
        limit=limit,
    )


def rank_bottlenecks(
    loaded: LoadedJourney,
    baseline: JourneyWindow | None,
    *,
    leads: pd.DataFrame | None = None,
    baseline_leads: pd.DataFrame | None = None,
    sla_hours: float = DEFAULT_SLA_HOURS,
    idle_days: float = DEFAULT_IDLE_DAYS,
    limit: int = DEFAULT_LIMIT,
) -> BottleneckReport:
    """The ranking from already loaded data (see `find_bottlenecks`)."""
    dimension = loaded.dimension
    candidates, excess_frame = _transition_candidates(loaded, baseline)
    stalls = _stall_candidates(loaded, idle_days)
    stage_stats = loaded.stage_stats
    # An event log has no recorded "open" state (which cases are open is a guess from where
    # cases usually end), so its stalled cases are reported as facts but add no impact.
    credit = loaded.process.entity != "case"
    candidates = _attach_stalls(candidates, stalls, credit=credit)
    if leads is not None:
        lead_dim = dimension if dimension in LEAD_DIMENSIONS else "team"
        candidates.append(_lead_candidate(leads, baseline_leads, sla_hours, lead_dim))
    candidates = [c for c in candidates if c.impact_hours > 0]
    candidates.sort(key=lambda c: (-c.impact_hours, c.step))
    entity = loaded.process.entity
    ranked = []
    chosen = candidates[:limit]
    # Splitting the excess by segment is the costly part: only for the ranked few.
    waits = [(c.from_stage, c.to_stage) for c in chosen if c.kind == "wait"]
    if waits and excess_frame is not None:
        tables = _segment_table(excess_frame, waits)
        chosen = [
            replace(c, segments=_shares(tables.get((c.from_stage, c.to_stage)), dimension))
            if c.kind == "wait" else c
            for c in chosen
        ]
    for rank, candidate in enumerate(chosen, start=1):
        dwell = stage_stats.get(candidate.from_stage) if candidate.kind == "stall" else None
        facts = _facts(candidate, entity, sla_hours, idle_days, dwell)
        ranked.append(
            Bottleneck(rank=rank, facts=facts, explanation="; ".join(facts) + ".",
                       **{name: getattr(candidate, name) for name in _HANDED_ON})
        )
    return BottleneckReport(
        process=loaded.process.name,
        window=loaded.window,
        baseline=baseline,
        dimension=dimension,
        data_freshness=loaded.freshness,
        bottlenecks=tuple(ranked),
    )


def _transition_candidates(
    loaded: LoadedJourney, baseline: JourneyWindow | None
) -> tuple[list[_Candidate], pd.DataFrame | None]:
    """One candidate per transition, and each step's excess wait (for the segment split)."""
    steps = loaded.window_steps
    if steps.empty:
        return [], None
    keys = ["from_stage", "to_stage"]
    period_stats = loaded.transition_stats
    base_stats = {}
    if baseline is not None:
        t = loaded.steps["t"].to_numpy()
        assert baseline.start is not None and baseline.end is not None
        in_base = (
            (t >= to_epoch(baseline.start))
            & (t < to_epoch(baseline.end))
            & loaded.steps["wait"].notna().to_numpy()
        )
        base_steps = loaded.steps[in_base]
        base_stats = grouped_stats(base_steps[keys], base_steps["wait"])
    # Too few baseline steps make a poor yardstick: such steps are held to their own median.
    base_stats = {k: s for k, s in base_stats.items() if s.count >= MIN_BASELINE_ITEMS}
    references = {
        key: (base_stats.get(key) or stats).median_hours for key, stats in period_stats.items()
    }
    frame = steps[keys + ["wait", "handoff", "segment"]].copy()
    reference = pd.Series(references, dtype=np.float64)
    reference.index = pd.MultiIndex.from_tuples(reference.index, names=keys)
    index = pd.MultiIndex.from_arrays(
        [frame["from_stage"].astype(object), frame["to_stage"].astype(object)]
    )
    ref_seconds = reference.reindex(index).to_numpy() * HOUR
    frame["excess"] = np.maximum(0.0, frame["wait"].to_numpy() - ref_seconds)
    grouped = frame.groupby(keys, observed=True)
    excess = grouped["excess"].sum() / HOUR
    handoffs = grouped["handoff"].mean()
    candidates = []
    for key, impact in excess.items():
        stats = period_stats[key]
        base = base_stats.get(key)
        candidates.append(
            _Candidate(
                kind="wait",
                step=f"{key[0]} → {key[1]}",
                from_stage=str(key[0]),
                to_stage=str(key[1]),
                items=stats.count,
                median_hours=stats.median_hours,
                baseline_median_hours=base.median_hours if base is not None else None,
                reference_hours=references[key],
                impact_hours=float(impact),
                handoff_share=float(handoffs[key]),
                segments=(),
            )
        )
    return candidates, frame


def _segment_table(
    frame: pd.DataFrame, transitions: list[tuple[str | None, str | None]]
) -> dict[tuple[str, str], pd.DataFrame]:
    """Per chosen transition: each segment's excess (seconds), count and median wait (hours)."""
    stages = frame["to_stage"].cat.categories
    position = {stage: i for i, stage in enumerate(stages)}
    from_codes = frame["from_stage"].cat.codes.to_numpy().astype(np.int64)
    to_codes = frame["to_stage"].cat.codes.to_numpy().astype(np.int64)
    pair = from_codes * (len(stages) + 1) + to_codes
    wanted = [position[f] * (len(stages) + 1) + position[t] for f, t in transitions]
    frame = frame[np.isin(pair, wanted)]
    frame = frame.assign(
        from_stage=frame["from_stage"].astype(object),
        to_stage=frame["to_stage"].astype(object),
        segment=frame["segment"].astype(object),
    )
    out: dict[tuple[str, str], pd.DataFrame] = {}
    for key, part in frame.groupby(["from_stage", "to_stage"]):
        out[(str(key[0]), str(key[1]))] = _segment_rows(part)
    return out


def _segment_rows(members: pd.DataFrame) -> pd.DataFrame:
    """Excess, item count and median wait per segment of `members`."""
    segment = members["segment"].astype(object)
    excess = members.groupby(segment)["excess"].sum()
    stats = grouped_stats(segment, members["wait"])
    table = pd.DataFrame(
        {
            "excess": excess,
            "items": [stats[k].count if k in stats else 0 for k in excess.index],
            "median": [stats[k].median_hours if k in stats else None for k in excess.index],
        },
        index=excess.index,
    )
    return table


def _shares(table: pd.DataFrame | None, dimension: str) -> tuple[SegmentShare, ...]:
    if table is None or table.empty or float(table["excess"].sum()) <= 0:
        return ()
    total = float(table["excess"].sum())
    shares = [
        SegmentShare(
            dimension=dimension,
            value=str(value),
            items=int(items),
            median_hours=None if pd.isna(median) else float(median),
            excess_hours=float(excess) / HOUR,
            share=float(excess) / total,
        )
        for value, excess, items, median in zip(
            table.index, table["excess"], table["items"], table["median"], strict=True
        )
    ]
    return tuple(sorted(shares, key=lambda s: (-s.excess_hours, s.value)))


def _segments(members: pd.DataFrame, dimension: str) -> tuple[SegmentShare, ...]:
    """How a candidate's excess splits over segments, largest first."""
    if members.empty:
        return ()
    return _shares(_segment_rows(members), dimension)


def _stall_candidates(loaded: LoadedJourney, idle_days: float) -> list[_Candidate]:
    cases = loaded.cases
    if cases.empty:
        return []
    open_cases = cases[~cases["closed"].to_numpy().astype(bool)]
    idle = to_epoch(loaded.window.as_of) - open_cases["idle_from"].to_numpy(dtype=np.float64)
    stalled = open_cases[idle >= idle_days * DAY].copy()
    stalled["wait"] = idle[idle >= idle_days * DAY]
    stalled["excess"] = stalled["wait"] - idle_days * DAY
    candidates = []
    for stage, members in stalled.groupby("last_stage", observed=True):
        candidates.append(
            _Candidate(
                kind="stall",
                step=f"Stalled in {stage}",
                from_stage=str(stage),
                to_stage=None,
                items=len(members),
                median_hours=float(np.median(members["wait"])) / HOUR,
                baseline_median_hours=None,
                reference_hours=idle_days * 24,
                impact_hours=float(members["excess"].sum()) / HOUR,
                handoff_share=None,
                segments=_segments(members, loaded.dimension),
                stalled_items=len(members),
                stalled_oldest_days=float(members["wait"].max()) / DAY,
            )
        )
    return candidates


def _attach_stalls(
    transitions: list[_Candidate], stalls: list[_Candidate], *, credit: bool
) -> list[_Candidate]:
    """Credit a stage's stalled items to the costliest transition out of it, as in "Proposal →
    Negotiation waits 9 days; 31 deals have stalled in Proposal": one place, one entry.

    A stage with no such transition gets an entry of its own. Without `credit` (event logs)
    the stalled items are only a fact of that transition.
    """
    merged = list(transitions)
    for stall in stalls:
        outgoing = [
            (i, c) for i, c in enumerate(merged)
            if c.kind == "wait" and c.from_stage == stall.from_stage and c.impact_hours > 0
        ]
        if not outgoing:
            if credit:
                merged.append(stall)
            continue
        i, top = max(outgoing, key=lambda pair: pair[1].impact_hours)
        merged[i] = replace(
            top,
            impact_hours=top.impact_hours + (stall.impact_hours if credit else 0.0),
            stalled_items=stall.stalled_items,
            stalled_oldest_days=stall.stalled_oldest_days,
        )
    return merged


def _lead_candidate(
    leads: pd.DataFrame, baseline: pd.DataFrame | None, sla_hours: float, dimension: str
) -> _Candidate:
    frame = leads.assign(excess=lead_excess_seconds(leads, sla_hours), wait=leads["response"])
    responded = frame["response"].dropna()
    base_median = None
    if baseline is not None and baseline["response"].notna().sum() >= MIN_BASELINE_ITEMS:
        base_median = float(baseline["response"].median()) / HOUR
    return _Candidate(
        kind="response",
        step="Speed to lead",
        from_stage=None,
        to_stage=None,
        items=len(frame),
        median_hours=float(responded.median()) / HOUR if len(responded) else None,
        baseline_median_hours=base_median,
        reference_hours=sla_hours,
        impact_hours=float(frame["excess"].sum()) / HOUR,
        handoff_share=None,
        segments=_segments(frame, dimension),
        stalled_items=int((frame["response"].isna() & (frame["excess"] > 0)).sum()),
        breaches=int((frame["excess"] > 0).sum()),
    )


def _notable(top: SegmentShare | None, c: _Candidate) -> bool:
    """Name a segment when it holds most of the excess, or far more than its share of items."""
    if top is None or c.items == 0 or len(c.segments) < 2:
        return False
    return top.share >= MAJORITY_SHARE or top.share >= OVER_REPRESENTED * top.items / c.items


def _facts(
    c: _Candidate,
    entity: str,
    sla_hours: float,
    idle_days: float,
    dwell: DurationStats | None = None,
) -> tuple[str, ...]:
    """The sentences that explain one bottleneck, most telling first."""
    facts: list[str] = []
    top = c.segments[0] if c.segments else None
    if c.kind == "wait":
        facts.append(
            f"{c.step} waits {hours_text(c.median_hours)} (median) over {c.items:,} "
            f"{'steps' if entity == 'case' else plural(entity)}"
            f"{trend_text(c.median_hours, c.baseline_median_hours)}"
        )
        excess_each = c.impact_hours / c.items if c.items else 0.0
        if c.median_hours is not None and excess_each > LONG_TAIL_FACTOR * c.median_hours:
            # A short median with a large impact: the cost is in the long tail; say so.
            facts.append(f"the slow ones dominate: on average {hours_text(excess_each)} of extra "
                         f"wait per {'step' if entity == 'case' else entity}")
        if _notable(top, c):
            facts.append(
                f"{percent_text(top.share)} of the extra wait is in "
                f"{segment_text(top.dimension, top.value)} (median {hours_text(top.median_hours)})"
            )
        if c.handoff_share is not None and c.handoff_share >= NOTABLE_HANDOFFS:
            facts.append(f"{percent_text(c.handoff_share)} of these steps change hands")
        if c.stalled_items:
            facts.append(
                f"{c.stalled_items:,} open {plural(entity)} have stalled in {c.from_stage} "
                f"for more than {idle_days:g} days (the longest {c.stalled_oldest_days:.0f} days)"
            )
    elif c.kind == "response":
        facts.append(
            f"Speed to lead is {hours_text(c.median_hours)} (median) against an SLA of "
            f"{hours_text(sla_hours)} over {c.items:,} new leads"
            f"{trend_text(c.median_hours, c.baseline_median_hours)}; "
            f"{percent_text(c.breaches / c.items)} of them waited longer"
        )
        if _notable(top, c):
            facts.append(
                f"{percent_text(top.share)} of the time over the SLA is in "
                f"{segment_text(top.dimension, top.value)} (median {hours_text(top.median_hours)})"
            )
        if c.stalled_items:
            facts.append(f"{c.stalled_items:,} leads older than the SLA have had no touch yet")
    else:
        facts.append(
            f"{c.stalled_items:,} open {plural(entity)} have sat in {c.from_stage} with no "
            f"activity for more than {idle_days:g} days (the longest {c.stalled_oldest_days:.0f} "
            "days)"
        )
        if dwell is not None and dwell.count:
            facts.append(
                f"{plural(entity)} that moved on spent a median {hours_text(dwell.median_hours)} "
                f"in {c.from_stage}"
            )
        if _notable(top, c):
            facts.append(
                f"{percent_text(top.share)} of the idle time is in "
                f"{segment_text(top.dimension, top.value)}"
            )
    return tuple(facts)
