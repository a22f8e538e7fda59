"""Backtest: the scores the model would have given the leads open on a past day, against
what then happened to them.

The held-out figures of training come from closed leads. A rep sees open ones, of every
age, so this replays the CRM as it stood on day T (`load_leads(history_until=T)`: later
stage events, activities and outcomes unseen), trains on what was known then, scores the
leads open then, and compares with their outcome today (converted or lost; leads still
open are left out). On the demo it is what showed that fixed training ages over-scored
every lead past its first days 2–4× (moments.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sqlalchemy import Engine, select, true

from kpi_engine.clock import naive_utc
from kpi_engine.db.models import Lead
from kpi_engine.errors import NotEnoughDataError
from kpi_engine.scoring.features import feature_matrix, load_leads
from kpi_engine.scoring.guard import LeakageGuard
from kpi_engine.scoring.moments import band_label
from kpi_engine.scoring.train import fit_lead_model

# Age on day T, in days, for the by-age comparison.
AGE_BUCKETS = (0.0, 0.5, 2.0, 7.0, 14.0, 30.0, np.inf)


@dataclass(frozen=True)
class AgeBucket:
    label: str
    leads: int
    mean_score: float  # 0–1
    converted: float  # share


@dataclass(frozen=True)
class Replay:
    as_of: dt.datetime
    trained_on: int  # labelled leads on day T
    estimator: str
    held_out_auc: float
    scores: np.ndarray  # 0–1, leads open on day T and decided since
    converted: np.ndarray  # their outcome
    ages: np.ndarray  # their age in days on day T

    @property
    def auc(self) -> float | None:
        both = 0 < self.converted.sum() < len(self.converted)
        return round(float(roc_auc_score(self.converted, self.scores)), 4) if both else None

    @property
    def by_age(self) -> tuple[AgeBucket, ...]:
        frame = pd.DataFrame({"score": self.scores, "converted": self.converted,
                              "age": pd.cut(self.ages, AGE_BUCKETS, right=False)})
        table = frame.groupby("age", observed=True).agg(
            n=("score", "size"), score=("score", "mean"), converted=("converted", "mean"))
        return tuple(AgeBucket(band_label((b.left, b.right)), int(r.n), round(float(r.score), 4),
                               round(float(r.converted), 4)) for b, r in table.iterrows())

    def summary(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(), "trained_on": self.trained_on,
            "estimator": self.estimator, "held_out_auc": self.held_out_auc,
            "leads_scored": len(self.scores), "auc": self.auc,
            "mean_score": round(float(self.scores.mean()), 4) if len(self.scores) else None,
            "converted": round(float(self.converted.mean()), 4) if len(self.scores) else None,
            "by_age": [asdict(b) for b in self.by_age],
        }


def replay(engine: Engine, as_of: dt.datetime, guard: LeakageGuard | None = None) -> Replay:
    """Train on the CRM as it stood at `as_of`; score the leads open then (see the module)."""
    at = naive_utc(as_of)
    with engine.connect() as conn:
        dated = conn.execute(select(Lead.id).where(Lead.created_at.is_not(None)).limit(1)).first()
    if dated is None:
        raise NotEnoughDataError("A backtest replays the CRM day by day, and these leads have "
                                 "no creation dates.")
    frame = load_leads(engine, true(), history_until=at)
    result = fit_lead_model(frame, guard or LeakageGuard.default())
    data = frame.data
    open_then = (data["status"] == "open").to_numpy()
    fate = data["outcome_now"].to_numpy()
    decided = open_then & np.isin(fate, ("converted", "lost"))
    if not decided.any():
        raise NotEnoughDataError(f"No lead open on {at:%Y-%m-%d} has been decided since: "
                                 f"replay an earlier day.")
    scores, _, _ = result.model.scorer.score(feature_matrix(data[decided], result.model.specs))
    ages = (pd.Timestamp(at) - data["created_at"][decided]).dt.total_seconds() / 86400
    return Replay(at, result.n_train + result.n_test, result.estimator,
                  result.test_quality.auc, scores / 100, fate[decided] == "converted",
                  ages.to_numpy())
