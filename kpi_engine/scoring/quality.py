"""Model quality figures: AUC, Brier, lift by decile, score histogram and drift (PSI)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score

HISTOGRAM_EDGES = np.linspace(0.0, 100.0, 11)
# Population stability index bands, as commonly read in credit scoring.
PSI_STABLE = 0.1
PSI_SHIFTED = 0.25


@dataclass(frozen=True)
class Quality:
    auc: float
    brier: float
    base_rate: float
    lift_by_decile: tuple[float, ...]  # conversion rate in each score decile ÷ base rate
    n: int
    n_positive: int

    @property
    def top_decile_lift(self) -> float:
        return self.lift_by_decile[0]


def lift_by_decile(y: np.ndarray, probability: np.ndarray) -> tuple[float, ...]:
    """Conversion rate of each tenth of leads, best-scored first, relative to the average."""
    base = float(np.mean(y))
    order = np.argsort(-probability, kind="stable")
    return tuple(round(float(np.mean(y[part])) / base, 3) if base > 0 and len(part) else 0.0
                 for part in np.array_split(order, 10))


def quality(y: np.ndarray, probability: np.ndarray) -> Quality:
    return Quality(
        auc=round(float(roc_auc_score(y, probability)), 4),
        brier=round(float(brier_score_loss(y, probability)), 4),
        base_rate=round(float(np.mean(y)), 4),
        lift_by_decile=lift_by_decile(y, probability),
        n=int(len(y)),
        n_positive=int(np.sum(y)),
    )


def score_histogram(scores: np.ndarray) -> list[int]:
    """Counts of scores in ten bands 0–10, 10–20, … 90–100."""
    counts, _ = np.histogram(np.clip(scores, 0.0, 100.0), bins=HISTOGRAM_EDGES)
    return [int(c) for c in counts]


def psi(expected: list[int], actual: list[int]) -> float:
    """Population stability index between two histograms over the same bands."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.sum() == 0 or a.sum() == 0:
        return 0.0
    # A small floor keeps empty bands from dividing by zero.
    e = np.maximum(e / e.sum(), 1e-4)
    a = np.maximum(a / a.sum(), 1e-4)
    return round(float(np.sum((a - e) * np.log(a / e))), 4)


def drift_verdict(value: float) -> str:
    if value < PSI_STABLE:
        return "stable"
    if value < PSI_SHIFTED:
        return "shifting"
    return "shifted: retrain"
