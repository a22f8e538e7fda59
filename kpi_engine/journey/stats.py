"""Duration statistics over vectors of seconds, per group, in one vectorised pass.

Percentiles interpolate linearly between order statistics (numpy's and pandas' default), so
results match `Series.median()` / `Series.quantile(0.9)` on the same values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kpi_engine.journey.results import DurationStats

HOUR = 3600.0
EMPTY = DurationStats(count=0, median_hours=None, p90_hours=None, mean_hours=None)
_EPOCH = dt.datetime(1970, 1, 1)


def to_epoch(moment: dt.datetime) -> float:
    """Seconds since 1970 of a naive-UTC datetime, the scale the step queries return."""
    return (moment - _EPOCH).total_seconds()


def duration_stats(seconds: np.ndarray | pd.Series | Sequence[float]) -> DurationStats:
    """Count, median, p90 and mean (in hours) of non-missing durations given in seconds."""
    values = np.asarray(seconds, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return EMPTY
    median, p90 = np.quantile(values, [0.5, 0.9])
    return DurationStats(
        count=int(values.size),
        median_hours=float(median) / HOUR,
        p90_hours=float(p90) / HOUR,
        mean_hours=float(values.mean()) / HOUR,
    )


def grouped_stats(
    keys: pd.Series | pd.DataFrame, seconds: pd.Series
) -> dict[object, DurationStats]:
    """`duration_stats` for every group of `keys` (one column, or several as tuples)."""
    mask = seconds.notna().to_numpy().copy()
    columns = [keys[c] for c in keys.columns] if isinstance(keys, pd.DataFrame) else [keys]
    # Factorize each key column once (categoricals already are), then combine the codes.
    column_codes, column_uniques = zip(*(_factorize(column) for column in columns), strict=True)
    combined = np.zeros(len(mask), dtype=np.int64)
    for codes_, uniques_ in zip(column_codes, column_uniques, strict=True):
        combined = combined * (len(uniques_) + 1) + (codes_ + 1)
    mask &= np.all([c >= 0 for c in column_codes], axis=0)
    present, codes = np.unique(combined[mask], return_inverse=True)
    labels = []
    for value in present:
        parts = []
        for uniques_ in reversed(column_uniques):
            value, code = divmod(int(value), len(uniques_) + 1)
            parts.append(uniques_[code - 1])
        parts.reverse()
        labels.append(tuple(parts) if len(columns) > 1 else parts[0])
    uniques = labels
    values = seconds.to_numpy(dtype=np.float64)[mask]
    if values.size == 0:
        return {}
    groups = len(uniques)
    counts = np.bincount(codes, minlength=groups)
    means = np.bincount(codes, weights=values, minlength=groups) / counts
    order = np.lexsort((values, codes))
    ordered = values[order]
    starts = np.cumsum(counts) - counts
    median = _quantile(ordered, starts, counts, 0.5)
    p90 = _quantile(ordered, starts, counts, 0.9)
    return {
        uniques[i]: DurationStats(
            count=int(counts[i]),
            median_hours=float(median[i]) / HOUR,
            p90_hours=float(p90[i]) / HOUR,
            mean_hours=float(means[i]) / HOUR,
        )
        for i in range(groups)
    }


def _factorize(column: pd.Series) -> tuple[np.ndarray, list[object]]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(dtype=np.int64), list(column.cat.categories)
    codes, uniques = pd.factorize(column)
    return codes.astype(np.int64), list(uniques)


def _quantile(ordered: np.ndarray, starts: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    position = (counts - 1) * q
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, counts - 1)
    fraction = position - low
    below = ordered[starts + low]
    above = ordered[starts + high]
    return below + (above - below) * fraction
