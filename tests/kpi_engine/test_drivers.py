"""Change drivers: the parts add up exactly to the change, and they find a planted cause."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import Catalog, load_catalog
from kpi_engine.clock import FixedClock
from kpi_engine.db.models import Deal, Lead, Product, Rep, Team
from kpi_engine.drivers import ChangeExplanation, explain_change
from kpi_engine.errors import KpiUserError, UnknownNameError
from kpi_engine.periods import parse_period
from tests.databases import BACKENDS, migrated_engine

UTC = ZoneInfo("UTC")
NOW = dt.datetime(2026, 3, 18, 12, 0)
CALENDAR = Calendar(UTC)
CLOCK = FixedClock(NOW, UTC)

# (closing month, team, won, lost): January is the baseline of "last month" (February).
# Each bucket is split evenly over two products, so the products move in proportion
# (they explain nothing) while the teams carry the change.
OUTCOMES = (
    (1, "A", 4, 4), (1, "B", 2, 2),
    (2, "A", 0, 4), (2, "B", 4, 4),
)

AMOUNTS = {"A": 100.0, "B": 300.0}  # every deal of a team has the same size


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(None)


def _seed_small_crm(engine: Engine) -> pd.DataFrame:
    """Insert the OUTCOMES deals; return them as a frame with their team and product."""
    rows = []
    for month, team, won, lost in OUTCOMES:
        for i, is_won in enumerate([True] * won + [False] * lost):
            rows.append({"month": month, "team": team, "is_won": is_won,
                         "product": "P1" if i % 2 == 0 else "P2",
                         "closed_at": dt.datetime(2026, month, 10 + i % 10, 9)})
    frame = pd.DataFrame(rows)
    with engine.begin() as conn:
        conn.execute(insert(Team), [{"id": 1, "name": "A"}, {"id": 2, "name": "B"}])
        conn.execute(insert(Rep), [
            {"id": 1, "source_system": "t", "external_id": "r1", "name": "Ann", "team_id": 1},
            {"id": 2, "source_system": "t", "external_id": "r2", "name": "Bob", "team_id": 2},
        ])
        conn.execute(insert(Product), [
            {"id": 1, "source_system": "t", "external_id": "P1", "name": "P1"},
            {"id": 2, "source_system": "t", "external_id": "P2", "name": "P2"},
        ])
        conn.execute(insert(Deal), [
            {"source_system": "t", "external_id": f"d{n}", "owner_id": 1 if r.team == "A" else 2,
             "product_id": 1 if r.product == "P1" else 2, "stage": "Won" if r.is_won else "Lost",
             "amount": AMOUNTS[r.team], "created_at": r.closed_at - dt.timedelta(days=30),
             "closed_at": r.closed_at, "is_won": r.is_won}
            for n, r in enumerate(frame.itertuples())
        ])
    return frame


@pytest.fixture(scope="module", params=BACKENDS)
def small_crm(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, pd.DataFrame]]:
    with migrated_engine(request.param, tmp_path_factory.mktemp("drivers")) as engine:
        yield engine, _seed_small_crm(engine)


def _explain(engine: Engine, catalog: Catalog, metric: str,
             dims: tuple[str, ...] = ("team", "product")) -> ChangeExplanation:
    period = parse_period("last month", CLOCK, CALENDAR)
    return explain_change(engine, catalog, metric, period, dimensions=dims)


def _reference_ratio_split(frame: pd.DataFrame, dim: str) -> dict[str, tuple[float, float]]:
    """Independent Shapley mix/rate split of the win rate, from the source rows."""
    stats = frame.groupby(["month", dim]).is_won.agg(["sum", "count"]).unstack("month")
    won, closed = stats["sum"].fillna(0), stats["count"].fillna(0)
    w0, w1 = closed[1] / closed[1].sum(), closed[2] / closed[2].sum()
    r0, r1 = won[1] / closed[1], won[2] / closed[2]
    rate0, rate1 = won[1].sum() / closed[1].sum(), won[2].sum() / closed[2].sum()
    average = (rate0 + rate1) / 2
    return {str(key): ((r1[key] - r0[key]) * (w0[key] + w1[key]) / 2,
                       (w1[key] - w0[key]) * ((r0[key] + r1[key]) / 2 - average))
            for key in closed.index}


def test_ratio_drivers_split_into_rate_and_mix_and_add_up(small_crm, catalog) -> None:
    engine, frame = small_crm
    explanation = _explain(engine, catalog, "win_rate")
    assert explanation.method == "ratio"
    assert explanation.baseline == pytest.approx(6 / 12)
    assert explanation.current == pytest.approx(4 / 12)
    assert explanation.change == pytest.approx(4 / 12 - 6 / 12)
    for breakdown in explanation.breakdowns:
        total = sum(c.contribution for c in breakdown.contributors)
        assert total == pytest.approx(explanation.change, abs=1e-12)
        assert sum(c.share for c in breakdown.contributors) == pytest.approx(1.0)
        expected = _reference_ratio_split(frame, breakdown.dimension)
        assert {c.value for c in breakdown.contributors} == set(expected)
        for c in breakdown.contributors:
            rate, mix = expected[c.value]
            assert c.rate_effect == pytest.approx(rate, abs=1e-12)
            assert c.mix_effect == pytest.approx(mix, abs=1e-12)
            assert c.contribution == pytest.approx(rate + mix, abs=1e-12)
    # The teams carry the change; the products moved in proportion, explaining nothing.
    team, product = explanation.breakdowns
    assert team.dimension == "team" and product.dimension == "product"
    assert product.concentration == pytest.approx(0.0, abs=1e-12)
    assert product.score == pytest.approx(0.0, abs=1e-9)
    assert team.score > product.score  # weak evidence on 24 deals, but more than none
    top = explanation.top_driver
    assert top is not None and top.value == "A"
    # Known answer: A's rate fell from 50 % to 0 on an average weight of 1/2 → −25 pp,
    # while its weight fell from 2/3 to 1/3 at a below-average rate → +5.6 pp of mix.
    assert top.rate_effect == pytest.approx(-0.25)
    assert top.mix_effect == pytest.approx(1 / 18)
    assert top.baseline == pytest.approx(0.5) and top.current == pytest.approx(0.0)


def test_additive_drivers_are_each_segments_own_change(small_crm, catalog) -> None:
    engine, frame = small_crm
    explanation = _explain(engine, catalog, "deals_won")
    assert explanation.method == "additive"
    won = frame[frame.is_won]
    assert explanation.baseline == (won.month == 1).sum()
    assert explanation.current == (won.month == 2).sum()
    for breakdown in explanation.breakdowns:
        counts = won.groupby(["month", breakdown.dimension]).size().unstack("month").fillna(0)
        got = {c.value: c.contribution for c in breakdown.contributors}
        assert got == {str(k): float(counts.loc[k, 2] - counts.loc[k, 1]) for k in counts.index}
        assert sum(got.values()) == explanation.change
        assert sum(c.share for c in breakdown.contributors) == pytest.approx(1.0)
    assert [b.dimension for b in explanation.breakdowns] == ["team", "product"]
    assert [(c.value, c.contribution) for c in explanation.breakdowns[0].contributors] == [
        ("A", -4.0), ("B", 2.0)]
    # Team B gained 2 against an expected −2/3, team A lost 4 against −4/3: 16/3 of 8.
    assert explanation.breakdowns[0].concentration == pytest.approx(2 / 3)


def test_derived_ratio_splits_into_mix_when_segment_rates_hold(small_crm, catalog) -> None:
    """avg_deal_size = revenue_won / deals_won: each team's deal size never changes, so the
    whole change is mix (more of team B's large wins) and the rate effects are zero."""
    engine, frame = small_crm
    explanation = _explain(engine, catalog, "avg_deal_size", dims=("team",))
    won = frame[frame.is_won].assign(amount=lambda f: f.team.map(AMOUNTS))
    before = won[won.month == 1].amount.mean()
    after = won[won.month == 2].amount.mean()
    assert explanation.method == "ratio"
    assert (explanation.baseline, explanation.current) == (pytest.approx(before),
                                                           pytest.approx(after))
    (team,) = explanation.breakdowns
    assert sum(c.contribution for c in team.contributors) == pytest.approx(after - before)
    average = (before + after) / 2
    for c in team.contributors:
        share0 = (won[won.month == 1].team == c.value).mean()
        share1 = (won[won.month == 2].team == c.value).mean()
        assert c.rate_effect == pytest.approx(0.0, abs=1e-9)
        assert c.mix_effect == pytest.approx((share1 - share0) * (AMOUNTS[c.value] - average))


def test_unknown_dimension_and_non_splittable_metric_are_user_errors(small_crm, catalog) -> None:
    engine, _ = small_crm
    with pytest.raises(UnknownNameError, match="Did you mean: team"):
        _explain(engine, catalog, "deals_won", dims=("teem",))
    with pytest.raises(KpiUserError, match="cannot be split"):
        _explain(engine, catalog, "sales_cycle_days", dims=("team",))


def test_why_cli_json_and_errors(small_crm, tmp_path: Path, monkeypatch) -> None:
    from bot.cli import app
    from kpi_engine.config import get_settings

    engine, _ = small_crm
    monkeypatch.setenv("KPIBOT_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KPIBOT_NOW", NOW.isoformat())
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["why", "win_rate", "--period", "last month", "--by", "team",
                                     "--json"])
        assert result.exit_code == 0, result.output
        import json

        payload = json.loads(result.stdout)
        assert payload["change"] == pytest.approx(-1 / 6)
        contributions = [c["contribution"] for c in payload["dimensions"][0]["contributors"]]
        assert sum(contributions) == pytest.approx(-1 / 6)
        text = runner.invoke(app, ["why", "win_rate", "--period", "last month", "--by", "team"])
        assert text.exit_code == 0, text.output
        assert "By team" in text.stdout and "-16.7 pp" in text.stdout
        bad = runner.invoke(app, ["why", "win_rat", "--period", "last month"])
        assert bad.exit_code != 0 and "win_rate" in bad.stderr and "Traceback" not in bad.output
        bad = runner.invoke(app, ["why", "win_rate", "--period", "the other day"])
        assert bad.exit_code != 0 and "Error" in bad.stderr
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("backend", BACKENDS)
def test_planted_source_drop_is_found_on_demo_data(backend: str, tmp_path: Path,
                                                   catalog) -> None:
    """The demo plants one source whose leads of the last 14 days hardly convert."""
    from kpi_engine.demo import seed_demo

    with migrated_engine(backend, tmp_path) as engine:
        summary = seed_demo(engine, today=dt.date(2026, 3, 18), seed=42)
        tz = ZoneInfo(summary.timezone)
        clock = FixedClock(dt.datetime(2026, 3, 18, 9, 0), tz)
        period = parse_period("last 2 weeks", clock, Calendar(tz))
        converted = explain_change(engine, catalog, "leads_converted", period)
        rate = explain_change(engine, catalog, "lead_conversion_rate", period,
                              dimensions=("source", "team", "channel"))
        with engine.connect() as conn:
            sources = {s for (s,) in conn.execute(select(Lead.source).distinct())}
            # Independently: converted leads per source in each window, straight from SQL.
            counts = {}
            for name, p in (("now", period), ("before", converted.baseline_period)):
                start, end = p.utc_bounds()
                counts[name] = dict(conn.execute(
                    select(Lead.source, func.count()).where(
                        Lead.converted_at >= start, Lead.converted_at < end
                    ).group_by(Lead.source)).all())
    planted = next(p for p in summary.patterns if p.name == "source_conversion_drop")
    source = next(s for s in sources if planted.description.startswith(f"{s} "))

    # Leads converted (by conversion date): the source dimension explains the drop best,
    # and the planted source is its largest contributor, by more than the whole change.
    assert converted.change is not None and converted.change < 0
    first = converted.breakdowns[0]
    assert first.dimension == "source"
    assert {c.value for c in first.contributors} == sources
    top = first.contributors[0]
    assert top.value == source and top.share is not None and top.share > 0.5
    for c in first.contributors:
        assert (c.baseline, c.current) == (counts["before"].get(c.value, 0),
                                           counts["now"].get(c.value, 0))

    # Cohort conversion (each fortnight's leads at the same age): the parts still add up
    # exactly on real data, the source dimension explains the fall best (well beyond chance,
    # more surely than team or channel), and the planted source's falling rate leads it.
    assert rate.method == "ratio" and rate.change is not None and rate.change < 0
    for breakdown in (*converted.breakdowns, *rate.breakdowns):
        total = sum(c.contribution for c in breakdown.contributors)
        change = converted.change if breakdown in converted.breakdowns else rate.change
        assert total == pytest.approx(change, abs=1e-9)
    by_source = rate.breakdowns[0]
    assert by_source.dimension == "source" and by_source.chance < 0.01
    top = by_source.contributors[0]
    assert top.value == source and top.share is not None and top.share > 0.5
    assert top.rate_effect is not None and top.rate_effect < 0
    assert top.current is not None and top.baseline is not None and top.current < top.baseline / 4
    others = [c.current for c in by_source.contributors[1:] if c.current is not None]
    assert top.current < min(others)
