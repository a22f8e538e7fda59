"""KPI definitions, targets (database over YAML) and pacing; `kpibot target set` + `kpibot kpis`.

Pacing expectations are worked out by hand; the end-to-end figures are recomputed with pandas
from the rows the test inserts, not with the engine.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, func, insert, select
from typer.testing import CliRunner

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import Catalog, load_catalog
from kpi_engine.clock import FixedClock
from kpi_engine.db.models import Deal, KpiTarget, Rep, Team
from kpi_engine.errors import InvalidInputError, UnknownNameError
from kpi_engine.periods import Period, parse_period
from kpi_engine.query import query
from kpi_engine.targets import (
    OVERALL,
    KpiDefinition,
    KpiDefinitionError,
    Scope,
    Target,
    accumulates,
    database_targets,
    load_kpis,
    pace,
    pace_value,
    resolve_targets,
    set_target,
    yaml_targets,
)
from tests.databases import BACKENDS, migrated_engine

UTC = ZoneInfo("UTC")
CALENDAR = Calendar(UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def period(text: str, now: dt.datetime) -> Period:
    return parse_period(text, FixedClock(now, UTC), CALENDAR)


def target(value: float, band: float = 0.1, scale: float = 1.0) -> Target:
    return Target("m", value, OVERALL, dt.date(2026, 4, 1), dt.date(2026, 5, 1), band, None,
                  "test", scale)


# --- pacing on values ----------------------------------------------------------------------

# April 2026 has 30 days; at 16 April 00:00 exactly half of it has elapsed.
HALF_APRIL = dt.datetime(2026, 4, 16)

PACING = [
    # actual, target, band, accumulating, direction, status, prorated, projected, gap
    (50, 100, 0.1, True, "higher_is_better", "on_track", 50, 100, 0),
    (60, 100, 0.1, True, "higher_is_better", "on_track", 50, 120, 10),
    (46, 100, 0.1, True, "higher_is_better", "at_risk", 50, 92, -4),
    (45, 100, 0.1, True, "higher_is_better", "at_risk", 50, 90, -5),
    (44, 100, 0.1, True, "higher_is_better", "off_track", 50, 88, -6),
    (None, 100, 0.1, True, "higher_is_better", "off_track", 50, 0, -50),
    (0, 0, 0.1, True, "higher_is_better", "on_track", 0, 0, 0),
    # Lower is better, accumulating (lost deals): at most 20 in the month.
    (10, 20, 0.1, True, "lower_is_better", "on_track", 10, 20, 0),
    (11, 20, 0.1, True, "lower_is_better", "at_risk", 10, 22, 1),
    (12, 20, 0.1, True, "lower_is_better", "off_track", 10, 24, 2),
    # Rates compare the current value with the target itself: no pro-rating.
    (0.31, 0.30, 0.1, False, "higher_is_better", "on_track", 0.30, 0.31, 0.01),
    (0.28, 0.30, 0.1, False, "higher_is_better", "at_risk", 0.30, 0.28, -0.02),
    (0.26, 0.30, 0.1, False, "higher_is_better", "off_track", 0.30, 0.26, -0.04),
    # Durations, lower is better: speed to lead at most 4 h, band 25 %.
    (3.9, 4.0, 0.25, False, "lower_is_better", "on_track", 4.0, 3.9, -0.1),
    (4.9, 4.0, 0.25, False, "lower_is_better", "at_risk", 4.0, 4.9, 0.9),
    (5.1, 4.0, 0.25, False, "lower_is_better", "off_track", 4.0, 5.1, 1.1),
    (None, 0.30, 0.1, False, "higher_is_better", "no_data", 0.30, None, None),
]


@pytest.mark.parametrize(
    ("actual", "goal", "band", "accumulating", "direction", "status", "prorated", "projected",
     "gap"), PACING,
)
def test_pacing_table(
    actual: float | None, goal: float, band: float, accumulating: bool, direction: str,
    status: str, prorated: float, projected: float | None, gap: float | None,
) -> None:
    april = period("April 2026", HALF_APRIL)
    assert april.elapsed_fraction == 0.5
    result = pace_value(actual, target(goal, band), april, accumulating=accumulating,
                        direction=direction)
    assert result.status == status
    assert result.prorated_target == pytest.approx(prorated)
    assert result.projected == (pytest.approx(projected) if projected is not None else None)
    assert result.gap == (pytest.approx(gap) if gap is not None else None)
    assert result.target == goal
    assert result.method == ("run_rate" if accumulating else "current_value")
    assert status.replace("_", " ") in result.explanation().lower()


def test_projection_uses_the_real_elapsed_share() -> None:
    # 10 March 14:00 UTC: 9 days 14 hours = 230 of March's 744 hours.
    march = period("this month", dt.datetime(2026, 3, 10, 14))
    result = pace_value(23.0, target(100), march, accumulating=True, direction="higher_is_better")
    assert result.elapsed_fraction == pytest.approx(230 / 744)
    assert result.prorated_target == pytest.approx(100 * 230 / 744)
    assert result.projected == pytest.approx(23 * 744 / 230)
    assert result.status == "off_track"  # 23 < 30.9 * 0.9 = 27.8


def test_projection_status_matches_the_projection() -> None:
    march = period("this month", dt.datetime(2026, 3, 10, 14))
    for actual, expected in ((31.0, "on_track"), (28.0, "at_risk"), (23.0, "off_track")):
        result = pace_value(actual, target(100), march, accumulating=True,
                            direction="higher_is_better")
        # Judging the pace so far is judging the projection against the whole target.
        projected_status = (
            "on_track" if result.projected >= 100 else
            "at_risk" if result.projected >= 90 else "off_track"
        )
        assert result.status == expected == projected_status


def test_completed_and_future_periods() -> None:
    done = period("March 2026", dt.datetime(2026, 4, 20))
    result = pace_value(95.0, target(100), done, accumulating=True, direction="higher_is_better")
    assert (result.prorated_target, result.projected, result.status) == (100, 95, "at_risk")
    ahead = period("May 2026", dt.datetime(2026, 4, 20))
    result = pace_value(None, target(100), ahead, accumulating=True, direction="higher_is_better")
    assert result.status == "no_data" and result.projected is None


def test_scaled_yaml_target() -> None:
    april = period("April 2026", HALF_APRIL)
    result = pace_value(150.0, target(100, scale=3), april, accumulating=True,
                        direction="higher_is_better")
    assert result.target == 300 and result.prorated_target == 150 and result.status == "on_track"


def test_which_metrics_accumulate(catalog: Catalog) -> None:
    assert accumulates(catalog.metric("leads_created"))
    assert accumulates(catalog.metric("revenue_won"))
    assert not accumulates(catalog.metric("win_rate"))
    assert not accumulates(catalog.metric("lead_conversion_rate"))
    assert not accumulates(catalog.metric("speed_to_lead_hours"))
    assert not accumulates(catalog.metric("open_deals"))  # a snapshot at the period end
    assert not accumulates(catalog.metric("avg_deal_size"))


# --- KPI definitions -----------------------------------------------------------------------


def test_builtin_kpis_load(catalog: Catalog) -> None:
    kpis = {k.name: k for k in load_kpis(catalog)}
    assert {"revenue_won", "win_rate", "leads_created", "speed_to_lead_hours"} <= set(kpis)
    assert kpis["win_rate"].overall == 0.25 and kpis["win_rate"].period == "month"
    assert kpis["sales_cycle_days"].period == "quarter"


def write(directory: Path, name: str, text: str) -> None:
    (directory / f"{name}.yml").write_text(text, encoding="utf-8")


def test_user_kpis_override_and_every_problem_is_reported(
    catalog: Catalog, tmp_path: Path
) -> None:
    good = tmp_path / "good"
    good.mkdir()
    write(good, "win_rate", "name: win_rate\nmetric: win_rate\nperiod: quarter\n"
          "at_risk_band: 0.05\ntargets:\n  overall: 35%\n  teams: {East: 0.4}\n")
    kpis = {k.name: k for k in load_kpis(catalog, good)}
    assert kpis["win_rate"].overall == pytest.approx(0.35)
    assert kpis["win_rate"].teams == (("East", 0.4),)
    assert kpis["win_rate"].period == "quarter" and kpis["win_rate"].at_risk_band == 0.05

    bad = tmp_path / "bad"
    bad.mkdir()
    write(bad, "wins", "name: wins\nmetric: win_rat\nperiod: fortnight\nat_risk_band: 2\n"
          "colour: red\ntargets:\n  overall: lots\n  regions: {}\n")
    write(bad, "revenue", "name: revenue_won\nmetric: revenue_won\ntargets:\n"
          "  teams: {East: -5}\n  reps: [Alice]\n")
    write(bad, "broken", "name: [unclosed\n")
    write(bad, "rate", "name: rate\nmetric: win_rate\ntargets: {overall: 30}\n")
    with pytest.raises(KpiDefinitionError) as error:
        load_kpis(catalog, bad)
    found = {(i.file, i.field) for i in error.value.issues}
    assert {
        ("wins.yml", "metric"), ("wins.yml", "period"), ("wins.yml", "at_risk_band"),
        ("wins.yml", "colour"), ("wins.yml", "targets.overall"), ("wins.yml", "targets.regions"),
        ("revenue.yml", "name"), ("revenue.yml", "targets.teams.East"),
        ("revenue.yml", "targets.reps"), ("broken.yml", "-"), ("rate.yml", "targets.overall"),
    } <= found
    text = str(error.value)
    assert "Did you mean: win_rate" in text and "write 30% as 0.3" in text


def test_yaml_defaults_scale_to_the_asked_span() -> None:
    kpi = KpiDefinition("revenue_won", "revenue_won", None, "month", "Sales", 0.1, overall=1000)
    now = dt.datetime(2026, 5, 20)
    cases = [("Q1 2026", True, 3.0), ("April 2026", True, 1.0), ("last year", True, 12.0),
             ("2026-04-01 to 2026-04-15", True, 15 / 30), ("Q1 2026", False, 1.0)]
    for text, accumulating, scale in cases:
        (found,) = yaml_targets(kpi, period(text, now), CALENDAR, accumulating)
        assert found.scale == pytest.approx(scale), text


# --- targets in the database ---------------------------------------------------------------

NOW = dt.datetime(2026, 3, 10, 14)  # UTC; March is 230 / 744 elapsed
DEALS = [
    # owner, amount, is_won, closed_at
    ("Alice", 1000.0, True, dt.datetime(2026, 3, 2, 10)),
    ("Alice", 500.0, True, dt.datetime(2026, 3, 9, 23)),
    ("Bob", 700.0, True, dt.datetime(2026, 3, 5, 8)),
    ("Bob", 300.0, False, dt.datetime(2026, 3, 6, 12)),
    ("Cara", 300.0, True, dt.datetime(2026, 3, 10, 15)),  # after "now": not counted yet
    ("Alice", 200.0, True, dt.datetime(2026, 2, 20, 9)),  # February
    ("Cara", 900.0, False, dt.datetime(2026, 3, 3, 16)),
    ("Cara", 400.0, None, None),  # open
]
TEAMS = {"Alice": "East", "Bob": "West", "Cara": "East"}


@pytest.fixture(scope="module", params=BACKENDS)
def crm(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    with migrated_engine(str(request.param), tmp_path_factory.mktemp("crm")) as engine:
        with engine.begin() as conn:
            team_ids = {}
            for name in ("East", "West"):
                team_ids[name] = conn.execute(insert(Team).values(name=name)
                                              .returning(Team.id)).scalar_one()
            rep_ids = {}
            for name, team in TEAMS.items():
                rep_ids[name] = conn.execute(insert(Rep).values(
                    source_system="test", external_id=name, name=name, team_id=team_ids[team],
                ).returning(Rep.id)).scalar_one()
            for index, (owner, amount, won, closed) in enumerate(DEALS):
                conn.execute(insert(Deal).values(
                    source_system="test", external_id=f"d{index}", owner_id=rep_ids[owner],
                    stage="Won" if won else ("Lost" if won is False else "Proposal"),
                    amount=amount, is_won=won, closed_at=closed,
                    created_at=dt.datetime(2026, 1, 15),
                ))
        yield engine


@pytest.fixture
def clean(crm: Engine) -> Engine:
    with crm.begin() as conn:
        conn.execute(delete(KpiTarget))
    return crm


def expected(scope_team: str | None = None) -> dict[str, float]:
    """revenue_won, deals_won, win_rate over March up to NOW, recomputed with pandas."""
    frame = pd.DataFrame(DEALS, columns=["owner", "amount", "is_won", "closed_at"])
    frame["team"] = frame["owner"].map(TEAMS)
    closed = frame[(frame.closed_at >= dt.datetime(2026, 3, 1)) & (frame.closed_at < NOW)]
    if scope_team:
        closed = closed[closed.team == scope_team]
    won = closed[closed.is_won == True]  # noqa: E712 - a pandas mask
    return {"revenue_won": float(won.amount.sum()), "deals_won": float(len(won)),
            "win_rate": len(won) / len(closed)}


def test_database_targets_win_over_yaml(clean: Engine, catalog: Catalog) -> None:
    march = period("this month", NOW)
    kpi = KpiDefinition("revenue_won", "revenue_won", None, "month", "Sales", 0.1,
                        overall=5000, teams=(("East", 2500), ("West", 800)))
    set_target(clean, catalog, "revenue", 2000, march)  # a synonym of revenue_won
    set_target(clean, catalog, "revenue_won", 1600, march, team="east", at_risk_band=0.2)
    # Another month's row must not leak into March.
    set_target(clean, catalog, "revenue_won", 9999, period("February 2026", NOW), team="West")
    with clean.connect() as conn:
        stored = database_targets(conn, march)
    chosen = {t.scope: t for t in resolve_targets(kpi, march, CALENDAR, True, stored)}
    assert chosen[OVERALL].value == 2000 and chosen[OVERALL].source == "database"
    assert chosen[Scope("team", "East")].value == 1600
    assert chosen[Scope("team", "East")].at_risk_band == 0.2
    assert chosen[Scope("team", "West")].value == 800
    assert chosen[Scope("team", "West")].source == "revenue_won"
    assert chosen[OVERALL].owner is None  # no KPI passed to set_target: nothing inherited
    # Pacing a query result: its total against the chosen target.
    status = pace(query(clean, catalog, "revenue_won", march), chosen[OVERALL], march)
    assert status.actual == expected()["revenue_won"]
    assert status.projected == pytest.approx(expected()["revenue_won"] * 744 / 230)
    assert status.status == "on_track" and status.metric == "revenue_won"


def test_target_set_upserts_one_row(clean: Engine, catalog: Catalog) -> None:
    march = period("March 2026", NOW)
    kpis = load_kpis(catalog)
    first = set_target(clean, catalog, "win_rate", "30%", march, kpis=kpis)
    assert (first.value, first.owner, first.at_risk_band) == (0.3, "Sales", 0.1)
    set_target(clean, catalog, "win_rate", 0.35, march, owner="Dana", kpis=kpis)
    set_target(clean, catalog, "win_rate", 0.4, march, rep="alice", kpis=kpis)
    with clean.connect() as conn:
        rows = conn.execute(select(KpiTarget.value, KpiTarget.owner, KpiTarget.rep_id,
                                   KpiTarget.period_kind, KpiTarget.period_start,
                                   KpiTarget.period_end).order_by(KpiTarget.id)).all()
    assert [(r.value, r.owner, r.rep_id is None) for r in rows] == [
        (0.35, "Dana", True), (0.4, "Sales", False)
    ]
    assert {(r.period_kind, r.period_start, r.period_end) for r in rows} == {
        ("month", dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    }


def test_target_set_rejects_bad_input_and_writes_nothing(clean: Engine, catalog: Catalog) -> None:
    march = period("March 2026", NOW)
    cases = [
        (dict(metric="revenu_won", value=10), UnknownNameError, "revenue_won"),
        (dict(metric="revenue_won", value=10, team="Eest"), UnknownNameError, "East"),
        (dict(metric="revenue_won", value=10, rep="Alise"), UnknownNameError, "Alice"),
        (dict(metric="revenue_won", value="lots"), InvalidInputError, "not a number"),
        (dict(metric="revenue_won", value=-3), InvalidInputError, "negative"),
        (dict(metric="win_rate", value=30), InvalidInputError, "0.3"),
        (dict(metric="revenue_won", value=10, at_risk_band=1.5), InvalidInputError, "[0, 1)"),
        (dict(metric="revenue_won", value=10, team="East", rep="Bob"), InvalidInputError, "both"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message.replace("[", r"\[").replace(")", r"\)")):
            set_target(clean, catalog, period=march, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="whole week, month, quarter or year"):
        set_target(clean, catalog, "revenue_won", 10, period("last 30 days", NOW))
    with clean.connect() as conn:
        assert conn.execute(select(func.count()).select_from(KpiTarget)).scalar() == 0


# --- the command line, end to end ----------------------------------------------------------


def test_target_set_then_kpis_json(clean: Engine, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import app
    from kpi_engine.config import get_settings

    user_kpis = tmp_path / "kpis"
    user_kpis.mkdir()
    write(user_kpis, "revenue_won", "name: revenue_won\nmetric: revenue_won\nperiod: month\n"
          "owner: Sales\ntargets:\n  overall: 5000\n  teams: {West: 800}\n")
    monkeypatch.setenv("KPIBOT_DATABASE_URL", clean.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KPIBOT_NOW", NOW.isoformat())
    monkeypatch.setenv("KPIBOT_TARGETS_DIR", str(user_kpis))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        for args in (["revenue_won", "3000", "--period", "March 2026"],
                     ["revenue_won", "2000", "--period", "March 2026", "--owner", "Dana"],
                     ["deals_won", "4", "--team", "east"],
                     ["win ratio", "65%", "--at-risk-band", "0.1"]):
            done = runner.invoke(app, ["target", "set", *args])
            assert done.exit_code == 0, done.output
        assert done.stdout.startswith("Target set: Win rate 65.0 % for this month (March 2026)")
        stored = runner.invoke(app, ["target", "set", "deals_won", "4", "--team", "East",
                                     "--json"])
        assert stored.exit_code == 0, stored.output
        assert json.loads(stored.stdout) == {
            "metric": "deals_won", "value": 4.0, "scope": {"kind": "team", "name": "East"},
            "period": {"label": "this month (March 2026)", "grain": "month",
                       "start": "2026-03-01", "end": "2026-04-01"},
            "at_risk_band": 0.1, "owner": "Sales",
        }
        for args, message in ((["revenu_won", "5"], "revenue_won"),
                              (["revenue_won", "5", "--team", "Eest"], "East"),
                              (["revenue_won", "5", "--period", "last 30 days"], "whole"),
                              (["revenue_won", "5", "--period", "someday"], "Try for example")):
            bad = runner.invoke(app, ["target", "set", *args])
            assert bad.exit_code != 0 and message in bad.stderr and "Traceback" not in bad.output
        with clean.connect() as conn:
            assert conn.execute(select(func.count()).select_from(KpiTarget)).scalar() == 3

        shown = runner.invoke(app, ["kpis", "--json"])
        assert shown.exit_code == 0, shown.output
        board = {(k["metric"], k["scope"]["name"]): k for k in json.loads(shown.stdout)["kpis"]}
        elapsed = 230 / 744
        overall, east, west = expected(), expected("East"), expected("West")

        revenue = board[("revenue_won", None)]
        assert revenue["actual"] == overall["revenue_won"]
        assert (revenue["target"], revenue["owner"], revenue["target_source"]) == (
            2000, "Dana", "database"
        )
        assert revenue["prorated_target"] == pytest.approx(2000 * elapsed)
        assert revenue["projected"] == pytest.approx(overall["revenue_won"] / elapsed)
        assert revenue["status"] == "on_track"
        assert revenue["period"]["start"] == "2026-03-01T00:00:00+00:00"
        assert revenue["period"]["query_end"] == "2026-03-10T14:00:00+00:00"
        assert revenue["period"]["elapsed_fraction"] == pytest.approx(elapsed)

        west_revenue = board[("revenue_won", "West")]  # from the user's YAML
        assert west_revenue["actual"] == west["revenue_won"]
        assert west_revenue["target"] == 800 and west_revenue["target_source"].endswith(
            "revenue_won.yml"
        )
        # 700 so far against 800 * 0.309 = 247 pro-rated: far ahead.
        assert west_revenue["status"] == "on_track"

        deals = board[("deals_won", "East")]
        assert deals["actual"] == east["deals_won"] and deals["target"] == 4
        assert deals["projected"] == pytest.approx(east["deals_won"] / elapsed)

        win = board[("win_rate", None)]
        assert win["actual"] == pytest.approx(overall["win_rate"])  # 3 of 5 closed
        assert (win["target"], win["prorated_target"], win["projected"]) == (
            0.65, 0.65, pytest.approx(overall["win_rate"])
        )
        assert win["status"] == "at_risk"  # 0.60 is within 10 % below 0.65
        # A KPI with no target anywhere is listed with its actual.
        assert board[("deals_won", None)]["status"] == "no_target"
        assert board[("deals_won", None)]["actual"] == overall["deals_won"]

        text = runner.invoke(app, ["kpis"])
        assert text.exit_code == 0, text.output
        assert "Win rate · overall · this month (March 2026)" in text.stdout
        assert "AT RISK" in text.stdout
        bad = runner.invoke(app, ["kpis", "--period", "the other day"])
        assert bad.exit_code != 0 and "Try for example" in bad.stderr

        # Another period: last month has no database targets, so YAML defaults apply.
        past = runner.invoke(app, ["kpis", "--period", "February 2026", "--json"])
        past_board = {(k["metric"], k["scope"]["name"]): k for k in json.loads(past.stdout)["kpis"]}
        assert past_board[("revenue_won", None)]["target"] == 5000
        assert past_board[("revenue_won", None)]["actual"] == 200
        assert past_board[("revenue_won", None)]["status"] == "off_track"
        assert past_board[("win_rate", None)]["target"] == 0.25
    finally:
        get_settings.cache_clear()


# --- the demo data: its stored targets, end to end ---------------------------------------

DEMO_NOW = dt.datetime(2026, 3, 10, 14)


# SQLite only: seeding the demo on PostgreSQL costs 8-17 s here, and the small CRM above already
# runs `target set` + `kpis --json` end to end on both backends.
@pytest.mark.parametrize("backend", ["sqlite"])
def test_kpis_on_the_demo_data(backend: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import app
    from kpi_engine.config import get_settings
    from kpi_engine.demo import seed_demo

    with migrated_engine(backend, tmp_path) as engine:
        seed_demo(engine, today=DEMO_NOW.date(), seed=42)
        monkeypatch.setenv("KPIBOT_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        monkeypatch.setenv("KPIBOT_NOW", DEMO_NOW.isoformat())
        monkeypatch.delenv("KPIBOT_TARGETS_DIR", raising=False)
        get_settings.cache_clear()
        runner = CliRunner()
        try:
            before = runner.invoke(app, ["kpis", "--json"])
            targets, deals = _demo_tables(engine)
            changed = runner.invoke(app, ["target", "set", "deals_won", "99", "--team", "North"])
            after = runner.invoke(app, ["kpis", "--json"])
            with engine.connect() as conn:
                count = conn.execute(select(func.count()).select_from(KpiTarget)).scalar()
        finally:
            get_settings.cache_clear()
    assert before.exit_code == 0, before.output
    assert changed.exit_code == 0, changed.output
    board = {(k["metric"], k["scope"]["name"]): k for k in json.loads(before.stdout)["kpis"]}
    elapsed = 230 / 744

    # Every stored March target is on the board, as stored.
    march = targets[targets.period_start == dt.date(2026, 3, 1)]
    assert len(march) > 10
    for row in march.itertuples():
        name = row.rep if isinstance(row.rep, str) else (
            row.team if isinstance(row.team, str) else None)
        shown = board[(row.metric, name)]
        assert shown["target"] == pytest.approx(row.value)
        assert shown["target_source"] == "database"

    # Deals won and revenue won per scope, recomputed from the deals.
    closed = deals[(deals.closed_at >= dt.datetime(2026, 3, 1)) & (deals.closed_at < DEMO_NOW)]
    won = closed[closed.is_won.astype(bool)]
    checked = 0
    for (metric, name), shown in board.items():
        if metric not in ("deals_won", "revenue_won"):
            continue
        kind = shown["scope"]["kind"]
        rows = won if kind == "overall" else won[won[kind] == name]
        actual = float(len(rows)) if metric == "deals_won" else float(rows.amount.sum())
        assert shown["actual"] == pytest.approx(actual), (metric, name)
        if shown["target"] is not None:
            prorated = shown["target"] * elapsed
            status = ("on_track" if actual >= prorated else
                      "at_risk" if actual >= prorated * 0.9 else "off_track")
            assert shown["status"] == status, (metric, name)
            assert shown["projected"] == pytest.approx(actual / elapsed)
        checked += 1
    assert checked >= 10

    # `target set` replaced the demo's row for team North rather than adding one.
    after_board = {(k["metric"], k["scope"]["name"]): k for k in json.loads(after.stdout)["kpis"]}
    assert after_board[("deals_won", "North")]["target"] == 99
    assert len(after_board) == len(board) and count == len(targets)


def _demo_tables(engine: Engine) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stored targets and the deals with their rep and team, as plain rows."""
    with engine.connect() as conn:
        targets = pd.read_sql(
            select(KpiTarget.metric, KpiTarget.value, KpiTarget.period_start,
                   Team.name.label("team"), Rep.name.label("rep"))
            .outerjoin(Team, Team.id == KpiTarget.team_id)
            .outerjoin(Rep, Rep.id == KpiTarget.rep_id), conn)
        deals = pd.read_sql(
            select(Deal.amount, Deal.is_won, Deal.closed_at, Rep.name.label("rep"),
                   Team.name.label("team"))
            .outerjoin(Rep, Rep.id == Deal.owner_id).outerjoin(Team, Team.id == Rep.team_id),
            conn)
    return targets, deals
