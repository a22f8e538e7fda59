"""Reasons in plain words: the three groups that move a lead's score the most, said simply.

Every table cell of every reason group gets its sentence once (`ReasonBook`); a lead's
reasons are then array lookups: pick the three largest |contributions| per lead with
`argpartition`, and take the sentences of those cells. Categories are said with the
conversion rate of that value in training ("lead origin is Lead Add Form: 92% of such leads
converted, 2.4× the average"); numbers with the lead's range and the typical value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpi_engine.scoring.features import FeatureSpec
from kpi_engine.scoring.scorer import GroupTable, LeadScorer

TOP_REASONS = 3
# Contributions smaller than this (log-odds) do not move a score enough to mention.
MIN_IMPACT = 0.05
# A group's reason names at most this many of its members.
TOP_MEMBERS = 2


@dataclass(frozen=True)
class FeatureFacts:
    """What the sentences need from training: rates per slot, typical values, ranges."""

    rate: np.ndarray  # conversion rate per slot (NaN when no training lead has it)
    count: np.ndarray  # training leads per slot
    low: np.ndarray  # per slot: smallest training value (numbers)
    high: np.ndarray  # per slot: largest training value (numbers)
    median: float | None


def feature_facts(scorer: LeadScorer, X: pd.DataFrame, y: np.ndarray,
                  weights: np.ndarray | None = None) -> list[FeatureFacts]:
    """Per-slot conversion rates and value ranges on the training leads (`weights`: how
    much each row counts, so that a lead with several rows counts once)."""
    weights = np.ones(len(y)) if weights is None else weights
    slots = scorer.slots(X)
    facts = []
    for i, spec in enumerate(scorer.specs):
        size = scorer.encoder.n_codes(spec) + 1
        count = np.bincount(slots[:, i], weights=weights, minlength=size)
        won = np.bincount(slots[:, i], weights=weights * y, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(count > 0, won / np.maximum(count, 1), np.nan)
        low = np.full(size, np.nan)
        high = np.full(size, np.nan)
        median = None
        if spec.kind == "number":
            values = X[spec.name].to_numpy(dtype=float)
            frame = pd.DataFrame({"slot": slots[:, i], "v": values}).dropna()
            bounds = frame.groupby("slot")["v"].agg(["min", "max"])
            low[bounds.index.to_numpy()] = bounds["min"].to_numpy()
            high[bounds.index.to_numpy()] = bounds["max"].to_numpy()
            median = float(np.nanmedian(values)) if (~np.isnan(values)).any() else None
        facts.append(FeatureFacts(rate, count, low, high, median))
    return facts


def _number(value: float, unit: str | None) -> str:
    if unit == "seconds":
        minutes = value / 60.0
        return f"{minutes:.0f} min" if minutes >= 1.5 else f"{value:.0f} s"
    if abs(value - round(value)) < 1e-9:
        return f"{value:.0f}"
    return f"{value:.1f}"


def _singular(label: str) -> str:
    """"web visits (pricing page)" → "web visit (pricing page)"."""
    head, bracket, rest = label.partition(" (")
    return head.removesuffix("s") + bracket + rest


def _number_range(low: float, high: float, unit: str | None) -> str:
    a, b = _number(low, unit), _number(high, unit)
    if a == b:
        return a
    a_value, _, a_unit = a.partition(" ")
    b_value, _, b_unit = b.partition(" ")
    return f"{a_value}–{b}" if a_unit and a_unit == b_unit else f"{a}–{b}"


def phrase(spec: FeatureSpec, slot: int, facts: FeatureFacts, base_rate: float,
           display: str | None, direction: float = 0.0) -> str:
    """One feature at one slot, in words."""
    missing = slot == len(facts.rate) - 1
    label = spec.label
    if spec.kind == "number":
        if missing:
            return f"no {label} on record"
        if np.isnan(facts.low[slot]):
            return f"unusual {label}"
        shown = _number_range(facts.low[slot], facts.high[slot], spec.unit)
        typical = None if facts.median is None else _number(facts.median, spec.unit)
        if spec.unit in ("days", "days ago"):
            # "last inbound activity 2–3 days ago (typical lead: 6 days)"
            text = f"{label} {shown} {spec.unit}"
            return text + (f" (typical lead: {typical} days)" if typical else "")
        if spec.unit == "count":
            text = f"1 {_singular(label)}" if shown == "1" else f"{shown} {label}"
        else:
            text = f"{label} {shown}"
        return text + (f" (typical lead: {typical})" if typical else "")
    value = "not given" if missing else f"is {display}"
    text = f"{label} {value}"
    rate = facts.rate[slot]
    # The rate is said only when it points the same way as the lead's contribution: a
    # value can help in the model (next to the lead's other answers) yet convert below
    # average on its own, and a rep would read that as a contradiction.
    agrees = direction == 0.0 or (rate > base_rate) == (direction > 0)
    if not np.isnan(rate) and base_rate > 0 and facts.count[slot] >= 5 and agrees:
        text += f": {rate:.0%} of such leads converted, {rate / base_rate:.1f}× the average"
    return text


@dataclass(frozen=True)
class ReasonBook:
    """The sentence of every cell of every group, as one flat object array, and the factor
    it names ("lead source" for a group cell carried by the lead source).

    With `per_direction`, every cell has two sentences, lowering then raising: a crossed
    model (ProbedScorer) can move one cell either way depending on the lead's other values.
    """

    texts: np.ndarray
    offsets: np.ndarray  # where each group's cells start in `texts`
    factors: np.ndarray | None = None  # parallel to `texts`; None in older artifacts
    per_direction: bool = False

    def phrase_index(self, groups: np.ndarray, cells: np.ndarray,
                     contributions: np.ndarray) -> np.ndarray:
        if self.per_direction:
            return self.offsets[groups] + 2 * cells + (contributions > 0)
        return self.offsets[groups] + cells


def build_reason_book(scorer: LeadScorer, facts: list[FeatureFacts], base_rate: float,
                      per_direction: bool = False) -> ReasonBook:
    """Sentences for every cell; a cell's direction is its table value (the lead's exact
    contribution for a CompiledScorer), or both directions with `per_direction`."""
    texts: list[str] = []
    factors: list[str] = []
    offsets = []
    for group in scorer.groups:
        offsets.append(len(texts))
        ways = ([np.full(len(group.values), -1.0), np.full(len(group.values), 1.0)]
                if per_direction else [group.values])
        if len(group.features) == 1:
            i = group.features[0]
            said = [_feature_phrases(scorer, i, facts[i], base_rate, way) for way in ways]
            texts.extend(_interleave(said))
            factors.extend([group.label] * len(group.values) * len(ways))
            continue
        # Each member said both ways: the conversion rate is only quoted when it agrees
        # with the direction the member moves the score in.
        per_feature = [(_feature_phrases(scorer, i, facts[i], base_rate, -1.0),
                        _feature_phrases(scorer, i, facts[i], base_rate, 1.0))
                       for i in group.features]
        labels = [scorer.specs[i].label for i in group.features]
        said_pairs = [_group_phrases(group, per_feature, labels, way) for way in ways]
        for text, factor in _interleave(said_pairs):
            texts.append(text)
            factors.append(factor)
    return ReasonBook(np.array(texts, dtype=object), np.array(offsets, dtype=np.int64),
                      np.array(factors, dtype=object), per_direction)


def _interleave(lists: list[list]) -> list:
    """[a0, a1, …] and [b0, b1, …] → [a0, b0, a1, b1, …] (one list: itself)."""
    return [item for items in zip(*lists, strict=True) for item in items]


def _feature_phrases(scorer: LeadScorer, i: int, facts: FeatureFacts, base_rate: float,
                     directions: np.ndarray | float | None = None) -> list[str]:
    spec = scorer.specs[i]
    size = scorer.encoder.n_codes(spec) + 1
    names = scorer.encoder.categories_.get(spec.name, [])
    direction = np.broadcast_to(np.asarray(0.0 if directions is None else directions), (size,))
    out = []
    for slot in range(size):
        display = names[slot] if slot < len(names) else "something rarer"
        out.append(phrase(spec, slot, facts, base_rate, display, float(direction[slot])))
    return out


def member_effects(group: GroupTable) -> np.ndarray:
    """(cells, members): how much of each cell's contribution goes away when that member
    alone is set back to the reference lead's value (read off the table itself)."""
    grid = np.indices(group.radix).reshape(len(group.radix), -1)
    strides = np.cumprod((1,) + group.radix[:0:-1])[::-1]
    flat = strides @ grid
    effects = np.empty((grid.shape[1], len(group.radix)))
    for k, reference in enumerate(group.reference):
        neutral = flat + (reference - grid[k]) * strides[k]
        effects[:, k] = group.values - group.values[neutral]
    return effects


def _group_phrases(group: GroupTable, per_feature: list[tuple[list[str], list[str]]],
                   labels: list[str], direction: np.ndarray) -> list[tuple[str, str]]:
    """(sentence, factor) per group cell, said as moving the score the way `direction`
    (per cell) says. A cell names the members that carry its contribution, strongest first:
    those that move the score that way (at most TOP_MEMBERS); when the members only matter
    together, every member that differs from the reference lead."""
    grids = np.indices(group.radix).reshape(len(group.radix), -1).T
    effects = member_effects(group)
    out = []
    for cell, total, effect in zip(grids, direction, effects, strict=True):
        carrying = [k for k in np.argsort(-np.abs(effect), kind="stable")
                    if effect[k] * total > 0 and abs(effect[k]) >= MIN_IMPACT][:TOP_MEMBERS]
        if not carrying:
            carrying = [k for k, slot in enumerate(cell) if slot != group.reference[k]]
        if not carrying:
            out.append(("typical " + group.label, group.label))
            continue
        way = 1 if total > 0 else 0
        out.append(("; ".join(per_feature[k][way][cell[k]] for k in carrying),
                    " and ".join(labels[k] for k in carrying)))
    return out


@dataclass(frozen=True)
class Reasons:
    """Top reasons per lead, as arrays: group index, sentence, log-odds impact (NaN = none).

    Sentences are kept as indices into the reason book (`phrase`, -1 = none); `text` turns
    them into strings with one array lookup, so scoring never builds strings per lead.
    """

    group: np.ndarray  # (n, 3) int, -1 when there is no reason in that place
    phrase: np.ndarray  # (n, 3) int index into `book.texts`, -1 when there is none
    impact: np.ndarray  # (n, 3) float
    book: ReasonBook

    @property
    def text(self) -> np.ndarray:
        """(n, 3) sentences (None where there is no reason)."""
        return np.append(self.book.texts, None)[self.phrase]

    def for_lead(self, row: int, labels: list[str]) -> list[dict[str, object]]:
        """One lead's reasons as JSON-ready dicts, strongest first (`labels`: group labels,
        the factors of artifacts older than `ReasonBook.factors`)."""
        out = []
        for k in range(self.group.shape[1]):
            g = int(self.group[row, k])
            if g < 0:
                continue
            impact = float(self.impact[row, k])
            factors = self.book.factors
            factor = labels[g] if factors is None else str(factors[self.phrase[row, k]])
            out.append({"factor": factor, "text": str(self.book.texts[self.phrase[row, k]]),
                        "effect": "raises" if impact > 0 else "lowers",
                        "impact": round(impact, 3)})
        return out


def top_reasons(contributions: np.ndarray, cells: np.ndarray, book: ReasonBook,
                k: int = TOP_REASONS) -> Reasons:
    """The k largest |contributions| per lead, strongest first (vectorised: k arg-max passes
    over the (n, groups) matrix, no per-lead Python)."""
    n, n_groups = contributions.shape
    magnitude = np.ascontiguousarray(np.abs(contributions))
    rows = np.arange(n)
    group = np.full((n, k), -1, dtype=np.int64)
    phrase = np.full((n, k), -1, dtype=np.int64)
    impact = np.full((n, k), np.nan)
    for place in range(min(k, n_groups)):
        # Ties go to the lowest group index (argmax), as a stable order would.
        picked = magnitude.argmax(axis=1)
        strength = magnitude[rows, picked]
        strong = strength >= MIN_IMPACT
        magnitude[rows, picked] = -1.0
        group[:, place] = np.where(strong, picked, -1)
        said = book.phrase_index(picked, cells[rows, picked], contributions[rows, picked])
        phrase[:, place] = np.where(strong, said, -1)
        impact[:, place] = np.where(strong, contributions[rows, picked], np.nan)
    return Reasons(group, phrase, impact, book)
