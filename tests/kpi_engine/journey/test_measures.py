"""Journey measures on small hand-made processes, where every expected figure is known."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from kpi_engine.calendar import Calendar
from kpi_engine.clock import FixedClock
from kpi_engine.db.models import Process, StageEvent
from kpi_engine.errors import InvalidInputError, InvalidPeriodError, UnknownNameError
from kpi_engine.journey import analyze_journey, find_bottlenecks
from kpi_engine.journey.stats import duration_stats, grouped_stats
from kpi_engine.periods import parse_period

T0 = dt.datetime(2024, 5, 1, 9, 0)
H = dt.timedelta(hours=1)
CLOCK = FixedClock(dt.datetime(2024, 6, 1, 12, 0), ZoneInfo("UTC"))

# (case, seq, stage, hours after T0, resource). Case c1 has two events at the same instant:
# seq (the source order) says Review comes before Approve, whatever the row order.
EVENTS = [
    ("c1", 2, "Approve", 5, "bob"),
    ("c1", 0, "Submit", 0, "ann"),
    ("c1", 1, "Review", 5, "ann"),
    ("c2", 0, "Submit", 1, "ann"),
    ("c2", 1, "Review", 4, "bob"),
    ("c2", 2, "Submit", 10, "bob"),  # rework: back to Submit
    ("c2", 3, "Review", 11, "bob"),
    ("c2", 4, "Approve", 15, "ann"),
    ("c3", 0, "Submit", 2, "ann"),
    ("c3", 1, "Review", 3, "ann"),  # c3 stops here, open and idle for weeks
]


def add_process(engine: Engine, name: str = "claims", events: list = EVENTS) -> None:
    with engine.begin() as conn:
        pid = conn.execute(
            insert(Process).values(name=name, kind="event_log")
        ).inserted_primary_key[0]
        stages: dict[tuple[str, int], str] = {(c, s): st for c, s, st, _, _ in events}
        conn.execute(
            insert(StageEvent),
            [
                {"process_id": pid, "case_id": c, "entity_type": "case", "seq": s,
                 "from_stage": stages.get((c, s - 1)), "to_stage": st,
                 "occurred_at": T0 + h * H, "resource": r}
                for c, s, st, h, r in events
            ],
        )


def test_transitions_follow_the_source_order_on_ties(db: Engine) -> None:
    add_process(db)
    report = analyze_journey(db, "claims", outcome="Approve")
    # SQLite's julianday() resolves instants to about 20 microseconds.
    got = {(t.from_stage, t.to_stage): (t.wait.count, round(t.wait.median_hours, 6), t.handoffs)
           for t in report.transitions}
    assert got == {
        ("Submit", "Review"): (4, 2.0, 1),  # waits 5, 3, 1, 1 h; c2 changes hands once
        ("Review", "Approve"): (2, 2.0, 2),  # 0 h (the tie: ann, then bob) and 4 h (bob, ann)
        ("Review", "Submit"): (1, 6.0, 0),
    }
    submit_review = next(t for t in report.transitions if t.to_stage == "Review")
    assert submit_review.wait.mean_hours == pytest.approx(2.5)
    assert submit_review.wait.p90_hours == pytest.approx(np.quantile([5, 3, 1, 1], 0.9))
    assert report.cases == 3 and report.steps == 7


def test_flow_rework_and_outcome(db: Engine) -> None:
    add_process(db)
    report = analyze_journey(db, "claims", outcome="Approve", idle_days=14)
    flow = {f.stage: f for f in report.flow}
    assert [f.stage for f in report.flow] == ["Submit", "Review", "Approve"]
    assert flow["Submit"].cases_reached == 3
    assert flow["Review"].reached_outcome == 2
    # Approve is final (nothing follows it): c1 and c2 left the journey from Review.
    assert flow["Review"].cases_ended_here == 2 and flow["Review"].dropped_here == 0
    assert flow["Review"].outcome_rate == 1.0
    assert flow["Approve"].cases_ended_here == 0
    assert [(r.stage, r.cases, r.extra_visits) for r in report.rework] == [
        ("Review", 1, 1), ("Submit", 1, 1)]
    paths = {p.path: p for p in report.paths}
    assert (paths["with rework"].cases, paths["with rework"].reached_outcome) == (1, 1)
    assert paths["no rework"].cases == 2 and paths["no rework"].closed == 1
    assert paths["with rework"].duration.median_hours == pytest.approx(14.0)
    # c3 never reached an end and has been idle since T0 + 3 h; the log ends at T0 + 15 h.
    assert report.stalled.stalled_items == 0  # aged at the end of the log: only 12 h idle
    shorter = analyze_journey(db, "claims", outcome="Approve", idle_days=0.25)
    assert shorter.stalled.by_stage == (("Review", 1),)
    assert shorter.stalled.by_owner == (("ann", 1),)


def test_period_counts_steps_that_end_in_it(db: Engine) -> None:
    add_process(db)
    calendar = Calendar(ZoneInfo("UTC"))
    clock = FixedClock(T0 + 12 * H, ZoneInfo("UTC"))
    period = parse_period("2024-05-01 to 2024-05-01", clock, calendar)
    report = analyze_journey(db, "claims", period, clock=clock)
    # Up to the clock (T0 + 12 h): the last Review → Approve of c2 (at 15 h) is not counted.
    assert sum(t.wait.count for t in report.transitions) == 6
    assert report.window.as_of == T0 + 12 * H


def test_bottleneck_explains_with_facts(db: Engine) -> None:
    add_process(db)
    report = find_bottlenecks(db, "claims")
    assert report.bottlenecks, "the slow tail of Submit → Review is excess wait"
    top = report.bottlenecks[0]
    # Submit → Review waits 5, 3, 1, 1 h around a 2 h median: 3 + 1 = 4 h of excess.
    assert (top.step, top.impact_hours) == ("Submit → Review", pytest.approx(4.0))
    # The wait is credited to who acted after it: ann reviewed c1 (5 h: 3 h over) and c3
    # (1 h), bob c2 twice (3 h: 1 h over, and 1 h); only c2's first step changed hands.
    assert [(s.value, round(s.share, 6)) for s in top.segments] == [("ann", 0.75), ("bob", 0.25)]
    assert top.explanation == (
        "Submit → Review waits 2.0 h (median) over 4 steps; "
        "75% of the extra wait is in resource ann (median 3.0 h); "
        "25% of these steps change hands."
    )


def test_unknown_names_are_clear_errors(db: Engine) -> None:
    with pytest.raises(InvalidInputError, match="No process"):
        analyze_journey(db)
    add_process(db)
    add_process(db, "orders", EVENTS[:3])
    with pytest.raises(InvalidInputError, match="Choose a process"):
        analyze_journey(db)
    with pytest.raises(UnknownNameError, match="Did you mean: claims"):
        analyze_journey(db, "claim")
    with pytest.raises(InvalidInputError, match="segment it by resource"):
        find_bottlenecks(db, "claims", dimension="team")
    with pytest.raises(UnknownNameError, match="dimension"):
        find_bottlenecks(db, "claims", dimension="colour")
    with pytest.raises(UnknownNameError, match="outcome stage"):
        analyze_journey(db, "claims", outcome="Aprove")


def test_grouped_stats_match_pandas() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "a": rng.choice(["x", "y", "z"], 500),
        "b": pd.Categorical(rng.choice(["p", "q"], 500)),
        "wait": rng.exponential(3600, 500),
    })
    frame.loc[::17, "wait"] = np.nan
    got = grouped_stats(frame[["a", "b"]], frame["wait"])
    want = frame.groupby(["a", "b"], observed=True)["wait"]
    for key, stats in got.items():
        series = want.get_group(key).dropna()
        assert stats.count == len(series)
        assert stats.median_hours == pytest.approx(series.median() / 3600)
        assert stats.p90_hours == pytest.approx(series.quantile(0.9) / 3600)
        assert stats.mean_hours == pytest.approx(series.mean() / 3600)
    assert duration_stats([]).median_hours is None


def test_a_period_without_data_gives_empty_measures(db: Engine) -> None:
    add_process(db)
    period = parse_period("2020-01-01 to 2020-01-31", CLOCK, Calendar(ZoneInfo("UTC")))
    report = analyze_journey(db, "claims", period, clock=CLOCK)
    assert (report.cases, report.steps, report.transitions, report.flow) == (0, 0, (), ())
    assert report.stalled.stalled_items == 0
    assert find_bottlenecks(db, "claims", period, clock=CLOCK).bottlenecks == ()


def test_excess_is_measured_against_the_baseline_median(db: Engine) -> None:
    # Five cases a week: Submit → Review took 1 h in the week of 6 May, 3 h in the next.
    events = []
    for week, wait in ((0, 1), (1, 3)):
        for i in range(5):
            start = 5 * 24 + week * 7 * 24 + i * 24
            events += [(f"w{week}c{i}", 0, "Submit", start, "ann"),
                       (f"w{week}c{i}", 1, "Review", start + wait, "bob")]
    add_process(db, "weekly", events)
    clock = FixedClock(dt.datetime(2024, 5, 20, 0, 0), ZoneInfo("UTC"))
    calendar = Calendar(ZoneInfo("UTC"))
    period = parse_period("last week", clock, calendar)  # Mon 13 – Sun 19 May
    report = find_bottlenecks(db, "weekly", period, clock=clock)
    (top,) = report.bottlenecks
    assert top.baseline_median_hours == pytest.approx(1.0, abs=1e-6)
    assert top.reference_hours == pytest.approx(1.0, abs=1e-6)
    assert top.impact_hours == pytest.approx(5 * 2.0, abs=1e-5)
    assert top.facts[0] == "Submit → Review waits 3.0 h (median) over 5 steps, up from 1.0 h"
    assert top.facts[1] == "100% of these steps change hands"
    early = parse_period("2024-05-01 to 2024-05-02", clock, calendar)
    with pytest.raises(InvalidPeriodError, match="must end before"):
        find_bottlenecks(db, "weekly", early, clock=clock, baseline=period)


def test_stage_conversion_counts_later_arrivals_over_decided_cases(db: Engine) -> None:
    from kpi_engine.journey import load_journey, stage_conversion

    add_process(db)
    loaded = load_journey(db, "claims", outcome="Approve")
    # Every case reached Submit; c1 and c2 were approved later, c3 is still open at Review.
    on = stage_conversion(loaded, "submit", "APPROVE")
    assert (on.from_stage, on.to_stage) == ("Submit", "Approve")
    assert (on.reached, on.went_on, on.closed_without, on.still_open) == (3, 2, 0, 1)
    assert on.rate == 1.0
    # Back from Review to Submit: only c2 (rework, after its first Review); c1 was closed
    # without it; c3 is open.
    back = stage_conversion(loaded, "Review", "Submit")
    assert (back.reached, back.went_on, back.closed_without, back.still_open) == (3, 1, 1, 1)
    assert back.rate == 0.5
    with pytest.raises(UnknownNameError, match="Did you mean: Approve"):
        stage_conversion(loaded, "Submit", "Aprove")
