"""The finite grid every lead feature is coded onto, and how large a reason group may grow.

The encoder (pipeline.py) turns each feature into a few integer codes; the scorer
(scorer.py) reads each reason group's function off the model on the group's whole grid,
so a group's table has the product of its members' slot counts as cells. Feature
selection (features.py) uses `slot_bound` to keep every group under `MAX_TABLE_CELLS`
before a model is trained, so compiling never fails on size.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

# A number is cut at training quantiles into at most this many bins.
NUMBER_BINS = 32
# A category keeps its own code when this many training leads have it (the rest: "other").
MIN_CATEGORY_COUNT = 10
MAX_CATEGORIES = 60
# A group's table must stay small enough to probe the model on all of it.
MAX_TABLE_CELLS = 400_000


def slot_bound(kind: Literal["category", "number"], values: pd.Series) -> int:
    """At most how many slots (codes, "other", missing) the encoder gives a feature trained
    on `values` or on any subset of them."""
    if kind == "number":
        # At most NUMBER_BINS - 1 distinct cut points → NUMBER_BINS codes, plus missing.
        return min(int(values.nunique()), NUMBER_BINS) + 1
    common = int((values.value_counts() >= MIN_CATEGORY_COUNT).sum())
    return min(common, MAX_CATEGORIES) + 2
