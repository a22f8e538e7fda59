"""Raw values that put a lead's feature back in a given slot, to neutralise a reason through
the sklearn pipeline itself (not through the scorer under test)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi_engine.scoring.features import FeatureSpec
from kpi_engine.scoring.pipeline import LeadEncoder
from kpi_engine.scoring.reasons import Reasons
from kpi_engine.scoring.train import ScoringModel

RARE = "\0a value no training lead had"


def raw_value(encoder: LeadEncoder, spec: FeatureSpec, slot: int) -> object:
    """A number: the median training value inside the slot's bin (exactly what a model on
    raw numbers is given for the slot); a category: its name, a rare value for "other"."""
    if slot == encoder.n_codes(spec):
        return np.nan
    if spec.kind == "number":
        return float(encoder.bin_medians_[spec.name][slot])
    names = encoder.categories_[spec.name]
    return names[slot] if slot < len(names) else RARE


def without_top_reason(model: ScoringModel, X: pd.DataFrame,
                       reasons: Reasons) -> tuple[np.ndarray, pd.DataFrame]:
    """The leads that have a top reason (their rows in X), and those leads with the top
    reason's features set back to the reference lead's values, as raw data."""
    rows = np.flatnonzero(reasons.group[:, 0] >= 0)
    neutral = X.iloc[rows].copy()
    for position, row in enumerate(rows):
        group = model.scorer.groups[int(reasons.group[row, 0])]
        for feature, slot in zip(group.features, group.reference, strict=True):
            spec = model.specs[feature]
            neutral.iloc[position, neutral.columns.get_loc(spec.name)] = raw_value(
                model.scorer.encoder, spec, slot)
    return rows, neutral
