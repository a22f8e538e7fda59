"""The model: a scikit-learn Pipeline over coded lead features, and its two candidates.

Every feature is first turned into a small integer code (`LeadEncoder`): a category keeps
its own code when at least `MIN_CATEGORY_COUNT` training leads have it (the rest share
"other"), and a number is cut at training quantiles into at most `NUMBER_BINS` bins.
Missing stays missing. Then:

- ``gradient_boosting``: HistGradientBoosting on the codes (categories native), with
  interaction constraints so that only features of one reason group (web engagement)
  combine. The model is a sum of one function per group.
- ``logistic_regression``: one-hot codes and an L2 logistic regression: a sum of one
  step function per feature.

Both are therefore *additive over reason groups* on a finite grid of codes, which is what
makes the compiled scorer (scorer.py) exact, fast and its reasons faithful.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from kpi_engine.scoring.features import FeatureSpec

NUMBER_BINS = 32
MIN_CATEGORY_COUNT = 10
MAX_CATEGORIES = 60
SEED = 0
CANDIDATES = ("gradient_boosting", "logistic_regression")


class LeadEncoder(TransformerMixin, BaseEstimator):
    """Raw feature matrix → one float code per feature (NaN = missing), learnt on training rows."""

    def __init__(self, specs: Sequence[FeatureSpec] = ()) -> None:
        self.specs = specs

    def fit(self, X: pd.DataFrame, y: Any = None) -> LeadEncoder:
        self.edges_: dict[str, np.ndarray] = {}
        self.categories_: dict[str, list[str]] = {}
        for spec in self.specs:
            column = X[spec.name]
            if spec.kind == "number":
                values = column.to_numpy(dtype=float)
                values = values[~np.isnan(values)]
                quantiles = np.linspace(0, 1, NUMBER_BINS + 1)[1:-1]
                edges = np.unique(np.quantile(values, quantiles)) if len(values) else np.array([])
                self.edges_[spec.name] = edges
            else:
                counts = column.dropna().value_counts()
                kept = counts[counts >= MIN_CATEGORY_COUNT].index[:MAX_CATEGORIES]
                self.categories_[spec.name] = sorted(str(v) for v in kept)
        self.feature_names_in_ = np.array([s.name for s in self.specs], dtype=object)
        return self

    def n_codes(self, spec: FeatureSpec) -> int:
        """How many non-missing codes the feature has (numbers: bins; categories: + "other")."""
        if spec.kind == "number":
            return len(self.edges_[spec.name]) + 1
        return len(self.categories_[spec.name]) + 1

    def encode(self, spec: FeatureSpec, column: pd.Series) -> np.ndarray:
        if spec.kind == "number":
            values = column.to_numpy(dtype=float)
            codes = np.searchsorted(self.edges_[spec.name], values, side="right").astype(float)
            codes[np.isnan(values)] = np.nan
            return codes
        categories = self.categories_[spec.name]
        other = len(categories)
        codes = pd.Index(categories, dtype=object).get_indexer(
            column.astype(object)).astype(float)
        codes[codes < 0] = other
        codes[column.isna().to_numpy()] = np.nan
        return codes

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({s.name: self.encode(s, X[s.name]) for s in self.specs},
                            index=X.index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([s.name for s in self.specs], dtype=object)


def reason_groups(specs: Sequence[FeatureSpec]) -> list[list[int]]:
    """Feature positions that may interact: one list per named group, one per other feature."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.group or f"\0{spec.name}", []).append(i)
    return list(groups.values())


def make_model(kind: str, specs: Sequence[FeatureSpec]) -> Pipeline:
    """An unfitted candidate: encoder → column transformer → estimator."""
    names = [s.name for s in specs]
    if kind == "gradient_boosting":
        columns = ColumnTransformer([("codes", "passthrough", names)],
                                    verbose_feature_names_out=False)
        estimator: Any = HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=250, max_leaf_nodes=15, min_samples_leaf=30,
            l2_regularization=1.0, early_stopping=False, random_state=SEED,
            categorical_features=[s.kind == "category" for s in specs],
            interaction_cst=reason_groups(specs),
        )
    elif kind == "logistic_regression":
        columns = ColumnTransformer(
            [("onehot", OneHotEncoder(handle_unknown="ignore"), names)],
            verbose_feature_names_out=False)
        estimator = LogisticRegression(C=0.5, max_iter=3000)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    return Pipeline([("encode", LeadEncoder(list(specs))), ("columns", columns),
                     ("model", estimator)])


def calibrated(model: Pipeline, n_rows: int) -> CalibratedClassifierCV:
    """Platt-calibrated probabilities; one final model (ensemble=False) keeps scoring exact.

    Sigmoid calibration is strictly increasing, so a lower model output is always a lower
    score: that is what lets the reasons be faithful.
    """
    folds = 5 if n_rows >= 1000 else 3
    return CalibratedClassifierCV(model, method="sigmoid", ensemble=False,
                                  cv=StratifiedKFold(folds, shuffle=True, random_state=SEED))
