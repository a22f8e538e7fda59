"""Queries on small hand-made rows: boundaries, time zones and DST, every aggregation, errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import load_catalog
from kpi_engine.clock import FixedClock
from kpi_engine.db.models import Activity, Deal, Lead, Rep, Team
from kpi_engine.errors import KpiUserError, UnknownNameError
from kpi_engine.periods import parse_period
from kpi_engine.query import query
from kpi_engine.specs import Filter

UTC = dt.datetime
PARIS = ZoneInfo("Europe/Paris")
NOW = UTC(2025, 4, 5)


def _rows(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Team), [{"id": 1, "name": "North", "region": "EU"},
                                    {"id": 2, "name": "South", "region": "US"}])
        conn.execute(insert(Rep), [
            {"id": 1, "source_system": "t", "external_id": "a", "name": "Ann", "team_id": 1},
            {"id": 2, "source_system": "t", "external_id": "b", "name": "Bob", "team_id": 2},
        ])
        # Around the Paris DST change (Sun 30 Mar 2025, 01:00 UTC): local midnight is 23:00 UTC
        # before it and 22:00 UTC after it.
        leads = [
            (1, UTC(2025, 3, 29, 22, 59), 1, "Ads", UTC(2025, 4, 2)),    # 29 Mar local
            (2, UTC(2025, 3, 29, 23, 0), 1, "Ads", None),                # 30 Mar 00:00 local
            (3, UTC(2025, 3, 30, 21, 59), 2, "Web", UTC(2025, 5, 20)),   # 30 Mar 23:59 local
            (4, UTC(2025, 3, 30, 22, 0), 2, None, UTC(2025, 3, 31)),     # 31 Mar 00:00 local
            (5, UTC(2025, 3, 31, 10, 0), None, "Web", None),
        ]
        conn.execute(insert(Lead), [
            {"id": i, "source_system": "t", "external_id": str(i), "created_at": c,
             "owner_id": o, "source": s, "converted_at": v, "status": "open"}
            for i, c, o, s, v in leads])
        conn.execute(insert(Activity), [
            {"source_system": "t", "external_id": f"a{i}", "type": "call", "direction": d,
             "occurred_at": at, "lead_id": lead, "rep_id": rep}
            for i, (lead, at, d, rep) in enumerate([
                (1, UTC(2025, 3, 29, 23, 59), "outbound", 1),  # 1 h after creation
                (1, UTC(2025, 3, 29, 23, 30), "inbound", 1),   # inbound: not a touch
                (2, UTC(2025, 3, 30, 2, 0), "outbound", None), # no rep: not a touch
                (3, UTC(2025, 3, 31, 0, 59), "outbound", 2),   # 3 h
                (4, UTC(2025, 3, 31, 4, 0), "outbound", 2),    # 6 h
                (4, UTC(2025, 3, 31, 1, 0), "outbound", 2),    # 3 h: the first one
                (5, UTC(2025, 4, 9), "outbound", 1),           # after as-of: untouched then
            ])])
        conn.execute(insert(Deal), [
            {"id": i, "source_system": "t", "external_id": str(i), "stage": "x", "owner_id": o,
             "amount": a, "created_at": c, "closed_at": z, "is_won": w}
            for i, o, a, c, z, w in [
                (1, 1, 100.0, UTC(2025, 1, 1), UTC(2025, 3, 1), True),
                (2, 1, 300.0, UTC(2025, 1, 5), UTC(2025, 3, 31, 23, 59), True),
                (3, 2, 0.0, UTC(2025, 1, 9), UTC(2025, 3, 15), False),
                (4, 2, 50.0, UTC(2025, 2, 1), UTC(2025, 4, 1), True),  # exactly at the end
                (5, None, None, UTC(2025, 3, 2), None, None),
            ]])


@pytest.fixture
def engine(db: Engine) -> Engine:
    _rows(db)
    return db


def _period(text: str, tz: ZoneInfo = PARIS, now: dt.datetime = NOW) -> object:
    return parse_period(text, FixedClock(now.replace(tzinfo=dt.UTC), tz), Calendar(tz))


def test_day_buckets_follow_local_midnight_across_dst(engine: Engine) -> None:
    result = query(engine, load_catalog(), "leads_created",
                   _period("2025-03-29 to 2025-03-31"), grain="day")
    got = {r.bucket.date().isoformat(): r.value for r in result.rows}
    assert got == {"2025-03-29": 1, "2025-03-30": 2, "2025-03-31": 2}
    assert result.rows[1].bucket == dt.datetime(2025, 3, 30, tzinfo=PARIS)
    in_utc = query(engine, load_catalog(), "leads_created",
                   _period("2025-03-29 to 2025-03-31", ZoneInfo("UTC")), grain="day")
    assert {r.bucket.date().isoformat(): r.value for r in in_utc.rows} == {
        "2025-03-29": 2, "2025-03-30": 2, "2025-03-31": 1}


def test_week_buckets_follow_the_week_start(engine: Engine) -> None:
    sunday = Calendar(PARIS, week_start=6)
    period = parse_period("March 2025", FixedClock(UTC(2025, 4, 5, tzinfo=dt.UTC), PARIS), sunday)
    result = query(engine, load_catalog(), "leads_created", period, grain="week")
    got = {r.bucket.date().isoformat(): r.value for r in result.rows if r.value}
    assert got == {"2025-03-23": 1, "2025-03-30": 4}  # Sat 29th vs Sun 30th onwards


def test_bounds_are_start_inclusive_end_exclusive(engine: Engine) -> None:
    catalog = load_catalog()
    march = _period("March 2025", ZoneInfo("UTC"))
    won = query(engine, catalog, "revenue_won", march)
    assert won.total.value == 400.0  # deal 4 closes exactly at 1 Apr 00:00: April
    april = _period("April 2025", ZoneInfo("UTC"))
    assert query(engine, catalog, "deals_won", april).total.value == 1
    assert query(engine, catalog, "win_rate", march).total.value == pytest.approx(2 / 3)
    assert query(engine, catalog, "avg_deal_size", march).total.value == 200.0


def test_speed_to_lead_counts_first_outbound_touch_and_reports_untouched(engine: Engine) -> None:
    result = query(engine, load_catalog(), "speed_to_lead_hours",
                   _period("2025-03-29 to 2025-04-01", ZoneInfo("UTC")))
    # lead 1: 1 h, lead 3: 3 h, lead 4: 3 h → median 3; leads 2 and 5 are untouched by 5 Apr.
    assert result.total.value == pytest.approx(3.0)
    assert result.total.extra("missing") == 2
    by_team = query(engine, load_catalog(), "speed_to_lead_hours",
                    _period("2025-03-29 to 2025-04-01", ZoneInfo("UTC")), group_by=("team",))
    assert {r.group[0][1]: r.value for r in by_team.rows} == {"North": 1.0, "South": 3.0,
                                                              "(none)": None}
    assert {r.group[0][1]: r.extra("missing") for r in by_team.rows} == {
        "North": 1, "South": 0, "(none)": 1}


def test_conversion_cohort_counts_up_to_as_of(engine: Engine) -> None:
    catalog = load_catalog()
    period = _period("2025-03-29 to 2025-03-31", ZoneInfo("UTC"))  # as of 5 Apr
    result = query(engine, catalog, "lead_conversion_rate", period)
    assert (result.total.numerator, result.total.denominator) == (2, 5)  # lead 3 converts in May
    later = _period("2025-03-29 to 2025-03-31", ZoneInfo("UTC"), now=UTC(2025, 6, 1))
    assert query(engine, catalog, "lead_conversion_rate", later).total.value == pytest.approx(0.6)
    by_source = query(engine, catalog, "lead_conversion_rate", later, group_by=("source",))
    assert {r.group[0][1]: (r.numerator, r.denominator) for r in by_source.rows} == {
        "Ads": (1, 2), "Web": (1, 2), "(none)": (1, 1)}


def test_open_and_stalled_deals_at_the_period_end(engine: Engine) -> None:
    catalog = load_catalog()
    march = _period("March 2025", ZoneInfo("UTC"))
    # At 1 Apr: deal 4 (closes exactly then: still open) and deal 5 (never closed).
    assert query(engine, catalog, "open_deals", march).total.value == 2
    assert query(engine, catalog, "pipeline_value", march).total.value == 50.0
    assert query(engine, catalog, "stalled_deals", march).total.value == 2
    with engine.begin() as conn:
        conn.execute(insert(Activity), [{"source_system": "t", "external_id": "d5",
                                         "type": "email", "direction": "outbound",
                                         "occurred_at": UTC(2025, 3, 25), "deal_id": 5}])
    assert query(engine, catalog, "stalled_deals", march).total.value == 1


def test_user_metrics_every_aggregation_and_conversion_window(engine: Engine,
                                                              tmp_path: Path) -> None:
    def write(name: str, type_params: str, unit: str = "currency", kind: str = "simple",
              time_column: str = "closed_at") -> None:
        params = "\n".join(f"  {line}" for line in type_params.strip().splitlines())
        (tmp_path / f"{name}.yml").write_text(
            f"name: {name}\nlabel: {name}\ndescription: test\ntype: {kind}\n"
            f"type_params:\n{params}\nunit: {unit}\nformat: \",.2f\"\n"
            f"direction: higher_is_better\ntime_column: {time_column}\ndimensions: [team]\n")

    for agg in ("average", "min", "max", "count_distinct"):
        write(f"deal_{agg}", f"table: deals\nagg: {agg}\ncolumn: amount\n")
    write("big_deals", "table: deals\nagg: count\nfilters:\n  - {column: amount, op: in, "
          "value: [100.0, 300.0]}\n", unit="count")
    write("cycle_p90", "table: deals\nstart: created_at\nend: closed_at\nstatistic: p90\n",
          unit="days", kind="duration")
    write("fast_conversion", "table: leads\nconverted_column: converted_at\nwindow_days: 5\n",
          unit="fraction", kind="conversion", time_column="created_at")
    catalog = load_catalog(tmp_path)
    march = _period("March 2025", ZoneInfo("UTC"))
    values = {name: query(engine, catalog, name, march).total.value
              for name in ("deal_average", "deal_min", "deal_max", "deal_count_distinct",
                           "big_deals")}
    assert values == {"deal_average": pytest.approx(400 / 3), "deal_min": 0.0, "deal_max": 300.0,
                      "deal_count_distinct": 3, "big_deals": 2}
    cycles = sorted([(UTC(2025, 3, 1) - UTC(2025, 1, 1)).total_seconds() / 86400,
                     (UTC(2025, 3, 31, 23, 59) - UTC(2025, 1, 5)).total_seconds() / 86400,
                     (UTC(2025, 3, 15) - UTC(2025, 1, 9)).total_seconds() / 86400])
    p90 = cycles[1] + (cycles[2] - cycles[1]) * 0.8  # linear interpolation, like percentile_cont
    assert query(engine, catalog, "cycle_p90", march).total.value == pytest.approx(p90)
    late = _period("2025-03-29 to 2025-03-31", ZoneInfo("UTC"), now=UTC(2025, 6, 1))
    fast = query(engine, catalog, "fast_conversion", late).total
    assert (fast.numerator, fast.denominator) == (2, 5)  # lead 3 took 51 days


def test_filters_and_comparison(engine: Engine) -> None:
    catalog = load_catalog()
    march = _period("March 2025", ZoneInfo("UTC"))
    north = query(engine, catalog, "revenue_won", march, filters=(Filter("team", ("North",)),))
    assert north.total.value == 400.0
    both = query(engine, catalog, "revenue_won", march,
                 filters=(Filter("team", ("North", "South")),), compare="previous")
    assert both.total.value == 400.0 and both.comparison.baseline == 0.0
    assert both.comparison.relative_change is None
    april = _period("April 2025", ZoneInfo("UTC"), now=UTC(2025, 5, 1))
    rate = query(engine, catalog, "win_rate", april, compare="previous")
    assert rate.comparison.change == pytest.approx((1.0 - 2 / 3) * 100)  # percentage points
    assert rate.comparison.change_unit == "percentage_points"


def test_buckets_and_baselines_before_the_data_are_no_data_not_zero(engine: Engine) -> None:
    catalog = load_catalog()
    utc = ZoneInfo("UTC")
    # The deals start with deal 1, created on 1 Jan 2025; the first won deal closes in March,
    # so January and February are real zeros and the months before have no data.
    series = query(engine, catalog, "revenue_won", _period("2024-11-01 to 2025-03-31", utc),
                   grain="month")
    got = {r.bucket.date().isoformat(): r.value for r in series.rows}
    assert got == {"2024-11-01": None, "2024-12-01": None, "2025-01-01": 0.0,
                   "2025-02-01": 0.0, "2025-03-01": 400.0}
    assert series.provenance.data_start == UTC(2025, 1, 1)
    january = query(engine, catalog, "revenue_won", _period("January 2025", utc),
                    compare="previous")
    assert january.total.value == 0.0 and january.comparison.baseline is None
    # A lone total does not pay for the extra lookup.
    plain = query(engine, catalog, "revenue_won", _period("March 2025", utc))
    assert plain.provenance.data_start is None


def test_user_errors(engine: Engine) -> None:
    catalog = load_catalog()
    march = _period("March 2025", ZoneInfo("UTC"))
    with pytest.raises(UnknownNameError, match="region"):
        query(engine, catalog, "deals_won", march, group_by=("regoin",))
    with pytest.raises(UnknownNameError):
        query(engine, catalog, "activities_logged", march, filters=(Filter("product", ("x",)),))
    with pytest.raises(KpiUserError):
        query(engine, catalog, "deals_won", march, grain="hour")
    with pytest.raises(KpiUserError):
        query(engine, catalog, "deals_won", march, compare="yesterday")
