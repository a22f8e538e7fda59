"""Lead scoring speed: training time on X Education, scoring throughput on 1M leads.

Run: .venv/bin/python benchmarks/scoring_bench.py  (one thread for the sklearn parts).
The 1M synthetic leads are X Education rows drawn with replacement, with their numbers
jittered, so that every code path (categories, numbers, missing values) is exercised.
With CatBoost installed (requirements-interactions.txt) the crossed candidate
(`KPIBOT_LEAD_MODEL=interactions`) is measured too, on the same leads.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

from kpi_engine.scoring.crossed import catboost_available
from kpi_engine.scoring.features import feature_matrix, select_features
from kpi_engine.scoring.guard import LeakageGuard
from kpi_engine.scoring.pipeline import CROSSED, make_model
from kpi_engine.scoring.samples import olist_frame, xeducation_frame
from kpi_engine.scoring.score import score_frame
from kpi_engine.scoring.train import cross_validated_auc, fit_lead_model

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "xeducation_leads" / "Leads.csv"
N = 1_000_000
BASELINE_N = 100_000


def main() -> None:
    frame = xeducation_frame(DATA)
    started = time.perf_counter()
    result = fit_lead_model(frame, LeakageGuard.default())
    train_s = time.perf_counter() - started
    q = result.test_quality
    guarded = select_features(frame, LeakageGuard.default()).specs
    on = cross_validated_auc(feature_matrix(frame, guarded), frame.label, guarded)
    print(f"X Education 5-fold CV AUC, guard on: {on}")
    everything = select_features(frame, LeakageGuard.off()).specs
    unguarded = cross_validated_auc(feature_matrix(frame, everything), frame.label, everything)
    print(f"X Education 5-fold CV AUC, guard off (all fields): {unguarded}; "
          f"top-decile lift {q.top_decile_lift} (guard on, holdout)")
    olist = fit_lead_model(olist_frame(DATA.parents[1] / "olist_marketing_funnel"),
                           LeakageGuard.default())
    print(f"Olist won vs not won: {olist.estimator}, CV AUC {olist.cv_auc}, holdout AUC "
          f"{olist.test_quality.auc}, Brier {olist.test_quality.brier}, top-decile lift "
          f"{olist.test_quality.top_decile_lift}")
    print(f"training on X Education ({len(frame)} leads): {train_s:.1f} s "
          f"[{result.estimator}; CV AUC {result.cv_auc}; holdout AUC {q.auc}, Brier {q.brier}]")
    X = feature_matrix(frame, result.model.specs)
    rng = np.random.default_rng(0)
    big = X.iloc[rng.integers(0, len(X), N)].reset_index(drop=True)
    for spec in result.model.specs:
        if spec.kind == "number":
            big[spec.name] = big[spec.name] * rng.uniform(0.8, 1.2, N)
    started = time.perf_counter()
    scores, reasons = score_frame(result.model, big)
    texts = reasons.text  # the sentences themselves, so the timing includes them
    score_s = time.perf_counter() - started
    assert len(scores) == N and texts.shape == (N, 3)
    print(f"scoring {N:,} leads with top-3 reasons: {score_s:.2f} s = {N / score_s:,.0f} leads/s "
          f"(goal ≥ 200,000)")
    # Baseline in the same run: the fitted scikit-learn pipeline, probabilities only.
    sample = big.iloc[:BASELINE_N]
    started = time.perf_counter()
    with threadpool_limits(1):
        result.model.pipeline.predict_proba(sample)
    baseline_rate = BASELINE_N / (time.perf_counter() - started)
    print(f"scikit-learn pipeline predict_proba (no reasons), {BASELINE_N:,} leads: "
          f"{baseline_rate:,.0f} leads/s; compiled scorer with reasons = "
          f"{N / score_s / baseline_rate:.1f}× that")
    if catboost_available():
        crossed(frame, big, N / score_s)


def crossed(frame, big, additive_rate: float) -> None:
    """The optional crossed candidate: its CV AUC, training time and scoring speed, the
    additive scorer's rate from the same run as the baseline."""
    guarded = select_features(frame, LeakageGuard.default()).specs
    X = feature_matrix(frame, guarded)
    for seed in (0, 1, 2):  # 0 is the seed kpibot and the tests use
        folds = StratifiedKFold(5, shuffle=True, random_state=seed)
        auc = {kind: round(float(np.mean(cross_val_score(
            make_model(kind, guarded), X, frame.label, cv=folds, scoring="roc_auc"))), 4)
            for kind in (CROSSED, "gradient_boosting")}
        print(f"X Education 5-fold CV AUC, guard on, fold seed {seed}: {auc}")
    started = time.perf_counter()
    result = fit_lead_model(frame, LeakageGuard.default(), interactions=True)
    print(f"training with interactions: {time.perf_counter() - started:.1f} s "
          f"[{result.estimator}; CV AUC {result.cv_auc}; holdout AUC {result.test_quality.auc}, "
          f"Brier {result.test_quality.brier}]")
    started = time.perf_counter()
    scores, reasons = score_frame(result.model, big)
    texts = reasons.text
    score_s = time.perf_counter() - started
    assert len(scores) == len(big) and texts.shape == (len(big), 3)
    rate = len(big) / score_s
    print(f"crossed: scoring {len(big):,} leads with top-3 reasons: {score_s:.1f} s = "
          f"{rate:,.0f} leads/s, {additive_rate / rate:.1f}× slower than the additive scorer")
    started = time.perf_counter()
    result.model.pipeline.predict_proba(big)
    only = len(big) / (time.perf_counter() - started)
    print(f"crossed: scores only (calibrated pipeline, no reasons): {only:,.0f} leads/s")


if __name__ == "__main__":
    main()
