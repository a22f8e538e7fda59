"""Customer-journey analysis: where cases wait, drop off, stall and loop, and why.

Works on CRM pipelines (processes "deals" and "leads") and on any imported event log
(case, activity, timestamp, resource). `analyze_journey` gives every measure;
`find_bottlenecks` ranks the places that cost the most time and explains each one.
"""

from __future__ import annotations

from kpi_engine.journey.bottlenecks import find_bottlenecks, rank_bottlenecks
from kpi_engine.journey.leads import DEFAULT_SLA_HOURS
from kpi_engine.journey.measures import (
    DEFAULT_IDLE_DAYS,
    LoadedJourney,
    analyze_journey,
    journey_measures,
    load_journey,
    stage_conversion,
)
from kpi_engine.journey.results import (
    Bottleneck,
    BottleneckReport,
    DurationStats,
    HandoffSummary,
    JourneyReport,
    JourneyWindow,
    PathOutcome,
    ReworkLoop,
    SegmentDuration,
    SegmentShare,
    SpeedToLead,
    StageConversion,
    StageFlow,
    StageTime,
    Stalled,
    StalledGroup,
    Transition,
)
from kpi_engine.journey.source import DIMENSIONS, ProcessInfo, resolve_process

__all__ = [
    "DEFAULT_IDLE_DAYS",
    "DEFAULT_SLA_HOURS",
    "DIMENSIONS",
    "Bottleneck",
    "BottleneckReport",
    "DurationStats",
    "HandoffSummary",
    "JourneyReport",
    "JourneyWindow",
    "LoadedJourney",
    "PathOutcome",
    "ProcessInfo",
    "ReworkLoop",
    "SegmentDuration",
    "SegmentShare",
    "SpeedToLead",
    "StageConversion",
    "Stalled",
    "StalledGroup",
    "StageFlow",
    "StageTime",
    "Transition",
    "analyze_journey",
    "find_bottlenecks",
    "journey_measures",
    "load_journey",
    "rank_bottlenecks",
    "resolve_process",
    "stage_conversion",
]
