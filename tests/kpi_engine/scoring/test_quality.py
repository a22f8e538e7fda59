"""Model quality on the public data sets, the compiled scorer's exactness and faithful reasons.

No database here: the frames come straight from the files (kpi_engine.scoring.samples);
tests/kpi_engine/scoring/test_commands.py trains from the database.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from kpi_engine.errors import NotEnoughDataError
from kpi_engine.scoring.features import feature_matrix, select_features
from kpi_engine.scoring.guard import LeakageGuard
from kpi_engine.scoring.samples import olist_frame, xeducation_frame
from kpi_engine.scoring.score import score_frame
from kpi_engine.scoring.train import TrainingResult, cross_validated_auc, fit_lead_model
from tests.kpi_engine.scoring.neutral import raw_value, without_top_reason

SALES_ENTERED = ("Tags", "Lead Quality", "Lead Profile", "Asymmetrique Activity Index",
                 "Asymmetrique Profile Index", "Asymmetrique Activity Score",
                 "Asymmetrique Profile Score")


@pytest.fixture(scope="module")
def xeducation(data_dir: Path):
    return xeducation_frame(data_dir / "xeducation_leads" / "Leads.csv")


# 3 folds keep the module fast; the 5-fold figures the issue asks for are checked in
# test_cross_validated_auc_with_and_without_guard and printed by benchmarks/scoring_bench.py.
TEST_FOLDS = 3


@pytest.fixture(scope="module")
def trained(xeducation) -> TrainingResult:
    return fit_lead_model(xeducation, LeakageGuard.default(), n_folds=TEST_FOLDS)


def test_guard_keeps_sales_entered_fields_out(trained: TrainingResult) -> None:
    for name in SALES_ENTERED + ("Converted",):
        assert f"attr:{name}" not in trained.features
        assert f"attr:{name}" in trained.dropped


def test_export_time_behaviour_stays_when_every_lead_is_measured_at_export(
        trained: TrainingResult) -> None:
    # X Education has no activity log: one row per lead, all read at export (guard.py).
    assert {"total_visits", "time_on_site_seconds", "attr:Last Notable Activity"} \
        <= set(trained.features)
    guard = LeakageGuard.default()
    assert guard.read_at_export("Page Views Per Visit") and guard.read_at_export("email_opens")
    assert guard.read_at_export("industry") is None
    assert LeakageGuard.off().read_at_export("total_visits") is None


def test_cross_validated_auc_with_and_without_guard(xeducation) -> None:
    y = xeducation.label
    guarded = select_features(xeducation, LeakageGuard.default()).specs
    everything = select_features(xeducation, LeakageGuard.off()).specs
    assert {f"attr:{n}" for n in SALES_ENTERED} <= {s.name for s in everything}
    auc_guarded = cross_validated_auc(feature_matrix(xeducation, guarded), y, guarded)
    auc_all = cross_validated_auc(feature_matrix(xeducation, everything), y, everything,
                                  ("logistic_regression",))["logistic_regression"]
    # The bar with the guard is 0.91. The additive candidates, whose reasons are exact
    # table lookups: gradient boosting with its reason groups 0.908 (0.9076–0.9087 over five
    # fold seeds), logistic regression 0.902. The crossed candidate (CatBoost, opt-in) reaches
    # the bar: test_crossed.py. The test pins what is reached, so that a regression fails.
    assert auc_guarded["gradient_boosting"] >= 0.905
    assert auc_guarded["logistic_regression"] >= 0.90
    assert auc_all >= 0.98


def test_training_figures_are_sane(trained: TrainingResult) -> None:
    q = trained.test_quality
    assert trained.holdout.startswith("random")  # the file has no dates
    assert q.auc >= 0.89 and q.brier <= 0.13
    assert q.lift_by_decile[0] >= 2.2 and q.lift_by_decile[0] > q.lift_by_decile[-1]
    assert q.base_rate == pytest.approx(3561 / 9240, abs=0.01)
    assert trained.n_train + trained.n_test == 9240


def test_compiled_scores_equal_the_sklearn_pipeline(trained: TrainingResult, xeducation) -> None:
    X = feature_matrix(xeducation, trained.model.specs)
    scores, _ = score_frame(trained.model, X)
    expected = trained.model.pipeline.predict_proba(X)[:, 1] * 100
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)


def test_neutralising_the_top_reason_moves_the_score(trained: TrainingResult, xeducation) -> None:
    """Setting the top reason's features to the reference lead's values, through the sklearn
    pipeline itself, lowers the score when the reason raised it (and raises it otherwise)."""
    model = trained.model
    X = feature_matrix(xeducation, model.specs).iloc[:300]
    scores, reasons = score_frame(model, X)
    rows, neutral = without_top_reason(model, X, reasons)
    after = model.pipeline.predict_proba(neutral)[:, 1] * 100
    raised = reasons.impact[rows, 0] > 0
    assert np.all(after[raised] < scores[rows][raised])
    assert np.all(after[~raised] > scores[rows][~raised])
    assert len(rows) > 250


def test_reasons_are_plain_words(trained: TrainingResult, xeducation) -> None:
    X = feature_matrix(xeducation, trained.model.specs).iloc[:50]
    _, reasons = score_frame(trained.model, X)
    listed = reasons.for_lead(0, trained.model.group_labels)
    assert 1 <= len(listed) <= 3
    for reason in listed:
        assert reason["effect"] in ("raises", "lowers")
        assert "attr:" not in reason["text"] and "nan" not in reason["text"]
    impacts = [abs(r["impact"]) for r in listed]
    assert impacts == sorted(impacts, reverse=True)


def test_training_is_deterministic(xeducation, trained: TrainingResult) -> None:
    small = xeducation.__class__(xeducation.data.iloc[:1500], xeducation.attribute_names)
    first = fit_lead_model(small, LeakageGuard.default(), n_folds=TEST_FOLDS)
    second = fit_lead_model(small, LeakageGuard.default(), n_folds=TEST_FOLDS)
    X = feature_matrix(small, first.model.specs)
    np.testing.assert_array_equal(score_frame(first.model, X)[0], score_frame(second.model, X)[0])


def test_olist_won_vs_not_won(data_dir: Path) -> None:
    frame = olist_frame(data_dir / "olist_marketing_funnel")
    result = fit_lead_model(frame, LeakageGuard.default(), n_folds=TEST_FOLDS)
    # Closed-deal fields exist only for won deals: they must never be features.
    for name in ("segment", "lead_type", "behaviour_profile", "attr:sdr_id", "attr:sr_id"):
        assert name not in result.features
    assert result.holdout.startswith("most recent")
    q = result.test_quality
    # Independent check of the base rate from the files: 842 won of 8,000 MQLs overall.
    deals = pd.read_csv(data_dir / "olist_marketing_funnel" / "olist_closed_deals_dataset.csv")
    assert result.n_train + result.n_test == 8000 and len(deals) == 842
    assert 0.55 <= q.auc <= 0.85  # honest: origin and landing page carry little signal


def test_refuses_too_little_data(xeducation) -> None:
    tiny = xeducation.__class__(xeducation.data.iloc[:150], xeducation.attribute_names)
    with pytest.raises(NotEnoughDataError, match="at least 200 leads"):
        fit_lead_model(tiny, LeakageGuard.default())
    few_wins = xeducation.data[xeducation.data["status"] == "lost"].iloc[:400]
    few = pd.concat([few_wins, xeducation.data[xeducation.data["status"] == "converted"].iloc[:5]])
    with pytest.raises(NotEnoughDataError, match="20 converted leads are needed, there are 5"):
        fit_lead_model(xeducation.__class__(few, xeducation.attribute_names),
                       LeakageGuard.default())
    assert roc_auc_score([0, 1], [0.2, 0.8]) == 1.0


def test_gradient_boosting_compiles_exactly(xeducation) -> None:
    """The grouped gradient-boosting candidate is additive over reason groups, so its lookup
    tables reproduce the sklearn pipeline exactly (sklearn reorders categorical features
    before applying interaction constraints; pipeline.py maps the groups accordingly)."""
    from kpi_engine.scoring.pipeline import calibrated, make_model
    from kpi_engine.scoring.scorer import compile_scorer

    specs = select_features(xeducation, LeakageGuard.default()).specs
    X = feature_matrix(xeducation, specs)
    model = make_model("gradient_boosting", specs).set_params(model__max_iter=60)
    fitted = calibrated(model, xeducation.label, TEST_FOLDS).fit(X, xeducation.label)
    scorer = compile_scorer(fitted, X)  # raises when the tables differ by > 1e-6
    scores, _, _ = scorer.score(X)
    np.testing.assert_allclose(scores, fitted.predict_proba(X)[:, 1] * 100, rtol=0, atol=1e-7)


def test_a_group_reason_names_the_members_that_carry_it(trained: TrainingResult,
                                                        xeducation) -> None:
    """For a reason from a group of several features, the member it names first, set back
    alone to the reference lead's value through the sklearn pipeline, moves the score the
    way the reason says."""
    from kpi_engine.scoring.reasons import MIN_IMPACT, member_effects

    model = trained.model
    X = feature_matrix(xeducation, model.specs).iloc[:400]
    scores, reasons = score_frame(model, X)
    cells = model.scorer.cells(model.scorer.slots(X))
    checked = 0
    neutral = X.copy()
    moved_rows = []
    for row in range(len(X)):
        g = int(reasons.group[row, 0])
        if g < 0 or len(model.scorer.groups[g].features) < 2:
            continue
        group = model.scorer.groups[g]
        effect = member_effects(group)[cells[row, g]]
        carried = np.abs(effect) * (effect * reasons.impact[row, 0] > 0)
        if carried.max() < MIN_IMPACT:  # only the combination matters: all members named
            continue
        first = int(np.argmax(carried))
        spec = model.specs[group.features[first]]
        assert spec.label in str(reasons.text[row, 0]).split(";")[0]
        assert reasons.for_lead(row, model.group_labels)[0]["factor"].startswith(spec.label)
        neutral.iloc[row, neutral.columns.get_loc(spec.name)] = raw_value(
            model.scorer.encoder, spec, group.reference[first])
        moved_rows.append(row)
        checked += 1
    after = model.pipeline.predict_proba(neutral.iloc[moved_rows])[:, 1] * 100
    raised = reasons.impact[moved_rows, 0] > 0
    assert np.all(after[raised] < scores[moved_rows][raised])
    assert np.all(after[~raised] > scores[moved_rows][~raised])
    assert checked > 100


def test_reason_groups_stay_within_the_table_cap(xeducation, monkeypatch) -> None:
    """With a small cap, later members of a group act alone, and the model still compiles."""
    import kpi_engine.scoring.features as features
    from kpi_engine.scoring.pipeline import calibrated, make_model
    from kpi_engine.scoring.scorer import compile_scorer

    full = select_features(xeducation, LeakageGuard.default()).specs
    assert {s.name for s in full if s.group == "last activity and profile"} == {
        "last_activity", "attr:Last Notable Activity", "title", "city", "source"}
    monkeypatch.setattr(features, "MAX_TABLE_CELLS", 400)
    specs = select_features(xeducation, LeakageGuard.default()).specs
    grouped = {s.name for s in specs if s.group == "last activity and profile"}
    # Priority order: the last-activity snapshots join first, the lead source is cut.
    assert grouped == {"last_activity", "attr:Last Notable Activity"}
    X = feature_matrix(xeducation, specs)
    fitted = calibrated(make_model("gradient_boosting", specs).set_params(model__max_iter=40),
                        xeducation.label, TEST_FOLDS).fit(X, xeducation.label)
    scorer = compile_scorer(fitted, X)
    assert max(len(g.values) for g in scorer.groups) <= 400
