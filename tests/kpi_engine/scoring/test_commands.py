"""Train → score → leads → model from a real database (SQLite and PostgreSQL), via the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from bot.cli import app
from kpi_engine.config import get_settings
from kpi_engine.db.models import Activity, Lead, ModelVersion, Rep, StageEvent
from kpi_engine.demo import seed_demo
from tests.databases import BACKENDS, migrated_engine

TODAY = dt.date(2025, 6, 30)


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scoring")
    with migrated_engine(request.param, tmp) as engine:
        seed_demo(engine, today=TODAY, seed=42)
        url = engine.url.render_as_string(hide_password=False)
        yield engine, url, tmp


def run(url: str, tmp: Path, monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setenv("KPIBOT_DATABASE_URL", url)
    monkeypatch.setenv("KPIBOT_MODEL_DIR", str(tmp / "models"))
    monkeypatch.setenv("KPIBOT_NOW", f"{TODAY.isoformat()}T12:00:00")
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()


def test_train_score_leads_model(world, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, url, tmp = world
    trained = run(url, tmp, monkeypatch, "train", "--json")
    assert trained.exit_code == 0, trained.output
    figures = json.loads(trained.output)
    assert figures["holdout"].startswith("most recent")
    assert figures["auc"] > 0.7
    by_age = figures["holdout_by_age"]
    assert list(by_age)[:2] == ["5 min", "1 h–1 d"]
    # Every age has its own figures, from fewer rows than the whole held-out set.
    assert all(0.5 < a["auc"] <= 1 and a["rows"] < figures["n_rows"] for a in by_age.values())
    assert by_age["5 min"]["rows"] == figures["n_test"]  # every lead is seen at 5 minutes
    with engine.connect() as conn:
        version = conn.execute(select(ModelVersion)).mappings().one()
        labelled = conn.execute(select(func.count()).where(
            Lead.status.in_(("converted", "lost")))).scalar_one()
        open_leads = conn.execute(select(func.count()).where(Lead.status == "open")).scalar_one()
    assert version["n_train"] + version["n_test"] == labelled
    assert Path(version["artifact_path"]).is_file()
    # Training rows: each labelled lead at the ages it was still open (moments.py).
    assert figures["n_rows"] > labelled
    assert len(version["lift_by_decile"]) == 10
    assert sum(version["score_histogram"]) == figures["n_rows"]

    scored = run(url, tmp, monkeypatch, "score", "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.output)["scored"] == open_leads
    with engine.connect() as conn:
        rows = conn.execute(select(Lead.score, Lead.score_reasons, Lead.score_model_version)
                            .where(Lead.status == "open")).all()
    assert all(r.score is not None and 0 <= r.score <= 100 and r.score_model_version == 1
               for r in rows)
    assert all(1 <= len(r.score_reasons) <= 3 for r in rows)

    ranked = run(url, tmp, monkeypatch, "leads", "--all", "--limit", "5", "--json")
    assert ranked.exit_code == 0, ranked.output
    top = json.loads(ranked.output)
    best = sorted((r.score for r in rows), reverse=True)[:5]
    assert [t["score"] for t in top] == best
    assert all(t["owner"] and t["external_id"] for t in top)

    report = run(url, tmp, monkeypatch, "model", "--json")
    assert report.exit_code == 0, report.output
    body = json.loads(report.output)
    assert body["scored_open_leads"] == open_leads
    # Nothing changed since training: the open leads score as they did then. (Against the
    # training rows, closed leads at several ages, this read "shifting", PSI 0.2, on day one.)
    assert body["drift_baseline"] == "open leads when trained"
    assert sum(body["open_histogram_when_trained"]) == open_leads
    # (≈ 0, not 0: stored scores are rounded to 0.1, which can move one across a band edge.)
    assert body["drift_psi"] < 0.01 and body["drift"] == "stable"
    assert "Score drift since training: stable (PSI 0.00" in run(url, tmp, monkeypatch,
                                                                  "model").output


def test_a_rep_sees_only_their_leads(world, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, url, tmp = world
    if run(url, tmp, monkeypatch, "model").exit_code != 0:
        assert run(url, tmp, monkeypatch, "train").exit_code == 0
        assert run(url, tmp, monkeypatch, "score").exit_code == 0
    with engine.connect() as conn:
        rep = conn.execute(select(Rep.__table__).where(Rep.role == "rep").order_by(Rep.id)
                           ).first()
        manager = conn.execute(select(Rep.__table__).where(
            Rep.role == "manager", Rep.team_id == rep.team_id)).first()
        team_reps = {r.name for r in conn.execute(select(Rep.__table__).where(
            Rep.team_id == rep.team_id))}
    mine = json.loads(run(url, tmp, monkeypatch, "leads", "--as", rep.slack_user_id,
                          "--limit", "50", "--json").output)
    assert mine and {m["owner"] for m in mine} == {rep.name}
    refused = run(url, tmp, monkeypatch, "leads", "--as", rep.email, "--all")
    assert refused.exit_code != 0 and "only their own" in refused.output
    team = json.loads(run(url, tmp, monkeypatch, "leads", "--as", manager.slack_user_id,
                          "--limit", "200", "--json").output)
    assert {t["owner"] for t in team} <= team_reps and len({t["owner"] for t in team}) > 1


def test_leads_options_that_match_nothing_say_why(world, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, url, tmp = world
    if run(url, tmp, monkeypatch, "model").exit_code != 0:
        assert run(url, tmp, monkeypatch, "train").exit_code == 0
        assert run(url, tmp, monkeypatch, "score").exit_code == 0
    # A misspelt source used to read "no scored open leads: run kpibot score".
    typo = run(url, tmp, monkeypatch, "leads", "--all", "--source", "Linkdin")
    assert typo.exit_code != 0 and "Did you mean: LinkedIn?" in typo.output
    spelt = json.loads(run(url, tmp, monkeypatch, "leads", "--all", "--source", "linkedin",
                           "--json").output)
    assert spelt and {lead["source"] for lead in spelt} == {"LinkedIn"}
    none = run(url, tmp, monkeypatch, "leads", "--all", "--min-score", "100")
    assert none.exit_code == 0 and "No scored open lead matches these options." in none.output


def test_train_refuses_without_enough_outcomes(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    with migrated_engine("sqlite", tmp_path) as engine:
        with engine.begin() as conn:
            conn.execute(Lead.__table__.insert(), [
                {"source_system": "t", "external_id": str(i), "status": "lost",
                 "converted": False, "attributes": {}} for i in range(30)])
        url = engine.url.render_as_string(hide_password=False)
        result = run(url, tmp_path, monkeypatch, "train")
        assert result.exit_code != 0
        assert "at least 200 leads" in result.output and "Traceback" not in result.output
        undated = run(url, tmp_path, monkeypatch, "backtest")
        assert undated.exit_code != 0 and "no creation dates" in undated.output
        assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_training_rows_are_read_before_each_lead_was_decided(world) -> None:
    """Activity features of a training row come from before its instant, which is before
    the lead's outcome; recomputed here with pandas from the activities table."""
    from sklearn.metrics import roc_auc_score

    from kpi_engine.scoring.features import load_leads

    engine, _, _ = world
    frame = load_leads(engine, Lead.status.in_(("converted", "lost")))
    data = frame.data
    dated = data["created_at"].notna()
    assert (data.loc[dated, "judged_at"] < data.loc[dated, "decided_at"]).all()
    assert data["lead_id"].nunique() < len(data)  # several ages per lead
    with engine.connect() as conn:
        acts = pd.read_sql(select(Activity.lead_id, Activity.direction, Activity.occurred_at)
                           .where(Activity.direction == "inbound"), conn)
    acts["occurred_at"] = pd.to_datetime(acts["occurred_at"])
    sample = data.sample(300, random_state=0)
    for _, row in sample.iterrows():
        mine = acts[(acts["lead_id"] == row["lead_id"]) & (acts["occurred_at"] < row["judged_at"])]
        if mine.empty:
            assert np.isnan(row["days_since_inbound"])
            continue
        expected = (row["judged_at"] - mine["occurred_at"].max()).total_seconds() / 86400
        assert row["days_since_inbound"] == pytest.approx(expected)
    # Measured at each lead's decision instead, recency would rank outcomes almost by
    # itself: the measuring time would carry the label (see moments.py).
    y = frame.label
    last = acts.groupby("lead_id")["occurred_at"].max()
    at_decision = (data["decided_at"] - data["lead_id"].map(last)).dt.total_seconds()
    known = at_decision.notna().to_numpy() & dated.to_numpy()
    snapshot = data["days_since_inbound"].fillna(1e6).to_numpy()
    assert roc_auc_score(y[known], -at_decision[known]) > 0.9
    assert roc_auc_score(y, -snapshot) < 0.85


@pytest.mark.parametrize("backend", BACKENDS)
def test_lost_leads_without_stage_history_are_judged_while_alive(backend, tmp_path) -> None:
    """A CRM that records no disqualification: a lost lead is judged up to its last activity
    like any other lead. Left without an instant, its recency and age were missing exactly
    when it was lost, and ranked outcomes perfectly (AUC 1.0) on their own."""
    from sklearn.metrics import roc_auc_score

    from kpi_engine.scoring.features import load_leads

    with migrated_engine(backend, tmp_path) as engine:
        seed_demo(engine, today=TODAY, seed=42)
        with engine.begin() as conn:
            lost = select(Lead.id).where(Lead.status == "lost")
            conn.execute(delete(StageEvent).where(StageEvent.lead_id.in_(lost)))
            last = dict(conn.execute(select(Activity.lead_id, func.max(Activity.occurred_at))
                                     .group_by(Activity.lead_id)).all())
        frame = load_leads(engine, Lead.status.in_(("converted", "lost")))
    data, y = frame.data, frame.label
    assert data["lead_age_days"].notna().all()
    assert (data["judged_at"] < data["decided_at"]).all()
    lost_rows = data[data["status"] == "lost"]
    assert (lost_rows["decided_at"] >= pd.to_datetime(lost_rows["lead_id"].map(last))).all()
    assert roc_auc_score(y, -data["lead_age_days"]) < 0.8
    assert roc_auc_score(y, -data["days_since_inbound"].fillna(1e6)) < 0.85


def test_a_lead_that_just_arrived_is_scored_like_one(world, monkeypatch) -> None:
    """The newest leads as they were five minutes after they arrived, scored by a model
    trained on the older ones: their average score is close to how many of them converted.
    A model whose youngest training rows were 12 hours old gave them 4 % (31 % converted);
    one that learnt from the export's lifetime visit and email counts, 7.6 %."""
    import kpi_engine.scoring.moments as moments
    from kpi_engine.scoring.features import LeadFrame, feature_matrix, load_leads
    from kpi_engine.scoring.guard import LeakageGuard
    from kpi_engine.scoring.train import fit_lead_model

    engine, _, _ = world
    labelled = Lead.status.in_(("converted", "lost"))
    frame = load_leads(engine, labelled)
    cut = frame.data["created_at"].quantile(0.8)
    older = frame.data["created_at"] < cut
    model = fit_lead_model(LeadFrame(frame.data[older].reset_index(drop=True),
                                     frame.attribute_names, frame.snapshots),
                           LeakageGuard.default(), n_folds=3).model
    monkeypatch.setattr(moments, "SNAPSHOT_BANDS", (moments.SNAPSHOT_BANDS[0],))
    arrived = load_leads(engine, labelled)
    newest = (arrived.data["created_at"] >= cut).to_numpy()
    # The demo exports lifetime behaviour; on arrival a lead has had one visit and nothing else.
    fresh = arrived.data[newest].assign(**{
        "total_visits": 1.0, "time_on_site_seconds": 60.0, "attr:pricing_page_visits": 0,
        "attr:email_opens": 0, "attr:content_downloads": 0})
    scores, _, _ = model.scorer.score(feature_matrix(fresh, model.specs))
    converted = arrived.label[newest].mean()
    assert newest.sum() > 500
    assert 0.6 * converted < scores.mean() / 100 < 1.4 * converted


def test_export_time_behaviour_is_left_out_when_activities_are_logged(world) -> None:
    from kpi_engine.scoring.features import load_leads, select_features
    from kpi_engine.scoring.guard import LeakageGuard

    engine, _, _ = world
    frame = load_leads(engine, Lead.status.in_(("converted", "lost")))
    selection = select_features(frame, LeakageGuard.default())
    used = {s.name for s in selection.specs}
    exported = {"total_visits", "time_on_site_seconds", "pages_per_visit",
                "attr:pricing_page_visits", "attr:email_opens", "attr:content_downloads"}
    assert not used & exported
    assert all("exported" in selection.dropped[name] for name in exported)
    # One reason, not two, for one behaviour: the total repeats its only detail.
    assert selection.dropped["activity:inbound email"] == "repeats opened marketing emails"
    # The log's time-stamped counts stand for them.
    assert {"activity:inbound web_visit", "activity:email|opened marketing email",
            "activity:web_visit|pricing page"} <= used


def test_drift_shows_when_the_open_leads_change(tmp_path, monkeypatch) -> None:
    """A month on with no new leads, the same open leads have aged and gone quiet: their
    scores fall, and the report says the distribution moved since training."""
    with migrated_engine("sqlite", tmp_path) as engine:
        seed_demo(engine, today=TODAY, seed=42)
        url = engine.url.render_as_string(hide_password=False)
        assert run(url, tmp_path, monkeypatch, "train").exit_code == 0
        monkeypatch.setenv("KPIBOT_NOW", f"{TODAY + dt.timedelta(days=30)}T12:00:00")
        get_settings.cache_clear()
        later = CliRunner().invoke(app, ["score"])
        assert later.exit_code == 0, later.output
        report = json.loads(CliRunner().invoke(app, ["model", "--json"]).output)
        get_settings.cache_clear()
    assert report["drift_psi"] > 0.1 and report["drift"] != "stable"


def test_train_score_and_report_on_the_imported_olist_funnel(tmp_path, monkeypatch,
                                                            data_dir) -> None:
    """The real data set through the CLI: import, train (dated, so the newest leads are held
    out), score and report. Every MQL there is decided, so there is nothing to score."""
    with migrated_engine("sqlite", tmp_path) as engine:
        url = engine.url.render_as_string(hide_password=False)
        imported = run(url, tmp_path, monkeypatch, "import", "olist",
                       str(data_dir / "olist_marketing_funnel"))
        assert imported.exit_code == 0, imported.output
        trained = run(url, tmp_path, monkeypatch, "train", "--json")
        assert trained.exit_code == 0, trained.output
        figures = json.loads(trained.output)
        assert figures["holdout"].startswith("most recent") and figures["auc"] > 0.6
        assert figures["holdout_by_age"] == {}  # no activity log: one row per lead
        assert figures["n_train"] + figures["n_test"] == 8000
        assert "Scored 0 open leads" in run(url, tmp_path, monkeypatch, "score").output
        report = run(url, tmp_path, monkeypatch, "model")
        assert report.exit_code == 0 and "no open leads to score" in report.output


def test_pooled_crms_are_guarded_and_reported_each_on_its_own(tmp_path, monkeypatch,
                                                               data_dir) -> None:
    """Two unrelated CRMs in one database. Olist fills its segment and lead type in for won
    deals only; among X Education's leads that gave too little away to trip the pooled
    proxy check, and the model ranked Olist's outcomes at AUC 0.999 (0.966 pooled). The
    guard now also looks within each CRM, and the figures within each are reported."""
    with migrated_engine("sqlite", tmp_path) as engine:
        url = engine.url.render_as_string(hide_password=False)
        for source, path in (("olist", "olist_marketing_funnel"),
                             ("xeducation", "xeducation_leads/Leads.csv")):
            imported = run(url, tmp_path, monkeypatch, "import", source, str(data_dir / path))
            assert imported.exit_code == 0, imported.output
        trained = run(url, tmp_path, monkeypatch, "train", "--json")
        assert trained.exit_code == 0, trained.output
        figures = json.loads(trained.output)
        within = figures["holdout_by_system"]
        assert set(within) == {"olist", "xeducation"}
        assert sum(w["rows"] for w in within.values()) == figures["n_test"]
        # Olist alone holds out at about 0.70: nothing here may do much better on it.
        assert within["olist"]["auc"] < 0.8 and within["xeducation"]["auc"] > 0.88
        for field in ("segment", "lead_type"):
            assert "within the olist leads" in figures["dropped"][field]
        assert "identifier" in figures["dropped"]["attr:Lead Number"]
        report = run(url, tmp_path, monkeypatch, "model")
        assert "Within each source system: olist AUC" in report.output


# The ages closed leads were seen at before age bands (moments.py).
FIXED_AGES = tuple((d, d) for d in (5 / (24 * 60), 0.5, 2.0, 7.0, 21.0))


def test_backtest_open_leads_score_about_as_often_as_they_then_convert(
        world, monkeypatch) -> None:
    """Replayed from 45 days ago, the leads open then score on average close to the share
    that converted since (1.31× here, 711 leads, AUC 0.890); with the fixed training ages
    every lead past its first days was over-scored (2.74×, AUC 0.884), which the same check
    rejects."""
    import kpi_engine.scoring.moments as moments

    engine, url, tmp = world
    with engine.connect() as conn:
        versions = conn.execute(select(func.count()).select_from(ModelVersion)).scalar_one()
    result = run(url, tmp, monkeypatch, "backtest", "--days", "45", "--json")
    assert result.exit_code == 0, result.output
    (now,) = json.loads(result.output)
    assert now["leads_scored"] > 300 and now["auc"] > 0.8
    assert 0.5 < now["mean_score"] / now["converted"] < 1.8
    assert sum(b["leads"] for b in now["by_age"]) == now["leads_scored"]
    with engine.connect() as conn:  # a backtest stores no model
        assert conn.execute(select(func.count()).select_from(ModelVersion)).scalar_one() \
            == versions
    monkeypatch.setattr(moments, "SNAPSHOT_BANDS", FIXED_AGES)
    (before,) = json.loads(run(url, tmp, monkeypatch, "backtest", "--days", "45",
                               "--json").output)
    assert before["mean_score"] / before["converted"] > 1.8


def test_the_crossed_model_through_the_cli(tmp_path, monkeypatch, data_dir) -> None:
    """`KPIBOT_LEAD_MODEL=interactions`: X Education imported, 300 of its leads reopened as
    if still being worked; CatBoost wins the comparison there, and its per-lead reasons are
    written back and listed like any other model's."""
    with migrated_engine("sqlite", tmp_path) as engine:
        url = engine.url.render_as_string(hide_password=False)
        imported = run(url, tmp_path, monkeypatch, "import", "xeducation",
                       str(data_dir / "xeducation_leads" / "Leads.csv"))
        assert imported.exit_code == 0, imported.output
        with engine.begin() as conn:
            reopened = [i for (i,) in conn.execute(select(Lead.id).order_by(Lead.id).limit(300))]
            conn.execute(Lead.__table__.update().where(Lead.id.in_(reopened))
                         .values(status="open", converted=None, converted_at=None))
        monkeypatch.setenv("KPIBOT_LEAD_MODEL", "interactions")
        trained = run(url, tmp_path, monkeypatch, "train", "--json")
        assert trained.exit_code == 0, trained.output
        figures = json.loads(trained.output)
        assert figures["estimator"] == "catboost"
        assert figures["cv_auc"]["catboost"] > figures["cv_auc"]["gradient_boosting"]
        assert "Scored 300 open leads" in run(url, tmp_path, monkeypatch, "score").output
        listed = json.loads(run(url, tmp_path, monkeypatch, "leads", "--all", "--limit", "300",
                                "--json").output)
        assert len(listed) == 300
        # A lead much like the reference lead has no reason strong enough to name (2 here).
        assert all(len(lead["reasons"]) <= 3 for lead in listed)
        assert sum(len(lead["reasons"]) == 3 for lead in listed) > 200
        scores = [lead["score"] for lead in listed]
        assert scores == sorted(scores, reverse=True) and scores[0] > 80 > scores[-1]
        report = json.loads(run(url, tmp_path, monkeypatch, "model", "--json").output)
        assert report["estimator"] == "catboost" and report["scored_open_leads"] == 300
