"""Training: choose, calibrate, evaluate and store a lead-scoring model version.

1. Leads with a known outcome (status converted or lost) are the training set; with fewer
   than `MIN_LABELLED` of them, or fewer than `MIN_CONVERSIONS` conversions (or as few
   non-conversions), training is refused with a message saying what is missing.
2. The most recent `HOLDOUT_SHARE` of them (by created_at) are held out when dates exist;
   without dates a stratified random share is held out instead.
3. The two candidates are compared by 5-fold cross-validated AUC on the rest; the better
   one is calibrated, evaluated on the held-out leads, then refitted on every labelled lead.
4. The version is the artifact (joblib, under EngineSettings.model_dir) plus a
   `model_versions` row with its quality figures.

Everything is seeded: the same data gives the same model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sqlalchemy import Engine, insert
from threadpoolctl import threadpool_limits

from kpi_engine.db.models import Lead, ModelVersion
from kpi_engine.errors import KpiInternalError, NotEnoughDataError
from kpi_engine.scoring.features import (
    FeatureSelection,
    FeatureSpec,
    LeadFrame,
    feature_matrix,
    load_leads,
    select_features,
)
from kpi_engine.scoring.guard import LeakageGuard
from kpi_engine.scoring.pipeline import CANDIDATES, SEED, calibrated, make_model
from kpi_engine.scoring.quality import Quality, quality, score_histogram
from kpi_engine.scoring.reasons import FeatureFacts, ReasonBook, build_reason_book, feature_facts
from kpi_engine.scoring.scorer import CompiledScorer, compile_scorer

MIN_LABELLED = 200
MIN_CONVERSIONS = 20
HOLDOUT_SHARE = 0.2
CV_FOLDS = 5
# One thread: the machine (and a small team's server) is shared.
THREADS = 1


@dataclass(frozen=True)
class ScoringModel:
    """What the artifact holds: the compiled scorer, its sentences and the sklearn model."""

    scorer: CompiledScorer
    book: ReasonBook
    facts: tuple[FeatureFacts, ...]
    estimator: str
    base_rate: float
    pipeline: Any  # the fitted CalibratedClassifierCV, kept for inspection and tests

    @property
    def specs(self) -> tuple[FeatureSpec, ...]:
        return self.scorer.specs

    @property
    def group_labels(self) -> list[str]:
        return [g.label for g in self.scorer.groups]


@dataclass(frozen=True)
class TrainingResult:
    """A trained model and how good it is, before or after it is stored."""

    model: ScoringModel
    estimator: str
    cv_auc: dict[str, float]
    holdout: str  # "most recent 20 % by creation date" | "random stratified 20 % (no dates)"
    test_quality: Quality
    n_train: int
    n_test: int
    features: tuple[str, ...]
    dropped: dict[str, str]
    guard: dict[str, object]
    training_seconds: float
    histogram: list[int]
    version_id: int | None = None
    artifact_path: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        q = self.test_quality
        return {
            "version": self.version_id, "estimator": self.estimator,
            "auc": q.auc, "brier": q.brier, "base_rate": q.base_rate,
            "top_decile_lift": q.top_decile_lift, "lift_by_decile": list(q.lift_by_decile),
            "cv_auc": self.cv_auc, "holdout": self.holdout, "n_train": self.n_train,
            "n_test": self.n_test, "n_positive": q.n_positive + self.details["n_positive_train"],
            "features": list(self.features), "dropped": self.dropped,
            "training_seconds": self.training_seconds, "artifact": self.artifact_path,
        }


def check_enough(label: np.ndarray) -> None:
    """Refuse, saying what is missing, when the outcomes cannot support a model."""
    n, won = len(label), int(label.sum())
    problems = []
    if n < MIN_LABELLED:
        problems.append(f"at least {MIN_LABELLED} leads with a known outcome (converted or "
                        f"lost) are needed, there are {n}")
    if won < MIN_CONVERSIONS:
        problems.append(f"at least {MIN_CONVERSIONS} converted leads are needed, there are {won}")
    if n - won < MIN_CONVERSIONS:
        problems.append(f"at least {MIN_CONVERSIONS} lost leads are needed, there are {n - won}")
    if problems:
        raise NotEnoughDataError("Cannot train a lead-scoring model: " + "; ".join(problems)
                                 + ". Import more history or wait for more outcomes.")


def cross_validated_auc(X: pd.DataFrame, y: np.ndarray, specs: tuple[FeatureSpec, ...],
                        kinds: tuple[str, ...] = CANDIDATES,
                        n_folds: int = CV_FOLDS) -> dict[str, float]:
    """Mean stratified CV AUC (5 folds by default) of each candidate (encoder refitted in
    every fold)."""
    folds = StratifiedKFold(n_folds, shuffle=True, random_state=SEED)
    with threadpool_limits(THREADS):
        return {kind: round(float(np.mean(cross_val_score(
            make_model(kind, specs), X, y, cv=folds, scoring="roc_auc", n_jobs=1))), 4)
            for kind in kinds}


def _split(frame: LeadFrame, labelled: pd.DataFrame, y: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, str]:
    positions = np.arange(len(labelled))
    created = labelled["created_at"]
    if created.notna().mean() >= 0.9:
        order = np.lexsort((labelled["lead_id"].to_numpy(),
                            created.fillna(created.min()).to_numpy()))
        cut = int(round(len(order) * (1 - HOLDOUT_SHARE)))
        test = order[cut:]
        if 0 < y[test].sum() < len(test):
            return order[:cut], test, "most recent 20 % of leads by creation date"
    train, test = train_test_split(positions, test_size=HOLDOUT_SHARE, stratify=y,
                                   random_state=SEED)
    return np.sort(train), np.sort(test), "random stratified 20 % (no usable dates)"


def fit_lead_model(frame: LeadFrame, guard: LeakageGuard,
                   n_folds: int = CV_FOLDS) -> TrainingResult:
    """Train on the labelled leads of `frame` (pure: no database, no files).

    `n_folds` is used for both the candidate comparison and the calibration; fewer folds
    train faster (tests) at the cost of a noisier comparison.
    """
    started = time.perf_counter()
    labelled_mask = frame.labelled.to_numpy()
    labelled = frame.data[labelled_mask].reset_index(drop=True)
    y = frame.label[labelled_mask]
    check_enough(y)
    selection: FeatureSelection = select_features(frame, guard)
    if not selection.specs:
        raise NotEnoughDataError("Cannot train a lead-scoring model: no usable features "
                                 "are left after the leakage guard.")
    specs = selection.specs
    X = feature_matrix(labelled, specs)
    train, test, holdout = _split(frame, labelled, y)
    check_enough(y[train])
    cv_auc = cross_validated_auc(X.iloc[train], y[train], specs, n_folds=n_folds)
    ranked = sorted(CANDIDATES, key=lambda kind: (-cv_auc[kind], CANDIDATES.index(kind)))
    notes: dict[str, str] = {}
    for best in ranked:
        with threadpool_limits(THREADS):
            final = calibrated(make_model(best, specs), len(y), n_folds).fit(X, y)
        try:
            scorer = compile_scorer(final, X)
            break
        except KpiInternalError as error:
            # Reasons must be exact; a model we cannot decompose exactly is not shipped.
            notes[best] = f"not used: {error}"
    else:
        raise KpiInternalError("no candidate model could be compiled exactly")
    with threadpool_limits(THREADS):
        evaluation = calibrated(make_model(best, specs), len(train), n_folds).fit(
            X.iloc[train], y[train])
        test_probability = evaluation.predict_proba(X.iloc[test])[:, 1]
    facts = feature_facts(scorer, X, y)
    base_rate = float(np.mean(y))
    book = build_reason_book(scorer, facts, base_rate)
    scores, _, _ = scorer.score(X)
    model = ScoringModel(scorer, book, tuple(facts), best, base_rate, final)
    return TrainingResult(
        model=model, estimator=best, cv_auc=cv_auc, holdout=holdout,
        test_quality=quality(y[test], test_probability), n_train=len(train), n_test=len(test),
        features=tuple(s.name for s in specs), dropped=selection.dropped,
        guard=guard.describe(), training_seconds=round(time.perf_counter() - started, 2),
        histogram=score_histogram(scores),
        details={"n_positive_train": int(y[train].sum()), "n_labelled": int(len(y)),
                 "candidate_notes": notes},
    )


def train_model(engine: Engine, model_dir: Path, now: dt.datetime,
                guard: LeakageGuard | None = None) -> TrainingResult:
    """Train on the database's labelled leads and store the version (artifact + row)."""
    guard = guard or LeakageGuard.default()
    frame = load_leads(engine, Lead.__table__.c.status.in_(("converted", "lost")))
    result = fit_lead_model(frame, guard)
    return store(engine, model_dir, now, result)


def store(engine: Engine, model_dir: Path, now: dt.datetime,
          result: TrainingResult) -> TrainingResult:
    """Write the artifact, then its row; a failed insert leaves no orphan file behind."""
    model_dir.mkdir(parents=True, exist_ok=True)
    created = now.astimezone(dt.UTC).replace(tzinfo=None) if now.tzinfo else now
    digest = hashlib.sha256(repr((result.features, result.cv_auc, created)).encode())
    path = model_dir / f"lead-model-{created:%Y%m%dT%H%M%S}-{digest.hexdigest()[:8]}.joblib"
    joblib.dump(result.model, path)
    q = result.test_quality
    row = {
        "created_at": created, "estimator": result.estimator, "artifact_path": str(path),
        "auc": q.auc, "brier": q.brier, "base_rate": q.base_rate,
        "lift_by_decile": list(q.lift_by_decile), "n_train": result.n_train,
        "n_test": result.n_test,
        "n_positive": q.n_positive + int(result.details["n_positive_train"]),
        "features": list(result.features), "training_seconds": result.training_seconds,
        "score_histogram": result.histogram,
        "details": {"cv_auc": result.cv_auc, "holdout": result.holdout,
                    "dropped": result.dropped, "guard": result.guard,
                    "top_decile_lift": q.top_decile_lift,
                    "reason_groups": result.model.group_labels,
                    "candidate_notes": result.details.get("candidate_notes", {})},
    }
    try:
        with engine.begin() as conn:
            version = conn.execute(insert(ModelVersion.__table__).values(**row)
                                   .returning(ModelVersion.__table__.c.id)).scalar_one()
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return TrainingResult(**{**result.__dict__, "version_id": int(version),
                             "artifact_path": str(path)})
