"""The compiled scorer: a trained model turned into lookup tables, exact and vectorised.

Both default model candidates are sums of one function per reason group over integer codes
(pipeline.py). So after training, each group's function is read off the fitted model on
its whole (small) grid of codes, relative to a *reference lead* (the most common value of
each feature, the median bin of each number). Then for any lead

    model output = output at the reference + Σ_group table_group[codes of the lead]

which is checked against the fitted pipeline when compiling. The calibrated probability
is a strictly increasing (Platt) function of the output, shown as a 0–100 score.

A group's table entry is that group's *contribution*: how much the lead's values move the
score away from the reference lead's. Setting the group back to the reference values
("neutralising" it) removes exactly that contribution, which is why the reasons built
from the largest contributions are faithful.

The optional crossed candidate (crossed.py) is no such sum; `ProbedScorer` measures its
contributions per lead by neutralising each group through the model itself.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from kpi_engine.errors import KpiInternalError
from kpi_engine.scoring.features import FeatureSpec
from kpi_engine.scoring.grid import MAX_TABLE_CELLS
from kpi_engine.scoring.pipeline import LeadEncoder, reason_groups

ADDITIVITY_TOLERANCE = 1e-6


@dataclass(frozen=True)
class GroupTable:
    """One reason group: its features, their code counts (+1 for missing) and contributions."""

    label: str
    features: tuple[int, ...]
    radix: tuple[int, ...]
    values: np.ndarray  # contribution per cell, flat in C order over `radix`
    reference: tuple[int, ...]  # the reference lead's slot per feature


@dataclass(frozen=True)
class LeadScorer:
    """What every scorer shares: the features, their encoder and the reason groups' tables
    (which the sentences are read from, reasons.py)."""

    specs: tuple[FeatureSpec, ...]
    encoder: LeadEncoder
    groups: tuple[GroupTable, ...]
    calibration: tuple[float, float]  # Platt a, b: p = 1 / (1 + exp(a·output + b))

    def slots(self, X: pd.DataFrame) -> np.ndarray:
        """(n, features) int codes; missing → the feature's last slot (column-major)."""
        out = np.empty((len(X), len(self.specs)), dtype=np.int64, order="F")
        for i, spec in enumerate(self.specs):
            out[:, i] = self.encoder.slot_codes(spec, X[spec.name])
        return out

    def cells(self, slots: np.ndarray) -> np.ndarray:
        """(n, groups) flat cell index of each lead in each group's table (column-major)."""
        out = np.empty((len(slots), len(self.groups)), dtype=np.int64, order="F")
        for g, group in enumerate(self.groups):
            if len(group.features) == 1:
                out[:, g] = slots[:, group.features[0]]
                continue
            index = np.zeros(len(slots), dtype=np.int64)
            for feature, size in zip(group.features, group.radix, strict=True):
                index *= size
                index += slots[:, feature]
            out[:, g] = index
        return out

    def calibrated(self, output: np.ndarray) -> np.ndarray:
        a, b = self.calibration
        return 1.0 / (1.0 + np.exp(a * output + b))

    def score(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores 0–100, contributions (n, groups) and cells (n, groups) for raw features X."""
        raise NotImplementedError


@dataclass(frozen=True)
class CompiledScorer(LeadScorer):
    """Scores and contributions from raw feature matrices, without sklearn in the loop."""

    base: float  # model output (log-odds scale) for the reference lead

    def contributions(self, cells: np.ndarray) -> np.ndarray:
        """(n, groups) log-odds contributions relative to the reference lead."""
        out = np.empty(cells.shape, dtype=np.float64, order="F")
        for g, group in enumerate(self.groups):
            # One contiguous gather per group (columns are contiguous in F order).
            out[:, g] = group.values.take(cells[:, g])
        return out

    def probability(self, contributions: np.ndarray) -> np.ndarray:
        return self.calibrated(self.base + contributions.sum(axis=1))

    def score(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cells = self.cells(self.slots(X))
        contributions = self.contributions(cells)
        return 100.0 * self.probability(contributions), contributions, cells


@dataclass(frozen=True)
class ProbedScorer(LeadScorer):
    """For a model that crosses reason groups: the score is the model's own, and a group's
    contribution is measured per lead, as the model's output minus its output with that
    group set back to the reference lead's values. Neutralising a group so removes exactly
    its contribution, as with CompiledScorer; the contributions just do not add up to the
    score. One model pass per group: slower, and exact by construction.

    `groups` hold the model's output along each group with the rest at the reference lead;
    they only say which members carry a reason (reasons.py), never a lead's figure.
    """

    model: Any  # the fitted pipeline after its encoder: model input → log-odds
    reference_inputs: dict[str, float]  # the reference lead, as the model is given it

    def score(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cells = self.cells(self.slots(X))
        inputs = self.encoder.transform(X)
        output = np.asarray(self.model.decision_function(inputs), dtype=float)
        contributions = np.zeros(cells.shape, dtype=np.float64, order="F")
        for g, group in enumerate(self.groups):
            names = [self.specs[i].name for i in group.features]
            # A lead already at the reference values gives the same input, so exactly 0:
            # only the others are passed through the model again.
            rows = np.flatnonzero(self._differs(inputs, names))
            if len(rows):
                neutral = inputs.iloc[rows].assign(
                    **{name: self.reference_inputs[name] for name in names})
                contributions[rows, g] = output[rows] - self.model.decision_function(neutral)
        return 100.0 * self.calibrated(output), contributions, cells

    def _differs(self, inputs: pd.DataFrame, names: list[str]) -> np.ndarray:
        out = np.zeros(len(inputs), dtype=bool)
        for name in names:
            value, reference = inputs[name].to_numpy(dtype=float), self.reference_inputs[name]
            same = np.isnan(value) if np.isnan(reference) else value == reference
            out |= ~same
        return out


def _reference_slots(encoder: LeadEncoder, specs: tuple[FeatureSpec, ...],
                     X: pd.DataFrame) -> list[int]:
    """The reference lead: per feature, missing when most leads miss it, else the median
    bin of a number or the most common value of a category."""
    reference = []
    for spec in specs:
        slots = encoder.slot_codes(spec, X[spec.name])
        missing = slots == encoder.n_codes(spec)
        if missing.mean() > 0.5:
            reference.append(encoder.n_codes(spec))
        elif spec.kind == "number":
            reference.append(int(np.median(slots[~missing])))
        else:
            values, counts = np.unique(slots[~missing], return_counts=True)
            reference.append(int(values[np.argmax(counts)]))
    return reference


@dataclass(frozen=True)
class _Probe:
    """A fitted, calibrated pipeline opened up, with its reference lead and group tables."""

    encoder: LeadEncoder
    inner: Pipeline  # everything after the encoder
    calibration: tuple[float, float]
    reference_inputs: dict[str, float]
    base: float
    groups: tuple[GroupTable, ...]


def _probe(model: CalibratedClassifierCV, X_train: pd.DataFrame) -> _Probe:
    """Read each reason group's output off the fitted model on the group's whole grid of
    slots, the other features held at the reference lead."""
    fitted = model.calibrated_classifiers_[0]
    pipeline: Pipeline = fitted.estimator
    calibrator: Any = fitted.calibrators[0]
    encoder: LeadEncoder = pipeline.named_steps["encode"]
    inner = Pipeline(pipeline.steps[1:])
    specs = tuple(encoder.specs)
    reference = _reference_slots(encoder, specs, X_train)
    slot_values = [encoder.slot_inputs(s) for s in specs]
    reference_row = {s.name: float(slot_values[i][reference[i]]) for i, s in enumerate(specs)}
    base = float(inner.decision_function(pd.DataFrame([reference_row]))[0])
    groups = []
    for members in reason_groups(specs):
        radix = tuple(len(slot_values[i]) for i in members)
        n_cells = int(np.prod(radix))
        if n_cells > MAX_TABLE_CELLS:
            raise KpiInternalError(f"reason group of {n_cells} cells is too large to compile")
        grid = {s.name: np.full(n_cells, reference_row[s.name]) for s in specs}
        for i, column in zip(members, np.indices(radix).reshape(len(members), -1), strict=True):
            grid[specs[i].name] = slot_values[i][column]
        output = inner.decision_function(pd.DataFrame(grid)[[s.name for s in specs]])
        label = specs[members[0]].group or specs[members[0]].label
        groups.append(GroupTable(label, tuple(members), radix,
                                 np.asarray(output, dtype=float) - base,
                                 tuple(reference[i] for i in members)))
    return _Probe(encoder, inner, (float(calibrator.a_), float(calibrator.b_)),
                  reference_row, base, tuple(groups))


def compile_scorer(model: CalibratedClassifierCV, X_train: pd.DataFrame) -> CompiledScorer:
    """Read the fitted, calibrated pipeline into lookup tables, and check they reproduce it."""
    probe = _probe(model, X_train)
    scorer = CompiledScorer(tuple(probe.encoder.specs), probe.encoder, probe.groups,
                            probe.calibration, probe.base)
    _check_exact(scorer, probe.inner, X_train, probe.encoder.transform(X_train))
    return scorer


def probed_scorer(model: CalibratedClassifierCV, X_train: pd.DataFrame) -> ProbedScorer:
    """A scorer for a model that crosses reason groups (crossed.py)."""
    probe = _probe(model, X_train)
    return ProbedScorer(tuple(probe.encoder.specs), probe.encoder, probe.groups,
                        probe.calibration, probe.inner, probe.reference_inputs)


def _check_exact(scorer: CompiledScorer, inner: Pipeline, X: pd.DataFrame,
                 codes: pd.DataFrame) -> None:
    sample = X.index[:: max(1, len(X) // 2000)]
    expected = inner.decision_function(codes.loc[sample])
    contributions = scorer.contributions(scorer.cells(scorer.slots(X.loc[sample])))
    got = scorer.base + contributions.sum(axis=1)
    worst = float(np.max(np.abs(got - expected))) if len(sample) else 0.0
    if worst > ADDITIVITY_TOLERANCE:
        raise KpiInternalError(f"compiled scorer differs from the model by {worst:.2e}")


def group_cells(group: GroupTable) -> list[tuple[int, ...]]:
    """Every cell of a group as its per-feature slots, in flat order."""
    return list(itertools.product(*(range(size) for size in group.radix)))
