"""The optional crossed candidate (CatBoost, `KPIBOT_LEAD_MODEL=interactions`): the issue's
0.91 bar on X Education, and reasons measured per lead that stay faithful and say the
direction they move the score in. `make test` installs requirements-interactions.txt."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from kpi_engine.errors import InvalidInputError
from kpi_engine.scoring import train
from kpi_engine.scoring.features import feature_matrix, select_features
from kpi_engine.scoring.guard import LeakageGuard
from kpi_engine.scoring.pipeline import CROSSED
from kpi_engine.scoring.samples import xeducation_frame
from kpi_engine.scoring.score import score_frame
from kpi_engine.scoring.scorer import ProbedScorer
from kpi_engine.scoring.train import TrainingResult, cross_validated_auc, fit_lead_model
from tests.kpi_engine.scoring.neutral import without_top_reason

TEST_FOLDS = 3


@pytest.fixture(scope="module")
def xeducation(data_dir: Path):
    return xeducation_frame(data_dir / "xeducation_leads" / "Leads.csv")


@pytest.fixture(scope="module")
def crossed(xeducation) -> TrainingResult:
    return fit_lead_model(xeducation, LeakageGuard.default(), n_folds=TEST_FOLDS,
                          interactions=True)


def test_the_crossed_candidate_reaches_the_bar_with_the_guard_on(xeducation) -> None:
    # 5-fold CV as the issue asks: 0.9102 here (0.9102–0.9105 over three fold seeds),
    # against 0.908 for the additive gradient boosting (test_quality.py).
    specs = select_features(xeducation, LeakageGuard.default()).specs
    auc = cross_validated_auc(feature_matrix(xeducation, specs), xeducation.label, specs,
                              (CROSSED,))
    assert auc[CROSSED] >= 0.91


def test_it_is_compared_with_the_others_and_kept_when_better(crossed: TrainingResult) -> None:
    assert set(crossed.cv_auc) == {"gradient_boosting", "logistic_regression", CROSSED}
    assert crossed.estimator == CROSSED == max(crossed.cv_auc, key=crossed.cv_auc.get)
    assert isinstance(crossed.model.scorer, ProbedScorer)
    assert crossed.test_quality.auc >= 0.9 and crossed.test_quality.brier <= 0.13


def test_scores_are_the_calibrated_model_s_own(crossed: TrainingResult, xeducation) -> None:
    X = feature_matrix(xeducation, crossed.model.specs)
    scores, _ = score_frame(crossed.model, X)
    expected = crossed.model.pipeline.predict_proba(X)[:, 1] * 100
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)


def test_neutralising_the_top_reason_removes_exactly_its_impact(crossed: TrainingResult,
                                                                xeducation) -> None:
    """The top reason's features set to the reference lead's values in the raw data, through
    the fitted pipeline: the model's log-odds move by the reason's impact, so the score
    drops when the reason raised it and rises when it lowered it."""
    model = crossed.model
    X = feature_matrix(xeducation, model.specs).iloc[:300]
    scores, reasons = score_frame(model, X)
    rows, neutral = without_top_reason(model, X, reasons)
    pipeline = model.pipeline.calibrated_classifiers_[0].estimator
    moved = pipeline.decision_function(X.iloc[rows]) - pipeline.decision_function(neutral)
    np.testing.assert_allclose(moved, reasons.impact[rows, 0], rtol=0, atol=1e-9)
    after = model.pipeline.predict_proba(neutral)[:, 1] * 100
    raised = reasons.impact[rows, 0] > 0
    assert np.all(after[raised] < scores[rows][raised])
    assert np.all(after[~raised] > scores[rows][~raised])
    assert raised.sum() > 50 and (~raised).sum() > 50


def test_a_reason_s_words_point_the_way_it_moves_the_score(crossed: TrainingResult,
                                                          xeducation) -> None:
    """A crossed model can move the same value either way depending on the lead's other
    values (14 % of top reasons on X Education): a rate is quoted above average only in a
    reason that raises the score, and below average only in one that lowers it."""
    X = feature_matrix(xeducation, crossed.model.specs)
    _, reasons = score_frame(crossed.model, X)
    quoted = 0
    for row in range(len(X)):
        for reason in reasons.for_lead(row, crossed.model.group_labels):
            for times in re.findall(r"(\d+\.\d)× the average", reason["text"]):
                quoted += 1
                if reason["effect"] == "raises":
                    assert float(times) >= 1.0, reason
                else:
                    assert float(times) <= 1.0, reason
    assert quoted > 5000


def test_without_catboost_it_says_how_to_install_it(xeducation, monkeypatch) -> None:
    monkeypatch.setattr(train, "catboost_available", lambda: False)
    with pytest.raises(InvalidInputError, match="requirements-interactions.txt"):
        fit_lead_model(xeducation, LeakageGuard.default(), interactions=True)
