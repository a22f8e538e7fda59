"""Grouped and series requests: totals folded from the group rows in one statement, freshness
from a scalar subquery, and the SQLite connection pragmas. Expected figures are computed here
in Python from the rows inserted, independently of the engine."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, text

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import Catalog, load_catalog
from kpi_engine.clock import FixedClock
from kpi_engine.compile import compile_request
from kpi_engine.db.models import Deal, Rep, Team
from kpi_engine.db.session import SQLITE_CACHE_KIB, SQLITE_MMAP_BYTES, make_engine
from kpi_engine.periods import Period, parse_period
from kpi_engine.query import run
from kpi_engine.specs import Filter, MetricRequest, MetricResult
from tests.databases import BACKENDS, migrated_engine

UTC = ZoneInfo("UTC")
NOW = dt.datetime(2025, 4, 5, 12, 0)
TEAM_OF_REP = {1: "North", 2: "South", 3: None}  # rep 3 has no team
# (id, owner, amount, created_at, closed_at, is_won)
DEALS = [
    (1, 1, 100.0, dt.datetime(2024, 11, 2), dt.datetime(2025, 1, 10, 9), True),
    (2, 1, 300.0, dt.datetime(2025, 1, 5), dt.datetime(2025, 2, 20, 17), True),
    (3, 2, 40.0, dt.datetime(2025, 1, 9), dt.datetime(2025, 3, 15), False),
    (4, 2, 250.0, dt.datetime(2024, 12, 1), dt.datetime(2025, 3, 30, 23), True),
    (5, 3, 70.0, dt.datetime(2025, 2, 1), dt.datetime(2025, 2, 2), True),
    (6, None, 10.0, dt.datetime(2025, 2, 3), dt.datetime(2025, 3, 1), False),
    (7, 1, None, dt.datetime(2025, 3, 2), None, None),  # open
    (8, 2, 500.0, dt.datetime(2025, 3, 20), dt.datetime(2025, 4, 2), True),  # closes after Q1
    (9, 1, 60.0, dt.datetime(2024, 10, 3), dt.datetime(2024, 12, 5), True),  # Q4 2024
    (10, 2, 20.0, dt.datetime(2024, 10, 9), dt.datetime(2024, 11, 7), False),
]


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine(str(request.param), tmp_path_factory.mktemp("folding")) as eng:
        with eng.begin() as conn:
            conn.execute(insert(Team), [{"id": 1, "name": "North"}, {"id": 2, "name": "South"}])
            conn.execute(insert(Rep), [
                {"id": i, "source_system": "t", "external_id": str(i), "name": n, "team_id": t}
                for i, n, t in [(1, "Ann", 1), (2, "Bob", 2), (3, "Cid", None)]])
            conn.execute(insert(Deal), [
                {"id": i, "source_system": "t", "external_id": str(i), "stage": "x",
                 "owner_id": o, "amount": a, "created_at": c, "closed_at": z, "is_won": w}
                for i, o, a, c, z, w in DEALS])
        yield eng


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _period(words: str) -> Period:
    return parse_period(words, FixedClock(NOW.replace(tzinfo=dt.UTC), UTC), Calendar(UTC))


def _closed(start: dt.datetime, end: dt.datetime, team: str | None = "*") -> list[tuple]:
    """Deals closed in [start, end) (optionally of one team), as the engine should count them."""
    return [d for d in DEALS if d[4] is not None and start <= d[4] < end and d[5] is not None
            and (team == "*" or TEAM_OF_REP.get(d[1]) == team)]


Q1 = (dt.datetime(2025, 1, 1), dt.datetime(2025, 4, 1))
Q4 = (dt.datetime(2024, 10, 1), dt.datetime(2025, 1, 1))


def _run(engine: Engine, catalog: Catalog, metrics: tuple[str, ...], **options: object
         ) -> tuple[int, tuple[MetricResult, ...]]:
    request = MetricRequest.create(metrics, _period(str(options.pop("period", "Q1 2025"))),
                                   **options)  # type: ignore[arg-type]
    statements = len(compile_request(request, catalog, engine.dialect.name).scans)
    return statements, run(engine, catalog, request)


@pytest.mark.parametrize("options", [
    {"group_by": ("team",)},
    {"group_by": ("rep",), "compare": "previous"},
    {"grain": "month"},
    {"grain": "week", "group_by": ("team",)},
], ids=["by-team", "by-rep-vs-previous", "by-month", "by-week-and-team"])
def test_additive_groups_fold_their_totals_in_one_statement(
        engine: Engine, catalog: Catalog, options: dict[str, object]) -> None:
    statements, (won, rate, revenue) = _run(engine, catalog,
                                            ("deals_won", "win_rate", "revenue_won"), **options)
    assert statements == 1
    closed = _closed(*Q1)
    wins = [d for d in closed if d[5]]
    assert won.total.value == len(wins) == 4
    assert rate.total.value == pytest.approx(len(wins) / len(closed))
    assert (rate.total.numerator, rate.total.denominator) == (len(wins), len(closed))
    assert revenue.total.value == pytest.approx(sum(d[2] for d in wins))
    # Rows counted: the metric's own rows (a ratio's: its denominator's); freshness: their latest.
    assert won.provenance.rows_counted == len(wins)
    assert rate.provenance.rows_counted == len(closed)
    assert won.provenance.data_freshness == max(d[4] for d in wins)
    assert rate.provenance.data_freshness == max(d[4] for d in closed)
    assert sum(r.value or 0 for r in won.rows) == won.total.value
    if options.get("compare"):
        before = _closed(*Q4)
        assert won.comparison is not None and rate.comparison is not None
        assert won.comparison.baseline == len([d for d in before if d[5]])
        assert rate.comparison.baseline == pytest.approx(
            len([d for d in before if d[5]]) / len(before))


def test_a_dimension_filter_reaches_the_folded_totals_and_freshness(
        engine: Engine, catalog: Catalog) -> None:
    statements, (won,) = _run(engine, catalog, ("deals_won",), group_by=("rep",),
                              filters=(Filter("team", ("South",)),))
    south = [d for d in _closed(*Q1, team="South") if d[5]]
    assert statements == 1
    assert won.total.value == won.provenance.rows_counted == len(south) == 1
    assert won.provenance.data_freshness == max(d[4] for d in south)
    assert [(r.group, r.value) for r in won.rows] == [((("rep", "Bob"),), 1.0)]


def test_a_snapshot_by_team_folds_and_its_freshness_is_the_latest_open_row(
        engine: Engine, catalog: Catalog) -> None:
    statements, (open_deals,) = _run(engine, catalog, ("open_deals",), group_by=("team",))
    end = Q1[1]
    still_open = [d for d in DEALS if d[3] < end and (d[4] is None or d[4] >= end)]
    assert statements == 1
    assert open_deals.total.value == open_deals.provenance.rows_counted == len(still_open) == 2
    assert open_deals.provenance.data_freshness == max(d[3] for d in still_open)


def test_an_empty_period_folds_to_zero_rows_and_no_freshness(
        engine: Engine, catalog: Catalog) -> None:
    statements, (won, rate) = _run(engine, catalog, ("deals_won", "win_rate"),
                                   period="Q1 2020", group_by=("team",))
    assert statements == 1
    assert won.total.value == 0 and won.rows == ()
    assert rate.total.value is None
    assert won.provenance.rows_counted == 0 and won.provenance.data_freshness is None


@pytest.mark.parametrize("options", [
    {"group_by": ("team",)},
    {"grain": "month", "compare": "previous"},
], ids=["median-by-team", "series-vs-previous"])
def test_what_cannot_be_folded_keeps_its_totals_statement(
        engine: Engine, catalog: Catalog, options: dict[str, object]) -> None:
    metric = "sales_cycle_days" if "group_by" in options else "deals_won"
    statements, (result,) = _run(engine, catalog, (metric,), **options)
    assert statements == 2
    closed = _closed(*Q1)
    wins = [d for d in closed if d[5]]
    if metric == "sales_cycle_days":
        days = [(d[4] - d[3]).total_seconds() / 86400 for d in wins]
        assert result.total.value == pytest.approx(statistics.median(days))
        assert result.provenance.rows_counted == len(wins)
    else:
        assert result.total.value == len(wins)
        assert result.comparison is not None
        assert result.comparison.baseline == len([d for d in _closed(*Q4) if d[5]])
        assert result.provenance.data_freshness == max(d[4] for d in wins)


def test_freshness_is_a_subquery_not_a_per_row_max(engine: Engine, catalog: Catalog) -> None:
    _, (won,) = _run(engine, catalog, ("deals_won",))
    select_list = won.sql.split("FROM", 1)[0]
    assert "(SELECT max(deals.closed_at)" in select_list
    assert "max(CASE" not in won.sql


def test_sqlite_connections_map_the_file_and_keep_a_larger_cache(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as conn:
            cache = conn.execute(text("PRAGMA cache_size")).scalar_one()
            mmap = conn.execute(text("PRAGMA mmap_size")).scalar_one()
    finally:
        engine.dispose()
    assert cache == -SQLITE_CACHE_KIB
    # SQLite caps mmap_size at its compile-time maximum; it must at least be on.
    assert 0 < mmap <= SQLITE_MMAP_BYTES
