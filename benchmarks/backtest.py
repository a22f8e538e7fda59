"""Backtest the lead score the way a rep meets it: as of a past day, on the leads open then.

The demo CRM (seed 42) is cut back to day T = today − N days: leads created later are
removed, and so are activities and stage events after T; a lead converted or disqualified
after T is open again. The model is trained on what was known at T, scores the leads open
at T, and the scores are compared with what then happened to those leads (converted, or
disqualified: leads still open today are left out). The held-out figures of `kpibot train`
are computed on closed leads; this is the figure for the open ones.

Run: .venv/bin/python benchmarks/backtest.py [--days 30 45 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sqlalchemy import Engine, text

from kpi_engine.db import migrate
from kpi_engine.db.models import Lead
from kpi_engine.db.session import make_engine
from kpi_engine.demo import seed_demo
from kpi_engine.scoring.features import feature_matrix, load_leads
from kpi_engine.scoring.guard import LeakageGuard
from kpi_engine.scoring.train import fit_lead_model

TODAY = dt.date(2026, 12, 4)
AGE_BUCKETS = [0, 0.5, 2, 7, 14, 30, 400]  # days since creation at T


def cut_back(engine: Engine, at: dt.datetime) -> None:
    """The database as it stood at `at` (statuses reopened, later history removed; leads
    created later are left out by the reads)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM stage_events WHERE occurred_at >= :t"), {"t": at})
        conn.execute(text("DELETE FROM activities WHERE occurred_at >= :t"), {"t": at})
        conn.execute(text(
            "UPDATE leads SET status = 'open', converted = NULL, converted_at = NULL "
            "WHERE converted_at >= :t OR (status = 'lost' AND id NOT IN (SELECT lead_id FROM "
            "stage_events WHERE to_stage = 'Disqualified' AND lead_id IS NOT NULL))"), {"t": at})


@dataclass(frozen=True)
class Replay:
    days: int
    trained_on: int
    estimator: str
    held_out_auc: float
    scores: np.ndarray  # 0–1, for the leads open at T that were decided since
    converted: np.ndarray  # their fate
    age_days: np.ndarray  # their age at T

    @property
    def auc(self) -> float:
        return float(roc_auc_score(self.converted, self.scores))

    def describe(self) -> str:
        table = (pd.DataFrame({"score": self.scores, "converted": self.converted,
                               "age": pd.cut(self.age_days, AGE_BUCKETS)})
                 .groupby("age", observed=True)
                 .agg(n=("score", "size"), score=("score", "mean"),
                      converted=("converted", "mean")))
        by_age = "; ".join(
            f"{b.left:g}–{b.right:g} d: {r.score:.0%} vs {r.converted:.0%} (n={int(r.n)})"
            for b, r in table.iterrows())
        return (f"T − {self.days} d: trained on {self.trained_on:,} leads ({self.estimator}, "
                f"held-out AUC {self.held_out_auc:.3f}); {len(self.scores):,} leads open at T "
                f"and decided since: AUC {self.auc:.3f}, mean score {self.scores.mean():.1%} "
                f"vs {self.converted.mean():.1%} converted\n    by age at T: {by_age}")


def replay(source: Path, days: int, today: dt.date = TODAY) -> Replay:
    """Train as of `days` before `today` on a copy of the SQLite file `source`, and score
    the leads open then."""
    at = dt.datetime.combine(today, dt.time()) - dt.timedelta(days=days)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "backtest.db"
        shutil.copy(source, copy)
        engine = make_engine(f"sqlite:///{copy}")
        with engine.connect() as conn:
            outcome = dict(conn.execute(text("SELECT id, status FROM leads")).all())
        cut_back(engine, at)
        leads = Lead.__table__.c
        existed = leads.created_at < at
        labelled = load_leads(engine, existed & leads.status.in_(("converted", "lost")))
        open_then = load_leads(engine, existed & (leads.status == "open"), as_of=at)
        engine.dispose()
    result = fit_lead_model(labelled, LeakageGuard.default())
    scores, _, _ = result.model.scorer.score(feature_matrix(open_then, result.model.specs))
    fate = open_then.data["lead_id"].map(outcome)
    decided = fate.isin(("converted", "lost")).to_numpy()
    age = (pd.Timestamp(at) - open_then.data["created_at"]).dt.total_seconds() / 86400
    return Replay(days, result.n_train + result.n_test, result.estimator,
                  result.test_quality.auc, scores[decided] / 100,
                  (fate == "converted").to_numpy()[decided], age.to_numpy()[decided])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, nargs="+", default=[30, 45, 60])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "demo.db"
        engine = make_engine(f"sqlite:///{source}")
        migrate.upgrade(engine)
        seed_demo(engine, today=TODAY, seed=42)
        engine.dispose()
        for days in args.days:
            print(replay(source, days).describe(), flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
