"""The optional candidate that crosses features: CatBoost on the lead encoder's output.

The default candidates are sums of one part per reason group, so their reasons are exact
table lookups (scorer.py). CatBoost's trees cross any features (its largest gains on X
Education: specialisation × city, origin × last notable activity, origin × time on site),
which is worth about 0.002 of AUC there (0.910 against 0.908, benchmarks/RESULTS.md) but
is no sum of per-reason parts: its reasons are measured per lead by neutralising each
group (`ProbedScorer`), one model pass per group.

CatBoost is an optional dependency (about 270 MB installed): `pip install -r
requirements-interactions.txt`, then `KPIBOT_LEAD_MODEL=interactions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from kpi_engine.errors import InvalidInputError

INSTALL_HINT = ("KPIBOT_LEAD_MODEL=interactions needs the optional CatBoost package: "
                "`.venv/bin/pip install -r requirements-interactions.txt` (about 270 MB).")


def catboost_available() -> bool:
    try:
        import catboost  # noqa: F401
    except ImportError:
        return False
    return True


class CrossedBoosting(ClassifierMixin, BaseEstimator):
    """CatBoost over coded categories (missing = -1) and raw numbers (NaN = missing).

    `categorical`: per input column, whether it is a category code. Trained with one
    thread and a fixed seed: the same data gives the same model (also checked with two
    threads: the same figures).
    """

    def __init__(self, categorical: Sequence[bool] = (), iterations: int = 500,
                 depth: int = 4, learning_rate: float = 0.05, seed: int = 0) -> None:
        self.categorical = categorical
        self.iterations = iterations
        self.depth = depth
        self.learning_rate = learning_rate
        self.seed = seed

    def _input(self, X: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for name, is_category in zip(X.columns, self.categorical, strict=True):
            column = X[name].to_numpy(dtype=float)
            out[name] = (np.where(np.isnan(column), -1, column).astype(np.int64)
                         if is_category else column)
        return pd.DataFrame(out, index=X.index)

    def fit(self, X: pd.DataFrame, y: Any) -> CrossedBoosting:
        try:
            from catboost import CatBoostClassifier
        except ImportError as error:
            raise InvalidInputError(INSTALL_HINT) from error
        self.model_ = CatBoostClassifier(
            iterations=self.iterations, depth=self.depth, learning_rate=self.learning_rate,
            random_seed=self.seed, thread_count=1, verbose=0, allow_writing_files=False,
            cat_features=[i for i, c in enumerate(self.categorical) if c])
        labels = np.asarray(y)
        self.model_.fit(self._input(X), labels)
        self.classes_ = np.unique(labels)
        return self

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds of conversion (what Platt calibration and the scorer read)."""
        return np.asarray(self.model_.predict(self._input(X), prediction_type="RawFormulaVal"),
                          dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]
