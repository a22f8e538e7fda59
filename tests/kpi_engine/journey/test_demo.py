"""On the demo CRM, the planted slow response (Team West) and stalling stage (Proposal) come
out on top, and the measures behind them equal an independent pandas computation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from kpi_engine.calendar import Calendar
from kpi_engine.clock import FixedClock
from kpi_engine.demo import seed_demo
from kpi_engine.errors import InvalidInputError
from kpi_engine.journey import analyze_journey, find_bottlenecks
from kpi_engine.periods import parse_period
from tests.databases import BACKENDS, migrated_engine

TODAY = dt.date(2026, 3, 16)
NOW = dt.datetime(2026, 3, 16, 12, 0)
CLOCK = FixedClock(NOW, ZoneInfo("UTC"))


@pytest.fixture(scope="module", params=BACKENDS)
def demo_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    with migrated_engine(str(request.param), tmp_path_factory.mktemp("demo")) as engine:
        seed_demo(engine, today=TODAY)
        yield engine


def read(engine: Engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql_query(sql, conn)


def expected_speed_to_lead(engine: Engine, sla_hours: float) -> pd.DataFrame:
    """Per team: median hours to the first outbound touch, and leads over the SLA."""
    leads = read(engine, """
        SELECT l.id, l.created_at, t.name AS team FROM leads l
        JOIN reps r ON r.id = l.owner_id JOIN teams t ON t.id = r.team_id
        WHERE l.created_at IS NOT NULL""")
    touches = read(engine, "SELECT lead_id, occurred_at FROM activities "
                           "WHERE direction = 'outbound' AND lead_id IS NOT NULL")
    leads["created_at"] = pd.to_datetime(leads["created_at"])
    touches["occurred_at"] = pd.to_datetime(touches["occurred_at"])
    joined = touches.merge(leads, left_on="lead_id", right_on="id")
    joined = joined[(joined["occurred_at"] >= joined["created_at"]) & (joined["occurred_at"] < NOW)]
    first = joined.groupby("lead_id")["occurred_at"].min()
    leads = leads[leads["created_at"] < NOW].set_index("id")
    leads["hours"] = (first.reindex(leads.index) - leads["created_at"]).dt.total_seconds() / 3600
    age = (NOW - leads["created_at"]).dt.total_seconds() / 3600
    leads["breach"] = leads["hours"].fillna(age) > sla_hours
    return leads.groupby("team").agg(median=("hours", "median"), breaches=("breach", "sum"))


def expected_stalled(engine: Engine, idle_days: float) -> pd.Series:
    """Open deals whose last stage change or activity is `idle_days` or more before now."""
    events = read(engine, """
        SELECT d.id, se.seq, se.to_stage, se.occurred_at FROM stage_events se
        JOIN deals d ON d.id = se.deal_id WHERE d.is_won IS NULL""")
    events["occurred_at"] = pd.to_datetime(events["occurred_at"])
    events = events.sort_values(["id", "seq"])
    last = events.groupby("id").agg(stage=("to_stage", "last"), at=("occurred_at", "max"))
    touches = read(engine, "SELECT deal_id, MAX(occurred_at) AS at FROM activities "
                           "WHERE deal_id IS NOT NULL GROUP BY deal_id")
    touches["at"] = pd.to_datetime(touches["at"])
    touched = touches.set_index("deal_id")["at"].reindex(last.index)
    last["idle_from"] = np.maximum(last["at"], touched.fillna(last["at"]))
    stalled = last[NOW - last["idle_from"] >= pd.Timedelta(days=idle_days)]
    return stalled.groupby("stage").size()


def test_speed_to_lead_by_team_matches_pandas(demo_db: Engine) -> None:
    report = analyze_journey(demo_db, "deals", clock=CLOCK, sla_hours=4)
    want = expected_speed_to_lead(demo_db, 4)
    speed = report.speed_to_lead
    assert speed is not None
    got = {s.value: s for s in speed.by_segment}
    assert set(got) == set(want.index)
    for team, row in want.iterrows():
        assert got[team].time.median_hours == pytest.approx(row["median"], rel=1e-9, abs=1e-6)
        assert got[team].breaches == row["breaches"]
    assert speed.breaches == want["breaches"].sum()
    # The planted pattern: West answers many times slower than the other teams.
    others = max(got[t].time.median_hours for t in got if t != "West")
    assert got["West"].time.median_hours > 5 * others


def test_stalled_deals_match_pandas(demo_db: Engine) -> None:
    report = analyze_journey(demo_db, "deals", clock=CLOCK, idle_days=14)
    want = expected_stalled(demo_db, 14)
    assert dict(report.stalled.by_stage) == {k: int(v) for k, v in want.items()}
    assert report.stalled.by_stage[0][0] == "Proposal"
    longest = max(report.stage_times, key=lambda s: s.time.median_hours or 0)
    assert longest.stage == "Proposal"


def test_the_planted_patterns_come_out_on_top(demo_db: Engine) -> None:
    period = parse_period("last 30 days", CLOCK, Calendar(ZoneInfo("UTC")))
    report = find_bottlenecks(demo_db, "deals", period, clock=CLOCK)
    top_two = report.bottlenecks[:2]
    kinds = {b.kind: b for b in top_two}
    assert set(kinds) == {"wait", "response"}
    stall = kinds["wait"]
    assert stall.from_stage == "Proposal" and stall.stalled_items > 0
    assert "stalled in Proposal" in stall.explanation
    slow = kinds["response"]
    assert slow.segments[0].dimension == "team" and slow.segments[0].value == "West"
    assert slow.segments[0].share > 0.9
    assert "Team West" in slow.explanation
    # The baseline is the period before (same elapsed length, as Period.previous() defines).
    assert report.baseline is not None and report.baseline.label == period.previous().label
    assert report.baseline.end is not None and report.window.start is not None
    assert report.baseline.end <= report.window.start


def test_bottlenecks_segment_by_rep(demo_db: Engine) -> None:
    report = find_bottlenecks(demo_db, "deals", clock=CLOCK, dimension="rep", limit=3)
    assert report.dimension == "rep"
    response = next(b for b in report.bottlenecks if b.kind == "response")
    reps = read(demo_db, "SELECT r.name FROM reps r JOIN teams t ON t.id = r.team_id "
                         "WHERE t.name = 'West'")["name"]
    # The excess of the slow team's reps dominates.
    west_share = sum(s.share for s in response.segments if s.value in set(reps))
    assert west_share > 0.9


def test_lead_pipeline_conversion_matches_the_leads_table(demo_db: Engine) -> None:
    report = analyze_journey(demo_db, "leads", clock=CLOCK)
    assert report.outcome == "converted"
    leads = read(demo_db, """
        SELECT l.id, l.status, l.converted FROM leads l
        WHERE EXISTS (SELECT 1 FROM stage_events se WHERE se.lead_id = l.id)""")
    first = report.flow[0]
    assert first.cases_reached == len(leads)
    converted = leads["converted"].fillna(False).astype(bool)
    assert first.reached_outcome == int(converted.sum())
    dropped = sum(f.dropped_here or 0 for f in report.flow)
    assert dropped == int(((leads["status"] != "open") & ~converted).sum())
    with pytest.raises(InvalidInputError, match="own outcome"):
        analyze_journey(demo_db, "deals", outcome="Won")
