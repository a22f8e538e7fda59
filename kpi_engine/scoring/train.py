"""Training: choose, calibrate, evaluate and store a lead-scoring model version.

1. Leads with a known outcome (status converted or lost) are the training set; with fewer
   than `MIN_LABELLED` of them, or fewer than `MIN_CONVERSIONS` conversions (or as few
   non-conversions), training is refused with a message saying what is missing.
2. The most recent `HOLDOUT_SHARE` of them (by created_at) are held out when dates exist;
   without dates a stratified random share is held out instead.
3. The candidates (pipeline.py; the crossed one too with `KPIBOT_LEAD_MODEL=interactions`)
   are compared by 5-fold cross-validated AUC on the rest; the best is calibrated,
   evaluated on the held-out leads, then refitted on every labelled lead.
4. The version is the artifact (joblib, under EngineSettings.model_dir) plus a
   `model_versions` row with its quality figures.

Everything is seeded: the same data gives the same model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split
from sqlalchemy import Engine, insert
from threadpoolctl import threadpool_limits

from kpi_engine.clock import naive_utc
from kpi_engine.db.models import Lead, ModelVersion
from kpi_engine.errors import InvalidInputError, KpiInternalError, NotEnoughDataError
from kpi_engine.scoring.crossed import INSTALL_HINT, catboost_available
from kpi_engine.scoring.features import (
    FeatureSelection,
    FeatureSpec,
    LeadFrame,
    feature_matrix,
    load_leads,
    select_features,
)
from kpi_engine.scoring.guard import LeakageGuard
from kpi_engine.scoring.moments import SNAPSHOT_BANDS, band_label, snapshot_bands
from kpi_engine.scoring.pipeline import (
    CANDIDATES,
    CROSSED,
    SEED,
    calibrated,
    candidates,
    folds,
    make_model,
)
from kpi_engine.scoring.quality import Quality, quality, score_histogram
from kpi_engine.scoring.reasons import FeatureFacts, ReasonBook, build_reason_book, feature_facts
from kpi_engine.scoring.scorer import LeadScorer, ProbedScorer, compile_scorer, probed_scorer

MIN_LABELLED = 200
MIN_CONVERSIONS = 20
HOLDOUT_SHARE = 0.2
CV_FOLDS = 5
# One thread: the machine (and a small team's server) is shared.
THREADS = 1


@dataclass(frozen=True)
class ScoringModel:
    """What the artifact holds: the compiled scorer, its sentences and the sklearn model."""

    scorer: LeadScorer
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
            "n_test": self.n_test, "n_rows": self.details["n_rows"],
            "n_positive": self.details["n_positive_test"] + self.details["n_positive_train"],
            "features": list(self.features), "dropped": self.dropped,
            "training_seconds": self.training_seconds, "artifact": self.artifact_path,
            "holdout_by_age": self.details.get("holdout_by_age", {}),
            "holdout_by_system": self.details.get("holdout_by_system", {}),
        }


def check_enough(label: np.ndarray, leads: np.ndarray) -> None:
    """Refuse, saying what is missing, when the outcomes cannot support a model (counted
    in leads, whatever the number of training rows per lead)."""
    n = len(np.unique(leads))
    won = len(np.unique(leads[label == 1]))
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
                        kinds: tuple[str, ...] = CANDIDATES, n_folds: int = CV_FOLDS,
                        leads: np.ndarray | None = None) -> dict[str, float]:
    """Mean stratified CV AUC (5 folds by default) of each candidate (encoder refitted in
    every fold; a lead's rows stay in one fold)."""
    cv = folds(y, leads, n_folds)
    with threadpool_limits(THREADS):
        return {kind: round(float(np.mean(cross_val_score(
            make_model(kind, specs), X, y, cv=cv, scoring="roc_auc", n_jobs=1))), 4)
            for kind in kinds}


def _split(labelled: pd.DataFrame, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and held-out row positions; a lead's rows stay on one side."""
    per_lead = (pd.DataFrame({"lead_id": labelled["lead_id"].to_numpy(), "y": y,
                              "created": labelled["created_at"].to_numpy()})
                .groupby("lead_id", sort=True).agg(y=("y", "max"), created=("created", "first"))
                .reset_index())
    created = per_lead["created"]
    chosen: np.ndarray | None = None
    holdout = "random stratified 20 % (no usable dates)"
    if created.notna().mean() >= 0.9:
        order = np.lexsort((per_lead["lead_id"].to_numpy(),
                            created.fillna(created.min()).to_numpy()))
        cut = int(round(len(order) * (1 - HOLDOUT_SHARE)))
        test_y = per_lead["y"].to_numpy()[order[cut:]]
        if 0 < test_y.sum() < len(test_y):
            chosen, holdout = order[cut:], "most recent 20 % of leads by creation date"
    if chosen is None:
        _, chosen = train_test_split(np.arange(len(per_lead)), test_size=HOLDOUT_SHARE,
                                     stratify=per_lead["y"], random_state=SEED)
    in_test = labelled["lead_id"].isin(per_lead["lead_id"].to_numpy()[chosen]).to_numpy()
    return np.flatnonzero(~in_test), np.flatnonzero(in_test), holdout


def _holdout_by(keys: np.ndarray, order: Iterable[str], y: np.ndarray,
                probability: np.ndarray) -> dict[str, dict[str, float]]:
    """Held-out AUC and calibration per key, in `order`; keys holding one outcome only
    (no AUC to compute) are left out."""
    out: dict[str, dict[str, float]] = {}
    for label in order:
        at = keys == label
        if 0 < y[at].sum() < at.sum():
            out[label] = {
                "rows": int(at.sum()),
                "auc": round(float(roc_auc_score(y[at], probability[at])), 4),
                "converted": round(float(y[at].mean()), 4),
                "mean_probability": round(float(probability[at].mean()), 4)}
    return out


def holdout_by_age(rows: pd.DataFrame, y: np.ndarray,
                   probability: np.ndarray) -> dict[str, dict[str, float]]:
    """Held-out AUC and calibration at each age the leads were seen (moments.py): a model
    can rank week-old leads well and fresh ones poorly, which one AUC over all rows hides."""
    if "judged_at" not in rows:
        return {}
    bands = snapshot_bands(rows["created_at"], rows["judged_at"]).to_numpy()
    return _holdout_by(bands, map(band_label, SNAPSHOT_BANDS), y, probability)


def holdout_by_system(rows: pd.DataFrame, y: np.ndarray,
                      probability: np.ndarray) -> dict[str, dict[str, float]]:
    """Held-out figures per source system when leads of several CRMs are pooled: the pooled
    AUC also ranks the systems against each other (their base rates differ), so it can read
    better or worse than any one system's (X Education with Olist: 0.882 pooled, 0.905 and
    0.681 within)."""
    systems = rows["source_system"].fillna("unknown").astype(str).to_numpy()
    names = sorted(set(systems))
    return _holdout_by(systems, names, y, probability) if len(names) > 1 else {}


def fit_lead_model(frame: LeadFrame, guard: LeakageGuard, n_folds: int = CV_FOLDS,
                   interactions: bool = False) -> TrainingResult:
    """Train on the labelled leads of `frame` (pure: no database, no files).

    `n_folds` is used for both the candidate comparison and the calibration; fewer folds
    train faster (tests) at the cost of a noisier comparison. A lead may have several rows
    (snapshots at several ages, moments.py): counts and splits are by lead.
    `interactions` adds the crossed candidate (crossed.py) to the comparison.
    """
    if interactions and not catboost_available():
        raise InvalidInputError(INSTALL_HINT)
    kinds = candidates(interactions)
    started = time.perf_counter()
    labelled_mask = frame.labelled.to_numpy()
    labelled = frame.data[labelled_mask].reset_index(drop=True)
    y = frame.label[labelled_mask]
    leads = labelled["lead_id"].to_numpy()
    check_enough(y, leads)
    selection: FeatureSelection = select_features(frame, guard)
    if not selection.specs:
        raise NotEnoughDataError("Cannot train a lead-scoring model: no usable features "
                                 "are left after the leakage guard.")
    specs = selection.specs
    X = feature_matrix(labelled, specs)
    train, test, holdout = _split(labelled, y)
    check_enough(y[train], leads[train])
    cv_auc = cross_validated_auc(X.iloc[train], y[train], specs, kinds, n_folds=n_folds,
                                 leads=leads[train])
    ranked = sorted(kinds, key=lambda kind: (-cv_auc[kind], kinds.index(kind)))
    notes: dict[str, str] = {}
    for best in ranked:
        with threadpool_limits(THREADS):
            final = calibrated(make_model(best, specs), y, n_folds, leads).fit(X, y)
        try:
            scorer = (probed_scorer if best == CROSSED else compile_scorer)(final, X)
            break
        except KpiInternalError as error:
            # Reasons must be exact; a model we cannot decompose exactly is not shipped.
            notes[best] = f"not used: {error}"
    else:
        raise KpiInternalError("no candidate model could be compiled exactly")
    with threadpool_limits(THREADS):
        evaluation = calibrated(make_model(best, specs), y[train], n_folds,
                                leads[train]).fit(X.iloc[train], y[train])
        test_probability = evaluation.predict_proba(X.iloc[test])[:, 1]
    # Each lead weighs one in the sentences' rates, however many rows it has.
    weights = 1.0 / pd.Series(leads).map(pd.Series(leads).value_counts()).to_numpy(float)
    facts = feature_facts(scorer, X, y, weights)
    base_rate = float(np.average(y, weights=weights))
    book = build_reason_book(scorer, facts, base_rate,
                             per_direction=isinstance(scorer, ProbedScorer))
    scores, _, _ = scorer.score(X)
    by_age = holdout_by_age(labelled.iloc[test], y[test], test_probability)
    by_system = holdout_by_system(labelled.iloc[test], y[test], test_probability)
    model = ScoringModel(scorer, book, tuple(facts), best, base_rate, final)
    n_train, n_test = len(np.unique(leads[train])), len(np.unique(leads[test]))
    return TrainingResult(
        model=model, estimator=best, cv_auc=cv_auc, holdout=holdout,
        test_quality=quality(y[test], test_probability), n_train=n_train, n_test=n_test,
        features=tuple(s.name for s in specs), dropped=selection.dropped,
        guard=guard.describe(), training_seconds=round(time.perf_counter() - started, 2),
        histogram=score_histogram(scores),
        details={"n_positive_train": len(np.unique(leads[train][y[train] == 1])),
                 "n_positive_test": len(np.unique(leads[test][y[test] == 1])),
                 "n_labelled": n_train + n_test, "n_rows": int(len(y)),
                 "holdout_by_age": by_age, "holdout_by_system": by_system,
                 "candidate_notes": notes},
    )


def train_model(engine: Engine, model_dir: Path, now: dt.datetime,
                guard: LeakageGuard | None = None, interactions: bool = False) -> TrainingResult:
    """Train on the database's labelled leads and store the version (artifact + row)."""
    guard = guard or LeakageGuard.default()
    frame = load_leads(engine, Lead.__table__.c.status.in_(("converted", "lost")))
    result = fit_lead_model(frame, guard, interactions=interactions)
    return store(engine, model_dir, now, result, open_histogram(engine, result.model, now))


def open_histogram(engine: Engine, model: ScoringModel, now: dt.datetime) -> list[int]:
    """How the model scores the leads open now: the baseline that later open-lead scores
    drift from (empty when no lead is open)."""
    frame = load_leads(engine, Lead.__table__.c.status == "open", as_of=naive_utc(now))
    if not len(frame):
        return []
    scores, _, _ = model.scorer.score(feature_matrix(frame, model.specs))
    return score_histogram(scores)


def store(engine: Engine, model_dir: Path, now: dt.datetime, result: TrainingResult,
          open_scores: list[int] | None = None) -> TrainingResult:
    """Write the artifact, then its row; a failed insert leaves no orphan file behind."""
    model_dir.mkdir(parents=True, exist_ok=True)
    created = naive_utc(now)
    digest = hashlib.sha256(repr((result.features, result.cv_auc, created)).encode())
    path = model_dir / f"lead-model-{created:%Y%m%dT%H%M%S}-{digest.hexdigest()[:8]}.joblib"
    joblib.dump(result.model, path)
    q = result.test_quality
    row = {
        "created_at": created, "estimator": result.estimator, "artifact_path": str(path),
        "auc": q.auc, "brier": q.brier, "base_rate": q.base_rate,
        "lift_by_decile": list(q.lift_by_decile), "n_train": result.n_train,
        "n_test": result.n_test,
        "n_positive": int(result.details["n_positive_test"] + result.details["n_positive_train"]),
        "features": list(result.features), "training_seconds": result.training_seconds,
        "score_histogram": result.histogram,
        "details": {"cv_auc": result.cv_auc, "holdout": result.holdout,
                    "dropped": result.dropped, "guard": result.guard,
                    "top_decile_lift": q.top_decile_lift,
                    "reason_groups": result.model.group_labels,
                    "candidate_notes": result.details.get("candidate_notes", {}),
                    "holdout_by_age": result.details.get("holdout_by_age", {}),
                    "holdout_by_system": result.details.get("holdout_by_system", {}),
                    "open_histogram": open_scores or []},
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
