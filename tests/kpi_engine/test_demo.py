"""The demo CRM: deterministic, the right size, and its planted patterns really are there.

Each pattern is re-measured here with pandas over rows read back from the seeded database,
independently of the generator's own measurement.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest
from sqlalchemy import Engine, func, insert, select, text
from typer.testing import CliRunner

from kpi_engine.db.models import metadata
from kpi_engine.demo import NonDemoDataError, generate_demo, seed_demo
from kpi_engine.demo.summary import DemoSummary
from tests.databases import BACKENDS, migrated_engine

TODAY = dt.date(2025, 6, 18)
MIDNIGHT = dt.datetime.combine(TODAY, dt.time())
DAY = dt.timedelta(days=1)
T = metadata.tables


@dataclass(frozen=True)
class Seeded:
    engine: Engine
    summary: DemoSummary


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Seeded]:
    with migrated_engine(str(request.param), tmp_path_factory.mktemp("demo")) as engine:
        yield Seeded(engine, seed_demo(engine, today=TODAY, seed=42))


def frame(engine: Engine, sql: str) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(text(sql)).mappings().all())


def checksum(engine: Engine) -> str:
    """A digest of the demo's content by natural keys (database ids may differ)."""
    queries = [
        "SELECT r.external_id, r.name, r.email, r.slack_user_id, r.role, t.name, m.external_id "
        "FROM reps r JOIN teams t ON t.id = r.team_id LEFT JOIN reps m ON m.id = r.manager_id "
        "ORDER BY r.external_id",
        "SELECT l.external_id, l.source, l.channel, l.created_at, o.external_id, l.status, "
        "l.converted_at, l.title, l.total_visits, a.external_id FROM leads l "
        "JOIN reps o ON o.id = l.owner_id LEFT JOIN accounts a ON a.id = l.account_id "
        "ORDER BY l.external_id",
        "SELECT d.external_id, d.stage, d.amount, d.created_at, d.closed_at, d.is_won, "
        "p.external_id, l.external_id FROM deals d JOIN products p ON p.id = d.product_id "
        "LEFT JOIN leads l ON l.id = d.lead_id ORDER BY d.external_id",
        "SELECT a.external_id, a.type, a.direction, a.occurred_at, r.external_id FROM "
        "activities a LEFT JOIN reps r ON r.id = a.rep_id ORDER BY a.external_id",
        "SELECT p.name, e.case_id, e.seq, e.from_stage, e.to_stage, e.occurred_at FROM "
        "stage_events e JOIN processes p ON p.id = e.process_id ORDER BY p.name, e.case_id, e.seq",
        "SELECT metric, period_start, value, team_id IS NULL, rep_id IS NULL FROM kpi_targets "
        "ORDER BY metric, period_start, value",
    ]
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for sql in queries:
            for row in conn.execute(text(sql)):
                digest.update(repr(tuple(_normal(v) for v in row)).encode())
    return digest.hexdigest()


def _normal(value: object) -> object:
    # SQLite returns datetimes as text and booleans as 0/1; compare on one representation.
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        return dt.datetime.fromisoformat(value).isoformat(sep=" ")
    return value


# ---- generation ------------------------------------------------------------------------


def test_generation_is_deterministic_and_seed_dependent() -> None:
    first = generate_demo(TODAY, seed=42)
    assert first == generate_demo(TODAY, seed=42)
    other = generate_demo(TODAY, seed=43)
    assert other.leads != first.leads


def test_local_time_zone_is_stored_as_utc() -> None:
    data = generate_demo(TODAY, seed=5, timezone="America/New_York")
    horizon_utc = MIDNIGHT + 4 * dt.timedelta(hours=1)  # New York midnight in June (EDT)
    assert max(r["occurred_at"] for r in data.activities) < horizon_utc
    hours = pd.Series([r["created_at"].hour for r in data.leads])
    # Leads arrive in local working hours 7-20 h, i.e. 11-24 h UTC.
    assert hours.between(11, 23).mean() > 0.99


# ---- the seeded database ------------------------------------------------------------------


def test_counts_are_in_the_expected_ranges(seeded: Seeded) -> None:
    engine = seeded.engine
    with engine.connect() as conn:
        counts = {name: conn.scalar(select(func.count()).select_from(T[name]))
                  for name in seeded.summary.counts}
    assert counts == dict(seeded.summary.counts)
    assert counts["teams"] == 3 and counts["reps"] == 12 and counts["products"] == 4
    assert 5500 <= counts["leads"] <= 7000
    assert 1100 <= counts["deals"] <= 1800
    assert counts["activities"] >= 5 * counts["leads"]
    assert counts["kpi_targets"] >= 30

    reps = frame(engine, "SELECT r.role, r.slack_user_id, r.email, t.name AS team, "
                 "m.team_id = r.team_id AS same_team, m.role AS manager_role "
                 "FROM reps r JOIN teams t ON t.id = r.team_id "
                 "LEFT JOIN reps m ON m.id = r.manager_id")
    assert (reps["role"] == "manager").sum() == 3
    assert reps["slack_user_id"].str.startswith("U0DEMO").all()
    workers = reps[reps["role"] == "rep"]
    assert (workers["manager_role"] == "manager").all() and workers["same_team"].astype(bool).all()

    leads = frame(engine, "SELECT created_at, converted_at, status FROM leads")
    created = pd.to_datetime(leads["created_at"])
    converted = pd.to_datetime(leads["converted_at"])
    assert created.min() >= MIDNIGHT - 182 * DAY and created.max() < MIDNIGHT
    assert (converted.dropna() < MIDNIGHT).all()
    assert (converted > created).sum() == converted.notna().sum() == (leads["status"] ==
                                                                     "converted").sum()
    assert set(leads["status"]) == {"open", "converted", "lost"}

    deals = frame(engine, "SELECT stage, closed_at, is_won FROM deals")
    open_deals = deals[deals["closed_at"].isna()]
    assert len(open_deals) > 50 and open_deals["is_won"].isna().all()
    assert set(deals["stage"]) == {"Prospecting", "Qualification", "Demo", "Proposal",
                                   "Negotiation", "Won", "Lost"}


def test_database_holds_exactly_the_generated_rows(seeded: Seeded) -> None:
    data = generate_demo(TODAY, seed=42)
    leads = frame(seeded.engine, "SELECT external_id, source, created_at FROM leads "
                  "ORDER BY external_id")
    assert list(leads["external_id"]) == [r["external_id"] for r in data.leads]
    assert list(leads["source"]) == [r["source"] for r in data.leads]
    assert list(pd.to_datetime(leads["created_at"])) == [r["created_at"] for r in data.leads]


def test_lead_attributes_relate_to_conversion(seeded: Seeded) -> None:
    with seeded.engine.connect() as conn:
        leads = T["leads"]
        rows = conn.execute(select(leads.c.title, leads.c.converted, leads.c.attributes,
                                   leads.c.created_at)).all()
    df = pd.DataFrame([{"title": t, "converted": bool(c), "created_at": at,
                        "pricing": a["pricing_page_visits"]} for t, c, a, at in rows])
    mature = df[pd.to_datetime(df["created_at"]) < MIDNIGHT - 45 * DAY]
    by_pricing = mature.groupby(mature["pricing"].clip(upper=3))["converted"].mean()
    assert by_pricing[3] > 3 * by_pricing[0]
    by_title = mature.groupby("title")["converted"].mean()
    assert by_title["VP Sales"] > 2.5 * by_title["Student"]


def _leads_by_source(engine: Engine) -> pd.DataFrame:
    leads = frame(engine, "SELECT source, created_at, converted_at FROM leads")
    leads["created_at"] = pd.to_datetime(leads["created_at"])
    leads["converted_at"] = pd.to_datetime(leads["converted_at"])
    return leads


def test_pattern_source_conversion_dropped(seeded: Seeded) -> None:
    """The LinkedIn leads created in the last 14 days hardly convert (a cohort property)."""
    leads = _leads_by_source(seeded.engine)
    leads["converted"] = leads["converted_at"].notna()
    drop_start = MIDNIGHT - 14 * DAY
    recent = leads[leads["created_at"] >= drop_start]
    earlier = leads[leads["created_at"] < drop_start]
    recent_rate = recent.groupby("source")["converted"].mean()
    earlier_rate = earlier.groupby("source")["converted"].mean()
    linkedin = recent_rate["LinkedIn"]
    assert linkedin < 0.2 * earlier_rate["LinkedIn"]
    others_recent = recent[recent["source"] != "LinkedIn"]["converted"].mean()
    assert linkedin < 0.3 * others_recent
    # Far bigger than the natural "recent leads had less time" effect every source shows.
    others_earlier = earlier[earlier["source"] != "LinkedIn"]["converted"].mean()
    assert linkedin / earlier_rate["LinkedIn"] < 0.3 * (others_recent / others_earlier)
    # Lead volume from LinkedIn did not fall: it is the largest source, before and now.
    assert recent["source"].value_counts().idxmax() == "LinkedIn"
    assert earlier["source"].value_counts().idxmax() == "LinkedIn"
    # Most conversions come within days, so the cohort drop shows in conversions counted
    # by conversion date too: last 14 days vs the 14 before.
    li = leads[leads["source"] == "LinkedIn"]
    last = li["converted_at"].between(drop_start, MIDNIGHT, inclusive="left").sum()
    before = li["converted_at"].between(drop_start - 14 * DAY, drop_start, inclusive="left").sum()
    assert before >= 25 and last < 0.5 * before
    facts = seeded.summary.patterns[0].facts
    assert facts["recent_conversion_rate"] == pytest.approx(linkedin)
    assert facts["earlier_conversion_rate"] == pytest.approx(earlier_rate["LinkedIn"])
    assert facts["converted_last_14_days"] == last
    assert facts["converted_previous_14_days"] == before


def test_pattern_source_drop_at_the_same_age(seeded: Seeded) -> None:
    """What `metric lead_conversion_rate --by source --compare previous` compares: each
    fortnight's cohort with conversions counted up to its own end (the same age)."""
    leads = _leads_by_source(seeded.engine)
    end = MIDNIGHT
    rates = {}
    for name, start in (("now", end - 14 * DAY), ("before", end - 28 * DAY)):
        stop = start + 14 * DAY
        cohort = leads[(leads["created_at"] >= start) & (leads["created_at"] < stop)]
        rates[name] = (cohort["converted_at"] < stop).groupby(cohort["source"]).mean()
    linkedin_now, linkedin_before = rates["now"]["LinkedIn"], rates["before"]["LinkedIn"]
    assert linkedin_before > 0.15  # conversions come fast enough to show at two weeks old
    assert linkedin_now < linkedin_before / 5
    assert linkedin_now < 0.5 * rates["now"].drop("LinkedIn").min()
    # The other sources hold their rates (each within a few points of its previous fortnight).
    others = (rates["now"] - rates["before"]).drop("LinkedIn")
    assert others.abs().max() < 0.1


def test_conversions_are_mostly_fast_but_some_take_weeks(seeded: Seeded) -> None:
    leads = _leads_by_source(seeded.engine)
    mature = leads[leads["created_at"] < MIDNIGHT - 60 * DAY]
    lag = (mature["converted_at"] - mature["created_at"]).dropna().dt.total_seconds() / 86400
    assert len(lag) > 500
    assert (lag <= 4).mean() > 0.6
    assert (lag > 7).mean() > 0.08 and lag.max() > 21


def test_pattern_west_is_slow_to_lead(seeded: Seeded) -> None:
    touches = frame(seeded.engine, """
        SELECT t.name AS team, l.created_at, MIN(a.occurred_at) AS first_touch
        FROM leads l JOIN reps r ON r.id = l.owner_id JOIN teams t ON t.id = r.team_id
        JOIN activities a ON a.lead_id = l.id AND a.direction = 'outbound'
        GROUP BY t.name, l.id, l.created_at""")
    hours = (pd.to_datetime(touches["first_touch"]) - pd.to_datetime(touches["created_at"])
             ).dt.total_seconds() / 3600
    median = hours.groupby(touches["team"]).median()
    assert set(median.index) == {"North", "South", "West"}
    assert median["West"] >= 5 * median["North"] and median["West"] >= 5 * median["South"]
    facts = seeded.summary.patterns[1].facts
    assert facts["median_hours_to_first_touch_west"] == pytest.approx(median["West"], abs=0.01)


def test_pattern_deals_stall_in_proposal(seeded: Seeded) -> None:
    events = frame(seeded.engine, """
        SELECT e.case_id, e.seq, e.to_stage, e.occurred_at FROM stage_events e
        JOIN processes p ON p.id = e.process_id WHERE p.name = 'deals'
        ORDER BY e.case_id, e.seq""")
    events["occurred_at"] = pd.to_datetime(events["occurred_at"])
    events["left_at"] = events.groupby("case_id")["occurred_at"].shift(-1)
    stays = events.dropna(subset=["left_at"])
    days = (stays["left_at"] - stays["occurred_at"]).dt.total_seconds() / 86400
    median = days.groupby(stays["to_stage"]).median()
    assert median.idxmax() == "Proposal"
    assert median["Proposal"] >= 2.5 * median.drop("Proposal").max()

    deals = frame(seeded.engine, """
        SELECT d.stage, MAX(a.occurred_at) AS last_touch FROM deals d
        LEFT JOIN activities a ON a.deal_id = d.id
        WHERE d.closed_at IS NULL GROUP BY d.id, d.stage""")
    quiet = pd.to_datetime(deals["last_touch"]) <= MIDNIGHT - 14 * DAY
    stalled = deals[quiet].groupby("stage").size()
    assert stalled.idxmax() == "Proposal" and stalled["Proposal"] >= 20
    assert stalled.drop("Proposal").sum() <= 0.1 * stalled["Proposal"]
    facts = seeded.summary.patterns[2].facts
    assert facts["stalled_open_deals_in_proposal"] == stalled["Proposal"]


def test_targets_cover_this_month_and_quarter(seeded: Seeded) -> None:
    targets = frame(seeded.engine, """
        SELECT k.metric, k.period_kind, k.period_start, k.period_end, k.value,
               k.at_risk_band, k.owner, t.name AS team, r.external_id AS rep
        FROM kpi_targets k LEFT JOIN teams t ON t.id = k.team_id
        LEFT JOIN reps r ON r.id = k.rep_id""")
    month = targets[targets["period_kind"] == "month"]
    assert {str(v)[:10] for v in month["period_start"]} == {"2025-06-01"}
    quarter = targets[targets["period_kind"] == "quarter"]
    assert {str(v)[:10] for v in quarter["period_end"]} == {"2025-07-01"}
    overall = targets[targets["team"].isna() & targets["rep"].isna()]
    assert set(overall["metric"]) == {"leads_created", "lead_conversion_rate", "deals_won",
                                      "revenue_won", "win_rate", "speed_to_lead_hours"}
    assert set(targets["team"].dropna()) == {"North", "South", "West"}
    assert targets["rep"].nunique() == 9
    assert (targets["at_risk_band"] == 0.1).all() and (targets["value"] > 0).all()
    assert set(targets["owner"]) == {"Sales", "Marketing"}


def test_reseeding_is_repeatable(seeded: Seeded) -> None:
    before = checksum(seeded.engine)
    again = seed_demo(seeded.engine, today=TODAY, seed=42)
    assert again.replaced_rows == sum(seeded.summary.counts.values())
    assert checksum(seeded.engine) == before


# ---- refusing other data, and the CLI -------------------------------------------------------


def _add_real_rep(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(T["reps"]).values(source_system="maven", external_id="x",
                                              name="Real Person", role="rep", active=True))


def test_refuses_a_database_with_other_data(db: Engine) -> None:
    _add_real_rep(db)
    with pytest.raises(NonDemoDataError, match="1 reps"):
        seed_demo(db, today=TODAY)
    with db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(T["leads"])) == 0
        assert conn.scalar(select(func.count()).select_from(T["teams"])) == 0


def test_cli_demo_no_chat(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import app
    from kpi_engine.config import get_settings
    from kpi_engine.db.session import make_engine

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("KPIBOT_DATABASE_URL", url)
    monkeypatch.setenv("KPIBOT_NOW", "2025-06-18T09:30:00")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["demo", "--no-chat"])
        assert result.exit_code == 0, result.output
        assert "LinkedIn" in result.stdout and "West" in result.stdout
        engine = make_engine(url)
        with engine.connect() as conn:
            leads = conn.scalar(select(func.count()).select_from(T["leads"]))
        assert leads == len(generate_demo(TODAY, seed=42).leads)

        _add_real_rep(engine)
        engine.dispose()
        refused = runner.invoke(app, ["demo", "--no-chat"])
        assert refused.exit_code != 0
        assert "not the demo" in refused.stderr and "--force" in refused.stderr
        assert "Traceback" not in refused.output
    finally:
        get_settings.cache_clear()
