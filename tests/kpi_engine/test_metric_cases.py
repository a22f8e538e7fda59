"""Golden cases (tests/kpi_engine/cases/*.yml): the engine against an independent computation.

Each case names a metric, a period, a frozen `now` and optionally by / grain / filters /
compare, and carries a hand-written check: pandas over the SOURCE files of the data set
(Maven, Olist) or over plain SELECTs of the canonical tables (demo). The check sets
`expected` (a number; a {group: value} dict with `by`; a {"YYYY-MM-DD": value} dict with
`grain`), and may set `expected_baseline` and `expected_missing`.

Every data set is loaded once per backend (module scope).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine, text

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import load_catalog
from kpi_engine.clock import FixedClock
from kpi_engine.periods import parse_period
from kpi_engine.query import query
from kpi_engine.specs import NONE_LABEL, Filter
from tests.conftest import DATA_DIR
from tests.databases import BACKENDS, migrated_engine

CASES_DIR = Path(__file__).with_name("cases")
DEMO_TODAY = dt.date(2026, 3, 18)


def _cases() -> list[Any]:
    out = []
    for path in sorted(CASES_DIR.glob("*.yml")):
        spec = yaml.safe_load(path.read_text())
        for case in spec["cases"]:
            case = {"now": spec["now"], "timezone": spec.get("timezone", "UTC"), **case}
            out.append(pytest.param(spec["dataset"], case, id=f"{path.stem}-{case['id']}"))
    return out


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    """Per backend: a database per data set, loaded on first use."""
    from contextlib import ExitStack

    backend = str(request.param)
    with ExitStack() as stack:
        engines: dict[str, Engine] = {}

        class Lazy(dict[str, Engine]):
            def __missing__(self, dataset: str) -> Engine:
                engine = stack.enter_context(
                    migrated_engine(backend, tmp_path_factory.mktemp(dataset)))
                _load(dataset, engine)
                self[dataset] = engine
                return engine

        engines = Lazy()
        yield engines


def _load(dataset: str, engine: Engine) -> None:
    if dataset == "maven":
        from kpi_engine.importers import import_maven_crm

        import_maven_crm(engine, DATA_DIR / "maven_crm_sales")
    elif dataset == "olist":
        from kpi_engine.importers import import_olist

        import_olist(engine, DATA_DIR / "olist_marketing_funnel")
    else:
        from kpi_engine.demo import seed_demo

        seed_demo(engine, today=DEMO_TODAY, seed=42)


_SOURCES: dict[str, dict[str, pd.DataFrame]] = {}


def _source_frames(dataset: str) -> dict[str, pd.DataFrame]:
    """The source files, read with pandas, independently of the importers."""
    if dataset in _SOURCES:
        return _SOURCES[dataset]
    if dataset == "maven":
        folder = DATA_DIR / "maven_crm_sales"
        pipeline = pd.read_csv(folder / "sales_pipeline.csv",
                               parse_dates=["engage_date", "close_date"])
        pipeline["product"] = pipeline["product"].replace({"GTXPro": "GTX Pro"})
        teams = pd.read_csv(folder / "sales_teams.csv")
        accounts = pd.read_csv(folder / "accounts.csv")
        pipeline = pipeline.merge(teams, on="sales_agent", how="left").merge(
            accounts[["account", "sector"]], on="account", how="left")
        frames = {"pipeline": pipeline}
    elif dataset == "olist":
        folder = DATA_DIR / "olist_marketing_funnel"
        mqls = pd.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv",
                           parse_dates=["first_contact_date"])
        closed = pd.read_csv(folder / "olist_closed_deals_dataset.csv", parse_dates=["won_date"])
        frames = {"mqls": mqls, "closed": closed,
                  "funnel": mqls.merge(closed, on="mql_id", how="left")}
    else:
        frames = {}
    _SOURCES[dataset] = frames
    return frames


def _frame(engine: Engine, sql: str) -> pd.DataFrame:
    """A plain SELECT over the canonical tables, timestamps parsed (SQLite gives text)."""
    with engine.connect() as conn:
        result = conn.execute(text(sql))
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for column in frame.columns:
        if column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return frame


def _utc(moment: dt.datetime) -> pd.Timestamp:
    return pd.Timestamp(moment.astimezone(dt.UTC).replace(tzinfo=None))


@pytest.mark.parametrize(("dataset", "case"), _cases())
def test_golden_case(loaded: dict[str, Engine], dataset: str, case: dict[str, Any]) -> None:
    engine = loaded[dataset]
    calendar = Calendar(ZoneInfo(case["timezone"]))
    clock = FixedClock(dt.datetime.fromisoformat(case["now"]), ZoneInfo(case["timezone"]))
    period = parse_period(case["period"], clock, calendar)
    filters = tuple(Filter(dim, tuple(values)) for dim, values in case.get("filters", {}).items())
    by = case.get("by")
    result = query(engine, load_catalog(), case["metric"], period, grain=case.get("grain"),
                   group_by=(by,) if by else (), filters=filters, compare=case.get("compare"))

    start, end = (pd.Timestamp(b) for b in period.utc_bounds())
    namespace: dict[str, Any] = {
        "pd": pd, "np": np, "start": start, "end": end, "as_of": _utc(period.as_of),
        "tz": case["timezone"], "frame": lambda sql: _frame(engine, sql),
        **{k: v.copy() for k, v in _source_frames(dataset).items()},
    }
    if result.comparison is not None:
        base_start, base_end = result.comparison.baseline_period.utc_bounds()
        namespace |= {"base_start": pd.Timestamp(base_start), "base_end": pd.Timestamp(base_end),
                      "base_as_of": _utc(result.comparison.baseline_period.as_of)}
    exec(case["check"], namespace)  # the hand-written check from the case file
    expected = namespace["expected"]

    if isinstance(expected, dict):
        if case.get("grain"):
            got = {row.bucket.strftime("%Y-%m-%d"): row.value for row in result.rows}
        else:
            got = {row.group[0][1]: row.value for row in result.rows}
        expected = {NONE_LABEL if pd.isna(k) else str(k): _clean(v) for k, v in expected.items()}
        for key in set(got) - set(expected):  # groups the check did not list must be empty
            assert got[key] in (0, None), (key, got[key])
        for key, value in expected.items():
            _same(got.get(key), value, f"{case['id']} [{key}]")
    else:
        _same(result.total.value, _clean(expected), case["id"])
    if "expected_baseline" in namespace:
        assert result.comparison is not None
        _same(result.comparison.baseline, _clean(namespace["expected_baseline"]), "baseline")
    if "expected_missing" in namespace:
        assert result.total.extra("missing") == namespace["expected_missing"]
    assert result.provenance.query_id and result.sql


def _same(got: float | None, expected: float | None, what: str) -> None:
    if expected is None:
        assert got is None, what
    else:
        assert got == pytest.approx(expected, rel=1e-9), what


def _clean(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return float(value)


# --- invariants over the same loaded data ---------------------------------------------------

MAVEN_NOW = FixedClock(dt.datetime(2018, 1, 1), ZoneInfo("UTC"))


def _period(text_: str, clock: FixedClock = MAVEN_NOW, tz: str = "UTC") -> Any:
    return parse_period(text_, clock, Calendar(ZoneInfo(tz)))


@pytest.mark.parametrize(("metric", "dimension"), [
    ("deals_won", "region"), ("revenue_won", "product"), ("deals_lost", "sector"),
    ("open_deals", "manager"), ("stalled_deals", "team"), ("deals_created", "rep"),
])
def test_group_parts_add_up_to_the_total(loaded: dict[str, Engine], metric: str,
                                         dimension: str) -> None:
    catalog = load_catalog()
    assert catalog.metric(metric).additive
    result = query(loaded["maven"], catalog, metric, _period("Q3 2017"), group_by=(dimension,))
    assert len(result.rows) > 1
    assert sum(r.value or 0 for r in result.rows) == pytest.approx(result.total.value)


def test_ratio_parts_add_up(loaded: dict[str, Engine]) -> None:
    result = query(loaded["maven"], load_catalog(), "win_rate", _period("2017"),
                   group_by=("product",))
    assert sum(r.numerator or 0 for r in result.rows) == result.total.numerator
    assert sum(r.denominator or 0 for r in result.rows) == result.total.denominator


@pytest.mark.parametrize(("metric", "compare"), [
    ("win_rate", "previous"), ("revenue_won", "previous"), ("sales_cycle_days", "previous"),
    ("open_deals", "previous"), ("deals_won", "last_year"),
])
def test_a_comparison_equals_two_single_period_queries(loaded: dict[str, Engine], metric: str,
                                                       compare: str) -> None:
    catalog = load_catalog()
    period = _period("Q3 2017") if compare == "previous" else _period("2017-12-01 to 2017-12-31")
    compared = query(loaded["maven"], catalog, metric, period, compare=compare)
    assert compared.comparison is not None
    baseline_period = compared.comparison.baseline_period
    alone = query(loaded["maven"], catalog, metric, period)
    before = query(loaded["maven"], catalog, metric, baseline_period)
    assert compared.total.value == pytest.approx(alone.total.value)
    assert compared.comparison.baseline == pytest.approx(before.total.value)
    if compared.comparison.change is not None:
        scale = 100.0 if compared.metric.unit == "fraction" else 1.0
        assert compared.comparison.change == pytest.approx(
            (alone.total.value - before.total.value) * scale)


def test_partial_period_compares_same_elapsed_length(loaded: dict[str, Engine]) -> None:
    clock = FixedClock(dt.datetime(2017, 8, 10, 12), ZoneInfo("UTC"))
    result = query(loaded["maven"], load_catalog(), "deals_won", _period("MTD", clock),
                   compare="previous")
    assert result.comparison is not None
    start, end = result.comparison.baseline_period.utc_bounds()
    assert (start, end) == (dt.datetime(2017, 7, 1), dt.datetime(2017, 7, 10, 12))


@pytest.mark.parametrize(("dataset", "metric", "period", "grain", "tz"), [
    ("maven", "deals_won", "Q3 2017", "week", "UTC"),
    ("maven", "revenue_won", "2017", "month", "Europe/Paris"),
    ("demo", "leads_created", "2026-03-01 to 2026-03-17", "day", "Europe/Paris"),
    ("demo", "activities_logged", "last 60 days", "week", "America/Los_Angeles"),
])
def test_series_buckets_add_up_to_the_total(loaded: dict[str, Engine], dataset: str, metric: str,
                                            period: str, grain: str, tz: str) -> None:
    now = dt.datetime(2018, 1, 1) if dataset == "maven" else dt.datetime(2026, 3, 18, 12)
    resolved = _period(period, FixedClock(now, ZoneInfo(tz)), tz)
    result = query(loaded[dataset], load_catalog(), metric, resolved, grain=grain)
    assert len(result.rows) > 2
    assert [r.bucket for r in result.rows] == sorted(r.bucket for r in result.rows)
    assert sum(r.value or 0 for r in result.rows) == pytest.approx(result.total.value)


def test_several_metrics_over_one_table_share_one_scan(loaded: dict[str, Engine]) -> None:
    from kpi_engine.compile import compile_request
    from kpi_engine.query import run
    from kpi_engine.specs import MetricRequest

    catalog = load_catalog()
    names = ("deals_won", "deals_lost", "win_rate", "revenue_won", "avg_deal_size",
             "sales_cycle_days", "deals_created", "open_deals")
    request = MetricRequest.create(names, _period("Q3 2017"), compare="previous")
    engine = loaded["maven"]
    plan = compile_request(request, catalog, engine.dialect.name)
    assert len(plan.scans) == 1
    results = run(engine, catalog, request)
    for result in results:
        alone = query(engine, catalog, result.metric.name, request.period, compare="previous")
        assert result.total.value == pytest.approx(alone.total.value), result.metric.name
        assert result.comparison.baseline == pytest.approx(alone.comparison.baseline)
        assert result.provenance.rows_counted == alone.provenance.rows_counted


def test_date_filters_leave_the_column_bare(loaded: dict[str, Engine]) -> None:
    result = query(loaded["maven"], load_catalog(), "win_rate", _period("Q3 2017"))
    where = result.sql.split("WHERE", 1)[1]
    assert "deals.closed_at >=" in where and "deals.closed_at <" in where
    assert "(deals.closed_at" not in where.replace("(deals.closed_at >=", "").replace(
        "(deals.closed_at <", "")


def test_provenance(loaded: dict[str, Engine]) -> None:
    filters = (Filter("region", ("West",)),)
    result = query(loaded["maven"], load_catalog(), "deals_won", _period("Q3 2017"),
                   filters=filters)
    p = result.provenance
    assert p.metric == "deals_won" and p.timezone == "UTC" and p.filters == filters
    assert p.period_start == dt.datetime(2017, 7, 1, tzinfo=ZoneInfo("UTC"))
    assert p.period_end == dt.datetime(2017, 10, 1, tzinfo=ZoneInfo("UTC"))
    assert p.rows_counted == result.total.value > 0
    assert p.data_freshness is not None and p.data_freshness < dt.datetime(2017, 10, 1)
    assert len(p.query_id) == 10
    again = query(loaded["maven"], load_catalog(), "deals_won", _period("Q3 2017"),
                  filters=filters)
    assert again.provenance.query_id == p.query_id
