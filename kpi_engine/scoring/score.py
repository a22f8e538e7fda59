"""Scoring open leads with the current model version, and reporting on that version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sqlalchemy import Engine, bindparam, select, update

from kpi_engine.clock import naive_utc
from kpi_engine.db.models import Lead, ModelVersion
from kpi_engine.errors import InvalidInputError, NotEnoughDataError
from kpi_engine.scoring.features import feature_matrix, load_leads
from kpi_engine.scoring.quality import drift_verdict, psi, score_histogram
from kpi_engine.scoring.reasons import Reasons, top_reasons
from kpi_engine.scoring.train import ScoringModel

LEADS = Lead.__table__
VERSIONS = ModelVersion.__table__


@dataclass(frozen=True)
class LoadedModel:
    version_id: int
    row: dict[str, Any]
    model: ScoringModel


@dataclass(frozen=True)
class ScoreRun:
    version_id: int
    scored: int
    scored_at: dt.datetime
    histogram: list[int]


def current_model(engine: Engine) -> LoadedModel:
    """The newest model version and its artifact; a clear error when there is none."""
    with engine.connect() as conn:
        row = conn.execute(select(VERSIONS).order_by(VERSIONS.c.id.desc()).limit(1)
                           ).mappings().first()
    if row is None:
        raise NotEnoughDataError("No lead-scoring model yet: run `kpibot train` first.")
    path = Path(row["artifact_path"])
    if not path.is_file():
        raise InvalidInputError(f"Model version {row['id']} has no artifact at {path}: "
                                f"run `kpibot train` again.")
    model = joblib.load(path)
    if not isinstance(model, ScoringModel):
        raise InvalidInputError(f"{path} is not a kpibot lead-scoring model.")
    return LoadedModel(int(row["id"]), dict(row), model)


def score_frame(model: ScoringModel, X: pd.DataFrame) -> tuple[np.ndarray, Reasons]:
    """Scores 0–100 and top reasons for a raw feature matrix (pure, vectorised)."""
    scores, contributions, cells = model.scorer.score(X)
    return scores, top_reasons(contributions, cells, model.book)


def score_open_leads(engine: Engine, now: dt.datetime) -> ScoreRun:
    """Score every open lead and write score, version, scored-at and reasons, all at once."""
    loaded = current_model(engine)
    scored_at = naive_utc(now)
    frame = load_leads(engine, LEADS.c.status == "open", as_of=scored_at)
    X = feature_matrix(frame, loaded.model.specs)
    scores, reasons = score_frame(loaded.model, X)
    labels = loaded.model.group_labels
    rows = [
        {"lead": int(lead_id), "score": round(float(scores[i]), 1),
         "reasons": reasons.for_lead(i, labels)}
        for i, lead_id in enumerate(frame.data["lead_id"])
    ]
    if rows:
        statement = (
            update(LEADS).where(LEADS.c.id == bindparam("lead"))
            .values(score=bindparam("score"), score_model_version=loaded.version_id,
                    scored_at=scored_at, score_reasons=bindparam("reasons"))
        )
        with engine.begin() as conn:
            conn.execute(statement, rows)
    return ScoreRun(loaded.version_id, len(rows), scored_at, score_histogram(scores))


def model_report(engine: Engine, now: dt.datetime) -> dict[str, Any]:
    """The current version's quality, age and how open-lead scores drifted since training."""
    loaded = current_model(engine)
    row = loaded.row
    with engine.connect() as conn:
        current = [s for (s,) in conn.execute(
            select(LEADS.c.score).where(LEADS.c.status == "open",
                                        LEADS.c.score_model_version == loaded.version_id))]
        any_open = current or conn.execute(
            select(LEADS.c.id).where(LEADS.c.status == "open").limit(1)).first() is not None
    histogram = score_histogram(np.array(current, dtype=float)) if current else []
    details = row["details"] or {}
    # Open leads then against open leads now: the training rows (closed leads at several
    # ages) are another population, and compared with them a model "drifts" on day one.
    baseline = details.get("open_histogram") or row["score_histogram"]
    drift = psi(baseline, histogram) if current else None
    age = naive_utc(now) - row["created_at"]
    return {
        "version": loaded.version_id,
        "created_at": row["created_at"].isoformat(),
        "age_days": round(age.total_seconds() / 86400, 4),
        "estimator": row["estimator"],
        "auc": row["auc"], "brier": row["brier"], "base_rate": row["base_rate"],
        "top_decile_lift": row["lift_by_decile"][0] if row["lift_by_decile"] else None,
        "lift_by_decile": row["lift_by_decile"],
        "cv_auc": details.get("cv_auc"), "holdout": details.get("holdout"),
        "holdout_by_age": details.get("holdout_by_age", {}),
        "holdout_by_system": details.get("holdout_by_system", {}),
        "n_train": row["n_train"], "n_test": row["n_test"], "n_positive": row["n_positive"],
        "features": row["features"], "dropped": details.get("dropped", {}),
        "training_seconds": row["training_seconds"],
        "training_histogram": row["score_histogram"],
        "open_histogram_when_trained": details.get("open_histogram"),
        "drift_baseline": ("open leads when trained" if details.get("open_histogram")
                           else "training leads"),
        "current_histogram": histogram, "scored_open_leads": len(current),
        "drift_psi": drift,
        "drift": (drift_verdict(drift) if drift is not None
                  else "no open leads scored by this version yet (run `kpibot score`)"
                  if any_open else "no open leads to score"),
    }
