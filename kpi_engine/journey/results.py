"""Typed results of the journey analyzer: what the CLI, the tools and the bot render.

Durations are in hours (floats). Counts are ints. Nothing here is computed: these are values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class JourneyWindow:
    """The span analysed, in naive UTC like the database: steps ending in `[start, end)`.

    `start` is None for "from the beginning of the data"; `as_of` is the instant stalled items
    and open cases are aged against (the clock's now, or the end of a historical log).
    """

    start: dt.datetime | None
    end: dt.datetime | None
    as_of: dt.datetime
    label: str


@dataclass(frozen=True)
class DurationStats:
    """Count, median, 90th percentile and mean of a set of durations (hours).

    Percentiles interpolate linearly between order statistics, as pandas and numpy do.
    """

    count: int
    median_hours: float | None
    p90_hours: float | None
    mean_hours: float | None


@dataclass(frozen=True)
class StageTime:
    """How long cases stay in a stage: from entering it to their next event (completed stays)."""

    stage: str
    time: DurationStats


@dataclass(frozen=True)
class Transition:
    """A directly-follows step `from_stage → to_stage` and the wait between the two events."""

    from_stage: str
    to_stage: str
    wait: DurationStats
    handoffs: int  # steps where the owner or resource changed


@dataclass(frozen=True)
class StageFlow:
    """Conversion and drop-off at one stage, over the cases active in the window.

    `cases_ended_here` counts closed cases whose journey ended from this stage; a case whose
    last event is a final stage nothing ever follows (Won, Lost) counts at the stage before
    it. `dropped_here` counts those that ended without the outcome; it is None when the
    process has no known outcome (an event log analysed without `outcome`).
    """

    stage: str
    cases_reached: int
    cases_continued: int
    cases_ended_here: int
    dropped_here: int | None
    reached_outcome: int | None  # cases that reached this stage and, later, the outcome
    outcome_rate: float | None  # reached_outcome / closed cases that reached this stage


@dataclass(frozen=True)
class StageConversion:
    """Of the cases active in the window that reached `from_stage`, how many later reached
    `to_stage`; the rate counts only the decided ones (reached it, or closed without)."""

    from_stage: str
    to_stage: str
    reached: int
    went_on: int
    closed_without: int
    still_open: int

    @property
    def rate(self) -> float | None:
        decided = self.went_on + self.closed_without
        return self.went_on / decided if decided else None


@dataclass(frozen=True)
class SegmentDuration:
    """A duration measure for one value of a dimension (a team, a rep, a source...)."""

    dimension: str
    value: str
    time: DurationStats
    breaches: int


@dataclass(frozen=True)
class SpeedToLead:
    """From lead creation to the first outbound touch, against a service-level target.

    Leads not touched yet breach once they are older than the SLA at `as_of`; the durations
    cover touched leads only.
    """

    sla_hours: float
    leads: int
    touched: int
    untouched: int
    time: DurationStats
    breaches: int
    breach_share: float | None
    by_segment: tuple[SegmentDuration, ...]


@dataclass(frozen=True)
class HandoffSummary:
    """Waits on steps where the owner or resource changed, next to the steps where it did not."""

    handoffs: DurationStats
    same_owner: DurationStats
    share_of_steps: float | None


@dataclass(frozen=True)
class StalledGroup:
    stage: str
    owner: str
    items: int
    oldest_idle_days: float


@dataclass(frozen=True)
class Stalled:
    """Open cases with no activity for at least `idle_days` at `as_of`."""

    idle_days: float
    open_items: int
    stalled_items: int
    by_stage: tuple[tuple[str, int], ...]
    by_owner: tuple[tuple[str, int], ...]
    groups: tuple[StalledGroup, ...]


@dataclass(frozen=True)
class ReworkLoop:
    """A stage that cases return to: how many cases and how many extra visits."""

    stage: str
    cases: int
    extra_visits: int


@dataclass(frozen=True)
class PathOutcome:
    """Cases on one path (with or without a rework loop) and how they ended."""

    path: str  # "with rework" | "no rework"
    cases: int
    closed: int
    reached_outcome: int | None
    outcome_rate: float | None
    duration: DurationStats  # first to last event of the case


@dataclass(frozen=True)
class JourneyReport:
    """Every journey measure for one process over one window."""

    process: str
    kind: str  # "crm" | "event_log"
    entity: str  # "deal" | "lead" | "case"
    outcome: str | None  # what counts as success: "won", "converted", or an event-log stage
    window: JourneyWindow
    cases: int
    steps: int
    data_freshness: dt.datetime | None
    stage_times: tuple[StageTime, ...]
    transitions: tuple[Transition, ...]
    flow: tuple[StageFlow, ...]
    handoffs: HandoffSummary
    stalled: Stalled
    rework: tuple[ReworkLoop, ...]
    paths: tuple[PathOutcome, ...]
    speed_to_lead: SpeedToLead | None


@dataclass(frozen=True)
class SegmentShare:
    """One segment's part of a bottleneck's excess wait (every segment with items in it)."""

    dimension: str
    value: str
    items: int
    median_hours: float | None
    excess_hours: float
    share: float  # of the bottleneck's excess wait


@dataclass(frozen=True)
class Bottleneck:
    """One place in the journey that costs time, with its impact and the facts behind it.

    `impact_hours` is the excess wait: the sum over the items of the period of how much longer
    each waited than the reference (the baseline median of the same step, or its own median
    when there is no baseline, or the SLA for speed to lead; time idle beyond the threshold for
    stalled items).
    """

    rank: int
    kind: str  # "wait" | "response" | "stall"
    step: str  # "Proposal → Negotiation", "Speed to lead", "Stalled in Proposal"
    from_stage: str | None
    to_stage: str | None
    items: int
    median_hours: float | None
    baseline_median_hours: float | None
    reference_hours: float | None
    impact_hours: float
    handoff_share: float | None
    stalled_items: int
    segments: tuple[SegmentShare, ...]
    facts: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class BottleneckReport:
    """The ranked bottlenecks of one process over a window, against a baseline window."""

    process: str
    window: JourneyWindow
    baseline: JourneyWindow | None
    dimension: str | None  # what the excess is split by (team, rep, source, product, resource)
    data_freshness: dt.datetime | None
    bottlenecks: tuple[Bottleneck, ...]
