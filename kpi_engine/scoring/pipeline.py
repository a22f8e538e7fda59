"""The model: a scikit-learn Pipeline over coded lead features, and its two candidates.

Every feature is first turned into a small integer code (`LeadEncoder`): a category keeps
its own code when at least `MIN_CATEGORY_COUNT` training leads have it (the rest share
"other"), and a number is cut at training quantiles into at most `NUMBER_BINS` bins.
Missing stays missing. Then:

- ``gradient_boosting``: HistGradientBoosting on the codes (categories native), with
  interaction constraints so that only features of one reason group (`REASON_GROUPS` in
  features.py: web engagement, last activity and profile, origin and industry) combine.
  The model is a sum of one function per group.
- ``logistic_regression``: one-hot codes and an L2 logistic regression: a sum of one
  step function per feature.

Both are therefore *additive over reason groups* on a finite grid of codes, which is what
makes the compiled scorer (scorer.py) exact, fast and its reasons faithful.

- ``catboost`` (only with `KPIBOT_LEAD_MODEL=interactions`, crossed.py): crosses any
  features, so its reasons are measured per lead instead (scorer.ProbedScorer).
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

from kpi_engine.scoring.crossed import CrossedBoosting
from kpi_engine.scoring.features import FeatureSpec
from kpi_engine.scoring.grid import MAX_CATEGORIES, MIN_CATEGORY_COUNT, NUMBER_BINS

SEED = 0
CANDIDATES = ("gradient_boosting", "logistic_regression")
CROSSED = "catboost"


def candidates(interactions: bool = False) -> tuple[str, ...]:
    """The kinds compared by cross-validation; the crossed one only when asked for."""
    return CANDIDATES + ((CROSSED,) if interactions else ())


class LeadEncoder(TransformerMixin, BaseEstimator):
    """Raw feature matrix → one float code per feature (NaN = missing), learnt on training rows.

    With `raw_numbers`, numbers pass through as they are (for a learner that cuts them
    itself); their bins still name the lead's range in its reasons.
    """

    raw_numbers = False  # what encoders stored before the option existed read

    def __init__(self, specs: Sequence[FeatureSpec] = (), raw_numbers: bool = False) -> None:
        self.specs = specs
        self.raw_numbers = raw_numbers

    def fit(self, X: pd.DataFrame, y: Any = None) -> LeadEncoder:
        self.edges_: dict[str, np.ndarray] = {}
        self.categories_: dict[str, list[str]] = {}
        self.bin_medians_: dict[str, np.ndarray] = {}
        for spec in self.specs:
            column = X[spec.name]
            if spec.kind == "number":
                values = column.to_numpy(dtype=float)
                values = values[~np.isnan(values)]
                quantiles = np.linspace(0, 1, NUMBER_BINS + 1)[1:-1]
                edges = np.unique(np.quantile(values, quantiles)) if len(values) else np.array([])
                self.edges_[spec.name] = edges
                self.bin_medians_[spec.name] = _bin_medians(values, edges)
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

    def slot_codes(self, spec: FeatureSpec, column: pd.Series) -> np.ndarray:
        """Int codes 0..n_codes-1, and n_codes for missing (vectorised, no per-lead Python)."""
        missing_slot = self.n_codes(spec)
        if spec.kind == "number":
            values = column.to_numpy(dtype=float)
            codes = np.searchsorted(self.edges_[spec.name], values, side="right")
            codes[np.isnan(values)] = missing_slot
            return codes.astype(np.int64, copy=False)
        # Hash each distinct value once (factorize), then map the few distinct values.
        positions, uniques = pd.factorize(column, use_na_sentinel=True)
        categories = self.categories_[spec.name]
        found = pd.Index(categories, dtype=object).get_indexer(
            pd.Index(uniques).astype(object))
        lookup = np.where(found < 0, len(categories), found).astype(np.int64)
        # factorize marks missing as -1, which picks the appended missing slot.
        lookup = np.append(lookup, missing_slot)
        return lookup[positions]

    def slot_inputs(self, spec: FeatureSpec) -> np.ndarray:
        """What the model is given for each slot (the last one is missing): the code itself,
        or with `raw_numbers` the median training value inside a number's bin."""
        if self.raw_numbers and spec.kind == "number":
            return np.append(self.bin_medians_[spec.name], np.nan)
        return np.append(np.arange(self.n_codes(spec), dtype=float), np.nan)

    def encode(self, spec: FeatureSpec, column: pd.Series) -> np.ndarray:
        """Float codes for the model, NaN = missing (raw numbers with `raw_numbers`)."""
        if self.raw_numbers and spec.kind == "number":
            return column.to_numpy(dtype=float)
        codes = self.slot_codes(spec, column).astype(float)
        codes[codes == self.n_codes(spec)] = np.nan
        return codes

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({s.name: self.encode(s, X[s.name]) for s in self.specs},
                            index=X.index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([s.name for s in self.specs], dtype=object)


def _bin_medians(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The median training value inside each bin (the bin's lower edge when it is empty)."""
    bins = np.searchsorted(edges, values, side="right")
    medians = np.empty(len(edges) + 1)
    for b in range(len(edges) + 1):
        inside = values[bins == b]
        fallback = edges[b - 1] if b > 0 else (edges[0] if len(edges) else 0.0)
        medians[b] = np.median(inside) if len(inside) else fallback
    return medians


def reason_groups(specs: Sequence[FeatureSpec]) -> list[list[int]]:
    """Feature positions that may interact: one list per named group, one per other feature."""
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.group or f"\0{spec.name}", []).append(i)
    return list(groups.values())


def _hgb_interaction_cst(specs: Sequence[FeatureSpec]) -> list[list[int]]:
    """`reason_groups` in the feature order HistGradientBoosting really uses.

    With categorical features, sklearn reorders its input (categories first, then numbers)
    and applies `interaction_cst` to the *reordered* positions; passing the groups in our
    column order silently constrains the wrong features together, and the model stops
    being additive over reason groups.
    """
    order = [i for i, s in enumerate(specs) if s.kind == "category"]
    order += [i for i, s in enumerate(specs) if s.kind != "category"]
    position = {original: new for new, original in enumerate(order)}
    return [[position[i] for i in group] for group in reason_groups(specs)]


def make_model(kind: str, specs: Sequence[FeatureSpec]) -> Pipeline:
    """An unfitted candidate: encoder → (column transformer →) estimator."""
    names = [s.name for s in specs]
    if kind == "gradient_boosting":
        columns = ColumnTransformer([("codes", "passthrough", names)],
                                    verbose_feature_names_out=False)
        estimator: Any = HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=250, max_leaf_nodes=15, min_samples_leaf=30,
            l2_regularization=1.0, early_stopping=False, random_state=SEED,
            categorical_features=[s.kind == "category" for s in specs],
            interaction_cst=_hgb_interaction_cst(specs),
        )
    elif kind == CROSSED:
        return Pipeline([("encode", LeadEncoder(list(specs), raw_numbers=True)),
                         ("model", CrossedBoosting([s.kind == "category" for s in specs],
                                                    seed=SEED))])
    elif kind == "logistic_regression":
        columns = ColumnTransformer(
            [("onehot", OneHotEncoder(handle_unknown="ignore"), names)],
            verbose_feature_names_out=False)
        estimator = LogisticRegression(C=0.5, max_iter=3000)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    return Pipeline([("encode", LeadEncoder(list(specs))), ("columns", columns),
                     ("model", estimator)])


def folds(y: np.ndarray, leads: np.ndarray | None = None, n_folds: int = 5) -> Any:
    """Stratified folds; when a lead has several rows (training snapshots) all of them stay
    in one fold, so no fold is scored on a lead it was trained on.

    The leads themselves are stratified by outcome (all rows of a lead share it), which
    is what StratifiedGroupKFold approximates with a Python loop over groups: 10.7 s for
    75,000 leads against well under a second here.
    """
    n_folds = n_folds if len(y) >= 1000 else min(n_folds, 3)
    splitter = StratifiedKFold(n_folds, shuffle=True, random_state=SEED)
    if leads is None or len(np.unique(leads)) == len(leads):
        return splitter
    ids, row_lead = np.unique(leads, return_inverse=True)
    outcome = np.zeros(len(ids), dtype=int)
    np.maximum.at(outcome, row_lead, np.asarray(y, dtype=int))
    out = []
    for _, test_leads in splitter.split(np.zeros(len(ids)), outcome):
        in_test = np.isin(row_lead, test_leads)
        out.append((np.flatnonzero(~in_test), np.flatnonzero(in_test)))
    return out


def calibrated(model: Pipeline, y: np.ndarray, n_folds: int = 5,
               leads: np.ndarray | None = None) -> CalibratedClassifierCV:
    """Platt-calibrated probabilities; one final model (ensemble=False) keeps scoring exact.

    Sigmoid calibration is strictly increasing, so a lower model output is always a lower
    score: that is what lets the reasons be faithful.
    """
    return CalibratedClassifierCV(model, method="sigmoid", ensemble=False,
                                  cv=folds(y, leads, n_folds))
