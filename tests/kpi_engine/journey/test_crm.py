"""Journey measures of a tiny hand-made CRM: speed to lead, stalled deals, drop-off, segments."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert

from kpi_engine.clock import FixedClock
from kpi_engine.db.models import Activity, Deal, Lead, Process, Rep, StageEvent, Team
from kpi_engine.journey import analyze_journey, find_bottlenecks

T0 = dt.datetime(2024, 3, 1, 8, 0)
H = dt.timedelta(hours=1)
D = dt.timedelta(days=1)
NOW = T0 + 40 * D
CLOCK = FixedClock(NOW, ZoneInfo("UTC"))


def seed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Team), [{"id": 1, "name": "East"}, {"id": 2, "name": "West"}])
        conn.execute(insert(Rep), [
            {"id": 1, "source_system": "t", "external_id": "r1", "name": "Ann", "team_id": 1},
            {"id": 2, "source_system": "t", "external_id": "r2", "name": "Bob", "team_id": 2},
        ])
        conn.execute(insert(Lead), [
            {"id": i, "source_system": "t", "external_id": f"l{i}", "created_at": T0,
             "owner_id": owner, "source": source, "status": "open"}
            for i, owner, source in ((1, 1, "Ads"), (2, 2, "Ads"), (3, 1, "Referral"))
        ])
        conn.execute(insert(Deal), [
            {"id": i, "source_system": "t", "external_id": f"d{i}", "owner_id": owner,
             "stage": stage, "created_at": T0, "is_won": won}
            for i, owner, stage, won in ((1, 1, "Won", True), (2, 2, "Lost", False),
                                         (3, 1, "Prospecting", None), (4, 2, "Prospecting", None),
                                         (5, 2, "Prospecting", None))
        ])
        touches = [  # lead 1 answered after 1 h, lead 2 after 10 h, lead 3 never
            (1, 1, None, "outbound", T0 + 1 * H), (2, 2, None, "outbound", T0 + 10 * H),
            (3, 1, None, "inbound", T0 + 2 * H),
            # deal 3 last touched 30 days ago, deal 4 20 days ago, deal 5 yesterday
            (4, None, 3, "outbound", NOW - 30 * D), (5, None, 4, "outbound", NOW - 20 * D),
            (6, None, 5, "outbound", NOW - 1 * D),
        ]
        conn.execute(insert(Activity), [
            {"source_system": "t", "external_id": f"a{i}", "type": "email", "direction": way,
             "occurred_at": at, "lead_id": lead, "deal_id": deal,
             "rep_id": 1 if (lead or deal) in (1, 3) else 2}
            for i, lead, deal, way, at in touches
        ])
        pid = conn.execute(insert(Process).values(name="deals", kind="crm")).inserted_primary_key[0]
        events = [(1, "Prospecting", T0, None), (1, "Won", T0 + 2 * D, "Prospecting"),
                  (2, "Prospecting", T0, None), (2, "Lost", T0 + 2 * D, "Prospecting"),
                  (3, "Prospecting", T0, None), (4, "Prospecting", T0, None),
                  (5, "Prospecting", T0, None)]
        seqs: dict[int, int] = {}
        rows = []
        for deal, stage, at, before in events:
            seqs[deal] = seqs.get(deal, -1) + 1
            rows.append({"process_id": pid, "case_id": f"d{deal}", "entity_type": "deal",
                         "deal_id": deal, "seq": seqs[deal], "from_stage": before,
                         "to_stage": stage, "occurred_at": at,
                         "owner_id": 1 if deal in (1, 3) else 2})
        conn.execute(insert(StageEvent), rows)


def test_speed_to_lead_stalled_and_drop_off(db: Engine) -> None:
    seed(db)
    report = analyze_journey(db, clock=CLOCK, sla_hours=4, idle_days=14)
    speed = report.speed_to_lead
    assert speed is not None
    assert (speed.leads, speed.touched, speed.untouched, speed.breaches) == (3, 2, 1, 2)
    assert speed.time.median_hours == pytest.approx(5.5, abs=1e-6)
    teams = {s.value: (s.time.median_hours, s.breaches) for s in speed.by_segment}
    assert teams["East"][1] == 1 and teams["West"][1] == 1  # lead 3 (East) is still waiting
    assert teams["East"][0] == pytest.approx(1.0, abs=1e-6)
    # Deals 3 and 4 idle for 30 and 20 days; deal 5 was touched yesterday.
    assert report.stalled.by_stage == (("Prospecting", 2),)
    assert dict(report.stalled.by_owner) == {"Ann": 1, "Bob": 1}
    assert report.stalled.open_items == 3
    flow = {f.stage: f for f in report.flow}
    # Won and Lost end journeys: both deals left from Prospecting, one without the outcome.
    assert (flow["Prospecting"].cases_ended_here, flow["Prospecting"].dropped_here) == (2, 1)
    assert flow["Prospecting"].outcome_rate == pytest.approx(0.5)


def test_a_stalled_stage_stands_alone_and_is_explained(db: Engine) -> None:
    seed(db)
    report = find_bottlenecks(db, clock=CLOCK, sla_hours=4, idle_days=14)
    by_step = {b.step: b for b in report.bottlenecks}
    stall = by_step["Stalled in Prospecting"]
    # Idle beyond 14 days: 16 + 6 days.
    assert stall.impact_hours == pytest.approx((16 + 6) * 24, abs=1e-3)
    assert stall.explanation == (
        "2 open deals have sat in Prospecting with no activity for more than 14 days "
        "(the longest 30 days); deals that moved on spent a median 2.0 days in Prospecting; "
        "73% of the idle time is in Team East."  # Ann's deal 3: 16 of the 22 idle days
    )
    response = by_step["Speed to lead"]
    # Lead 2 waited 6 h over the SLA; lead 3 is 40 days old and still waiting.
    assert response.impact_hours == pytest.approx(6 + 40 * 24 - 4, abs=1e-3)
    assert [b.step for b in report.bottlenecks] == ["Speed to lead", "Stalled in Prospecting"]
    by_source = find_bottlenecks(db, clock=CLOCK, sla_hours=4, dimension="source")
    shares = {s.value: s.share for s in by_source.bottlenecks[0].segments}
    assert shares["Referral"] == pytest.approx((40 * 24 - 4) / (6 + 40 * 24 - 4), abs=1e-6)
