"""The offline router answers real questions end to end over the demo CRM.

Expected figures are recomputed here with plain SQL over the seeded tables.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from bot.cli import app
from kpi_engine.config import EngineSettings, get_settings
from kpi_engine.demo import seed_demo
from tests.databases import migrated_engine
from tools.context import ToolContext, Viewer
from tools.router import answer

NOW = dt.datetime(2026, 3, 12, 15, 0)  # a Thursday
MONDAY = dt.datetime(2026, 3, 9)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    directory = tmp_path_factory.mktemp("router")
    with migrated_engine("sqlite", directory) as engine:
        seed_demo(engine, today=NOW.date(), seed=42)
        yield engine, str(engine.url)


@pytest.fixture
def ctx(demo_db: tuple[Engine, str]) -> ToolContext:
    settings = EngineSettings(database_url=demo_db[1], now=NOW)
    return ToolContext.from_settings(settings)


@pytest.fixture
def cli_env(demo_db: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KPIBOT_DATABASE_URL", demo_db[1])
    monkeypatch.setenv("KPIBOT_NOW", NOW.isoformat())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def scalar(engine: Engine, sql: str, **params: object) -> float:
    with engine.connect() as conn:
        return float(conn.execute(text(sql), params).scalar_one())


def test_counts_leads_this_week(ctx: ToolContext, demo_db: tuple[Engine, str]) -> None:
    expected = scalar(demo_db[0], "SELECT count(*) FROM leads WHERE created_at >= :a AND created_at < :b",
                      a=MONDAY, b=NOW)
    reply = answer(ctx, "how many leads did we get this week?")
    assert reply.ok and reply.kind == "metric"
    assert reply.data["value"] == expected
    assert f"*{int(expected):,}*" in reply.text
    assert reply.data["period"]["start"].startswith("2026-03-09")
    assert "query" in reply.sources[0]


def test_every_figure_in_the_text_is_a_recorded_fact(ctx: ToolContext) -> None:
    reply = answer(ctx, "win rate last quarter by team vs previous")
    assert reply.ok
    for fact in reply.facts:
        assert fact.rendered in reply.text
    assert len(reply.facts) >= 4  # total, baseline, change, one per team


def test_group_by_team_finds_the_slow_team(ctx: ToolContext) -> None:
    reply = answer(ctx, "speed to lead by team last 30 days")
    rows = reply.data["rows"]
    slowest = max(rows, key=lambda r: r["value"])
    assert slowest["group"] == {"team": "West"}


def test_conversion_is_a_fraction_in_json_and_a_percent_in_text(ctx: ToolContext) -> None:
    reply = answer(ctx, "conversion last month")
    value = reply.data["value"]
    assert 0 < value < 1
    assert f"{value * 100:.1f} %" in reply.text


def test_unknown_metric_suggests_close_names(ctx: ToolContext) -> None:
    reply = answer(ctx, "what is our revenu wonn this month?")
    assert not reply.ok
    assert "revenue_won" in reply.data["suggestions"]
    assert "`revenue_won`" in reply.text


def test_unknown_period_is_a_clear_answer_not_an_exception(ctx: ToolContext) -> None:
    reply = answer(ctx, "leads created 2026-02-30 to 2026-03-05")
    assert reply.kind == "metric" and not reply.ok
    assert "2026-02-30" in reply.text


def test_ask_json_prints_the_figures(cli_env: None, demo_db: tuple[Engine, str]) -> None:
    result = CliRunner().invoke(app, ["ask", "how many leads did we get this week?", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    expected = scalar(demo_db[0], "SELECT count(*) FROM leads WHERE created_at >= :a AND created_at < :b",
                      a=MONDAY, b=NOW)
    assert payload["data"]["value"] == expected
    assert payload["facts"][0]["value"] == expected


def test_ask_unknown_metric_exits_non_zero_with_suggestions(cli_env: None) -> None:
    result = CliRunner().invoke(app, ["ask", "how is churn doing this month?"])
    assert result.exit_code == 1
    assert "churn" in result.output and "Traceback" not in result.output


def test_chat_answers_each_line_until_quit(cli_env: None) -> None:
    result = CliRunner().invoke(app, ["chat"], input="leads this week\nwhich metrics do you know?\nquit\n")
    assert result.exit_code == 0
    assert result.output.count("kpibot ›") == 2
    assert "Leads created" in result.output


def test_a_broken_database_gives_an_apology_with_a_reference(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")  # no schema
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["ask", "how many leads this week?"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "reference" in result.output and "Traceback" not in result.output


def test_pacing_answers_with_the_stored_targets(ctx: ToolContext, demo_db: tuple[Engine, str]) -> None:
    reply = answer(ctx, "are we on track for revenue this month?")
    assert reply.ok and reply.kind == "pacing"
    overall = next(k for k in reply.data["kpis"] if k["scope"] == "overall")
    target = scalar(demo_db[0], "SELECT value FROM kpi_targets WHERE metric = 'revenue_won' AND "
                    "team_id IS NULL AND rep_id IS NULL AND period_start = :start",
                    start=dt.date(2026, 3, 1))
    won = scalar(demo_db[0], "SELECT coalesce(sum(amount), 0) FROM deals WHERE is_won AND "
                 "closed_at >= :a AND closed_at < :b", a=dt.datetime(2026, 3, 1), b=NOW)
    assert overall["target"] == target and overall["actual"] == pytest.approx(won)
    elapsed = (NOW - dt.datetime(2026, 3, 1)) / (dt.datetime(2026, 4, 1) - dt.datetime(2026, 3, 1))
    assert overall["projected"] == pytest.approx(won / elapsed)
    assert {"on_track": "on track", "at_risk": "AT RISK", "off_track": "OFF TRACK"}[
        overall["status"]] in reply.text
    for fact in reply.facts:
        assert fact.rendered in reply.text


def test_pacing_without_a_target_still_gives_the_figure(ctx: ToolContext) -> None:
    reply = answer(ctx, "are we on track for pipeline this quarter?")
    assert reply.ok and "No target is set" in reply.text
    assert reply.data["metric"] == "pipeline_value"


def test_why_splits_the_change_and_the_parts_add_up(ctx: ToolContext) -> None:
    reply = answer(ctx, "why did revenue change this month?")
    assert reply.ok and reply.kind == "why"
    assert reply.data["change"] == pytest.approx(reply.data["current"] - reply.data["baseline"])
    for fact in reply.facts:
        assert fact.rendered in reply.text


def test_where_deals_get_stuck_finds_the_planted_stall(ctx: ToolContext) -> None:
    reply = answer(ctx, "where do deals get stuck?")
    assert reply.ok and reply.kind == "bottlenecks"
    top_two = " ".join(b["step"] for b in reply.data["bottlenecks"][:2])
    assert "Proposal" in top_two and "Speed to lead" in top_two


def test_top_leads_need_a_model_first(ctx: ToolContext) -> None:
    reply = answer(ctx, "my top leads?")
    assert not reply.ok and "kpibot train" in reply.text


@pytest.fixture(scope="module")
def scored_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A demo CRM of its own with a trained model and scored open leads."""
    from kpi_engine.scoring.guard import LeakageGuard
    from kpi_engine.scoring.score import score_open_leads
    from kpi_engine.scoring.train import train_model

    directory = tmp_path_factory.mktemp("scored")
    with migrated_engine("sqlite", directory) as engine:
        seed_demo(engine, today=NOW.date(), seed=42)
        now = NOW.replace(tzinfo=dt.UTC)
        train_model(engine, directory / "models", now, LeakageGuard.default())
        score_open_leads(engine, now)
        yield str(engine.url)


def _owners(reply_data: dict) -> set[str]:
    return {lead["owner"] for lead in reply_data["leads"]}


def test_top_leads_follow_who_is_asking(scored_db: str) -> None:
    engine_url = scored_db
    settings = EngineSettings(database_url=engine_url, now=NOW)
    anonymous = answer(ToolContext.from_settings(settings), "my top leads?")
    assert anonymous.ok and len(anonymous.data["leads"]) == 10
    scores = [lead["score"] for lead in anonymous.data["leads"]]
    assert scores == sorted(scores, reverse=True)
    with ToolContext.from_settings(settings).engine.connect() as conn:
        rep = conn.execute(text("SELECT r.slack_user_id, r.name, t.name FROM reps r JOIN teams t "
                                "ON t.id = r.team_id WHERE r.role = 'rep' ORDER BY r.id")).first()
        manager = conn.execute(text("SELECT r.slack_user_id, t.name FROM reps r JOIN teams t "
                                    "ON t.id = r.team_id WHERE r.role = 'manager' ORDER BY r.id")).first()
        team_members = {row[0] for row in conn.execute(
            text("SELECT r.name FROM reps r JOIN teams t ON t.id = r.team_id WHERE t.name = :t"),
            {"t": manager[1]})}
    mine = answer(ToolContext.from_settings(settings, Viewer(slack_user_id=rep[0])), "my top leads")
    assert mine.ok and _owners(mine.data) == {rep[1]}
    assert "your own" in mine.text
    team = answer(ToolContext.from_settings(settings, Viewer(slack_user_id=manager[0])),
                  "top leads for my team")
    assert team.ok and _owners(team.data) <= team_members
    for lead in mine.data["leads"]:
        assert lead["reasons"], "every scored lead carries its reasons"
        assert lead["reasons"][0]["text"] in mine.text


def test_top_leads_take_how_many_and_a_least_score(scored_db: str) -> None:
    ctx = ToolContext.from_settings(EngineSettings(database_url=scored_db, now=NOW))
    everyone = answer(ctx, "top 25 leads").data["leads"]
    three = answer(ctx, "top 3 leads")
    assert [lead["external_id"] for lead in three.data["leads"]] == [
        lead["external_id"] for lead in everyone[:3]]
    cut = everyone[5]["score"]
    above = answer(ctx, f"leads with a score above {cut:g}")
    assert {lead["external_id"] for lead in above.data["leads"]} == {
        lead["external_id"] for lead in everyone if lead["score"] >= cut}
    assert f"scoring at least {cut:g}" in above.text
    many = answer(ctx, "top 80 leads")
    assert len(many.data["leads"]) == 25 and "At most 25 in a message" in many.text
    none = answer(ctx, "leads scoring above 100")
    assert not none.ok and "No scored open leads match a score of at least 100." == none.text


def test_top_leads_narrow_to_the_rep_team_or_source_named(scored_db: str) -> None:
    settings = EngineSettings(database_url=scored_db, now=NOW)
    with ToolContext.from_settings(settings).engine.connect() as conn:
        reps = conn.execute(text("SELECT r.slack_user_id, r.name, t.name FROM reps r JOIN teams t "
                                 "ON t.id = r.team_id WHERE r.role = 'rep' ORDER BY r.id")).all()
        source = conn.execute(text("SELECT source FROM leads WHERE status = 'open' AND score "
                                   "IS NOT NULL GROUP BY source ORDER BY count(*)")).scalar()
    (_, name, team), other = reps[0], reps[-1]
    team_members = {r[1] for r in reps if r[2] == team}
    anonymous = ToolContext.from_settings(settings)
    theirs = answer(anonymous, f"top leads for {name}")
    assert theirs.ok and _owners(theirs.data) == {name} and f"({name}'s)" in theirs.text
    by_source = answer(anonymous, f"top {source} leads")
    assert by_source.ok and {lead["source"] for lead in by_source.data["leads"]} == {source}
    assert f"from {source}" in by_source.text
    west = answer(anonymous, f"best leads in team {team}")
    assert west.ok and f"team {team}'s" in west.text
    assert _owners(west.data) <= team_members and len(_owners(west.data)) > 1
    region = answer(anonymous, "top leads in West Coast")
    assert region.ok and "region is not applied" in region.text
    # A rep asking for a colleague's leads is told why not, not shown them.
    nosy = answer(ToolContext.from_settings(settings, Viewer(slack_user_id=other[0])),
                  f"top leads for {name}")
    assert not nosy.ok and "sees only their own leads" in nosy.text


def test_a_misspelt_source_gets_the_closest_not_every_lead(ctx: ToolContext) -> None:
    reply = answer(ctx, "how many leads from Linkdin this month?")
    assert not reply.ok and "Did you mean `LinkedIn`?" in reply.text
    assert reply.data["suggestions"] == ["LinkedIn"]


def test_a_named_team_filters_the_figure(ctx: ToolContext, demo_db: tuple[Engine, str]) -> None:
    reply = answer(ctx, "win rate for team West this month")
    won, closed = (scalar(demo_db[0], "SELECT count(*) FROM deals d JOIN reps r ON r.id = d.owner_id "
                          "JOIN teams t ON t.id = r.team_id WHERE t.name = 'West' AND d.closed_at >= :a "
                          f"AND d.closed_at < :b{extra}", a=dt.datetime(2026, 3, 1), b=NOW)
                   for extra in (" AND d.is_won", ""))
    assert reply.ok and reply.data["value"] == pytest.approx(won / closed)
    assert "team West" in reply.text and "team = West" in reply.sources[0]


def test_which_rep_has_the_most_ranks_the_reps(ctx: ToolContext, demo_db: tuple[Engine, str]) -> None:
    reply = answer(ctx, "which rep won the most deals last 30 days?")
    assert reply.ok and reply.data["metric"] == "deals_won"
    with demo_db[0].connect() as conn:
        counts = dict(conn.execute(text(
            "SELECT r.name, count(*) FROM deals d JOIN reps r ON r.id = d.owner_id WHERE d.is_won "
            "AND d.closed_at >= :a AND d.closed_at < :b GROUP BY r.name"),
            {"a": NOW - dt.timedelta(days=30), "b": NOW}).all())
    got = {row["group"]["rep"]: row["value"] for row in reply.data["rows"]}
    assert got == counts
    # Best first, so "which rep" is answered by the first line.
    first = reply.text.split("\n• ")[1]
    assert first.startswith(max(counts, key=counts.get))


def test_a_period_still_to_come_is_not_answered_with_another(ctx: ToolContext) -> None:
    reply = answer(ctx, "revenue for the rest of the year")
    assert not reply.ok and reply.kind == "period"
    assert "“the rest of the year”" in reply.text and "on track" in reply.text
    # Where the future has a meaning, it is kept: the pacing of this quarter.
    pacing = answer(ctx, "are we on track for revenue by the end of the quarter?")
    assert pacing.ok and pacing.kind == "pacing"
    assert "this quarter" in pacing.text


def test_everyday_wording_reaches_the_right_figure(ctx: ToolContext) -> None:
    respond = answer(ctx, "how fast do we respond to new leads?")
    assert respond.ok and respond.data["metric"] == "speed_to_lead_hours"
    best = answer(ctx, "who is the best rep by revenue last 30 days?")
    assert best.ok and best.data["metric"] == "revenue_won"
    assert {tuple(row["group"]) for row in best.data["rows"]} == {("rep",)}
    assert answer(ctx, "thanks!").kind == "courtesy"
    # A rep by first name: the answer names whose figure it is.
    priya = answer(ctx, "what's the pipeline for Priya?")
    assert priya.ok and "rep Priya Natarajan" in priya.text
    assert "rep = Priya Natarajan" in priya.sources[0]


def test_a_split_kpibot_cannot_make_is_said_and_the_total_given(ctx: ToolContext) -> None:
    reply = answer(ctx, "deals lost by reason this month")
    total = answer(ctx, "deals lost this month")
    assert reply.ok and reply.data["value"] == total.data["value"]
    assert reply.text.startswith("_I can't split deals lost by “reason”; it splits by team, rep")
    assert reply.text.endswith(total.text)


def test_months_before_the_data_read_no_data(ctx: ToolContext, demo_db: tuple[Engine, str]
                                             ) -> None:
    with demo_db[0].connect() as conn:
        first = dt.datetime.fromisoformat(str(
            conn.execute(text("SELECT min(created_at) FROM deals")).scalar_one()))
    reply = answer(ctx, "revenue by month last 12 months")
    assert reply.ok
    lines = [line for line in reply.text.splitlines() if line.startswith("• ")]
    before = [line for line in lines if line.endswith("no data yet")]
    assert before and len(before) < len(lines)
    # Every month marked so ended before the first deal; none after it is.
    for row in reply.data["rows"]:
        start = dt.datetime.fromisoformat(row["bucket"]).replace(tzinfo=None)
        assert (row["value"] is None) == (start.month != first.month and start < first)
    assert f"_The data starts on {first:%a %-d %b %Y}._" in reply.text


def test_my_figures_are_the_askers_own(ctx: ToolContext, demo_db: tuple[Engine, str]) -> None:
    settings = EngineSettings(database_url=demo_db[1], now=NOW)
    with demo_db[0].connect() as conn:
        rep, manager = (conn.execute(text(
            "SELECT r.email, r.name, t.name FROM reps r JOIN teams t ON t.id = r.team_id "
            "WHERE r.role = :role ORDER BY r.id"), {"role": role}).first()
            for role in ("rep", "manager"))

    def ask(email: str | None, question: str):
        return answer(ToolContext.from_settings(settings, Viewer(email=email)), question)

    def figure(question: str) -> float:
        return answer(ctx, question).data["value"]

    mine = ask(rep[0], "my win rate last 30 days")
    assert mine.ok and f"rep {rep[1]}" in mine.text
    assert mine.data["value"] == figure(f"win rate for {rep[1]} last 30 days")
    # A manager's "my" is their team's.
    team = ask(manager[0], "show me my pipeline")
    assert team.data["value"] == figure(f"pipeline for team {manager[2]}")
    # Nobody known: everyone's figure, and the answer says so.
    anonymous = ask(None, "my win rate last 30 days")
    assert anonymous.data["value"] == figure("win rate last 30 days")
    assert anonymous.text.startswith("_“My” means whoever asks")
    # No target for the rep: the rep's own figure, not the company's.
    pacing = ask(rep[0], "am I on track for revenue?")
    assert pacing.ok and f"rep {rep[1]}" in pacing.text
    assert f'--rep "{rep[1]}"' in pacing.text
    assert pacing.data["value"] == figure(f"revenue for {rep[1]} this month")


def test_a_baseline_before_the_data_is_no_comparison(ctx: ToolContext) -> None:
    reply = answer(ctx, "win rate this year vs last year")
    assert reply.ok and reply.data["comparison"]["baseline"] is None
    assert "No comparison: 2025" in reply.text and "is before the data starts" in reply.text


def test_a_lead_by_its_id_shows_its_score_and_reasons(scored_db: str) -> None:
    settings = EngineSettings(database_url=scored_db, now=NOW)
    ctx = ToolContext.from_settings(settings)
    best = answer(ctx, "top 1 lead").data["leads"][0]
    card = answer(ctx, f"why is {best['external_id']} scored so high?")
    assert card.ok and card.kind == "lead"
    assert card.data["lead"]["score"] == best["score"]
    assert f"Score *{best['score']:.0f}* of 100" in card.text
    assert all(reason["text"] in card.text for reason in best["reasons"])
    with ctx.engine.connect() as conn:
        owner_email, = conn.execute(text(
            "SELECT r.email FROM leads l JOIN reps r ON r.id = l.owner_id "
            "WHERE l.external_id = :id"), {"id": best["external_id"]}).one()
        other_email, = conn.execute(text(
            "SELECT email FROM reps WHERE role = 'rep' AND email != :e ORDER BY id"),
            {"e": owner_email}).first()
        converted, = conn.execute(text(
            "SELECT external_id FROM leads WHERE status = 'converted' ORDER BY id")).first()
    # The owner sees it; another rep is told why not.
    assert answer(ToolContext.from_settings(settings, Viewer(email=owner_email)),
                  f"what about {best['external_id']}?").ok
    refused = answer(ToolContext.from_settings(settings, Viewer(email=other_email)),
                     f"what about {best['external_id']}?")
    assert not refused.ok and "a rep sees only their own leads" in refused.text
    done = answer(ctx, f"what is {converted}?")
    assert done.ok and "Converted on" in done.text and "Score" not in done.text
    unknown = answer(ctx, "why is L-999999 low?")
    assert not unknown.ok and unknown.text == "No lead has the id 'L-999999'."


def test_two_teams_named_are_set_side_by_side(ctx: ToolContext) -> None:
    both = answer(ctx, "win rate for North vs South last 30 days")
    assert both.ok and both.data["comparison"] is None
    got = {row["group"]["team"]: row["value"] for row in both.data["rows"]}
    assert got == {team: answer(ctx, f"win rate for team {team} last 30 days").data["value"]
                   for team in ("North", "South")}
    board = answer(ctx, "how is team South doing this month?")
    assert board.ok and board.kind == "pacing"
    assert "team South" in board.text and "team North" not in board.text


def test_conversion_between_two_stages_is_a_journey_figure(ctx: ToolContext) -> None:
    from kpi_engine.journey import load_journey, stage_conversion

    reply = answer(ctx, "what's the conversion rate from demo to proposal last 90 days?")
    assert reply.ok and reply.kind == "stage_conversion"
    loaded = load_journey(ctx.engine, "deals", ctx.period("last 90 days"), clock=ctx.clock)
    expected = stage_conversion(loaded, "Demo", "Proposal")
    assert reply.data["rate"] == expected.rate and 0 < expected.rate < 1
    assert f"{expected.went_on:,} of the {expected.went_on + expected.closed_without:,}" \
        in reply.text
    misspelt = answer(ctx, "conversion from demo to propsal")
    assert not misspelt.ok and "Did you mean: Proposal?" in misspelt.text
    # Not stages: the question is about something else and is answered as such.
    leads = answer(ctx, "conversion rate from LinkedIn to customer this month")
    assert leads.ok and leads.data["metric"] == "lead_conversion_rate"


def test_a_filter_that_matches_nothing_is_said_not_dropped(ctx: ToolContext) -> None:
    reply = answer(ctx, "how many open deals in proposal?")
    total = answer(ctx, "how many open deals?")
    assert reply.ok and reply.data["value"] == total.data["value"]
    assert reply.text.startswith("_I didn't apply “proposal”")
