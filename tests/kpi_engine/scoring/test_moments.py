"""Activity features read at the instant a lead is judged (kpi_engine/scoring/moments.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi_engine.scoring.moments import (
    FIRST_AGE,
    SNAPSHOT_BANDS,
    activities_at,
    band_label,
    days_since_inbound,
    decision_times,
    moments,
    snapshot_bands,
)

T = pd.Timestamp("2025-03-01 09:00")
DAY = pd.Timedelta(days=1)
NOW = T + 40 * DAY


def _leads() -> pd.DataFrame:
    return pd.DataFrame({
        "lead_id": [1, 2, 3, 4, 5],
        "status": ["converted", "lost", "converted", "open", "lost"],
        "created_at": [T, T, T, T + 39 * DAY, pd.NaT],
        # 1 converts on day 5, 2 is disqualified on day 30, 3 converts within 2 minutes.
        "decided_at": [T + 5 * DAY, T + 30 * DAY, T + DAY / 720, pd.NaT, T + 3 * DAY],
    })


def test_labelled_leads_are_seen_once_per_age_band_while_still_open() -> None:
    judged = moments(_leads(), NOW, snapshots=True)
    by_lead = judged.groupby("position")["at"].apply(list).to_dict()
    for position, decided_day in ((0, 5), (1, 30)):
        ages = [(at - T) / DAY for at in by_lead[position]]
        assert abs(ages[0] - FIRST_AGE) < 1e-9  # a lead that just arrived
        # At most one age per band, inside it, and before the decision; the bands that start
        # before the decision and end after it may or may not have drawn an age in time.
        bands = [next(i for i, (lo, hi) in enumerate(SNAPSHOT_BANDS) if lo - 1e-9 <= a <= hi + 1e-9)
                 for a in ages]
        assert bands == sorted(set(bands)) and all(a < decided_day for a in ages)
        assert set(bands) >= {i for i, (_, hi) in enumerate(SNAPSHOT_BANDS) if hi < decided_day}
    # The ages drawn are fixed per lead: the same data gives the same rows.
    assert moments(_leads(), NOW, snapshots=True).equals(judged)
    assert 2 not in by_lead  # decided before the first age: no row
    assert by_lead[3] == [NOW]  # open: at the scoring time
    assert by_lead[4] == [T + 3 * DAY]  # no creation date: at its decision, once


def test_a_lead_is_decided_at_its_outcome_or_after_its_last_sign_of_life() -> None:
    leads = pd.DataFrame({
        "status": ["converted", "lost", "lost", "lost", "open", "lost"],
        "created_at": [T, T, T, T, T, pd.NaT],
        "converted_at": [T + 5 * DAY, pd.NaT, pd.NaT, pd.NaT, pd.NaT, pd.NaT],
        "closed_at": [T + 6 * DAY, T + 9 * DAY, pd.NaT, pd.NaT, T + DAY, pd.NaT],
        "touched_until": [T + 7 * DAY, T + 10 * DAY, T + 3 * DAY, T + DAY / 720, T, pd.NaT],
    })
    decided = decision_times(leads).tolist()
    assert decided[0] == T + 5 * DAY  # at conversion, not at later history
    assert decided[1] == T + 9 * DAY  # at the disqualification
    assert decided[2] == T + 3 * DAY  # no disqualification recorded: after its last activity
    # Alive at least until just after the first age, so it is seen once like every lead.
    assert T + FIRST_AGE * DAY < decided[3] < T + FIRST_AGE * DAY + DAY / 24
    assert pd.isna(decided[4]) and pd.isna(decided[5])  # open; lost with no dates at all
    judged = moments(leads.assign(lead_id=range(6), decided_at=decided), NOW, snapshots=True)
    rows = judged.groupby("position").size().to_dict()
    assert rows[3] == rows[4] == rows[5] == 1 and min(rows[0], rows[1], rows[2]) >= 3


def test_without_snapshots_each_lead_is_one_row() -> None:
    judged = moments(_leads(), NOW, snapshots=False)
    assert judged["position"].tolist() == [0, 1, 2, 3, 4]
    assert judged["at"].iloc[3] == NOW and judged["at"].iloc[0] == T + 5 * DAY


def test_only_activity_before_the_instant_counts() -> None:
    raw = pd.DataFrame({
        "lead_id": [1, 1, 1, 1],
        "type": ["web_visit", "web_visit", "email", "web_visit"],
        "direction": ["inbound", "inbound", "outbound", "inbound"],
        "detail": ["pricing page", "blog post", None, "pricing page"],
        "occurred_at": [T + 0.1 * DAY, T + 1.5 * DAY, T + 1.0 * DAY, T + 4 * DAY],
    })
    at = pd.Series([T + 0.5 * DAY, T + 2 * DAY, pd.NaT])
    groups = activities_at(raw, pd.Series([1, 1, 1]), at)
    counts = groups.groupby("row")["n"].sum().to_dict()
    assert counts == {0: 1, 1: 3, 2: 4}
    recency = days_since_inbound(groups, at)
    np.testing.assert_allclose(recency[:2], [0.4, 0.5])
    assert np.isnan(recency[2])  # no instant: no recency


def test_rows_are_labelled_with_the_age_band_they_were_seen_in() -> None:
    judged = moments(_leads(), NOW, snapshots=True)
    leads = _leads().iloc[judged["position"]].reset_index(drop=True)
    bands = snapshot_bands(leads["created_at"], judged["at"])
    labels = [band_label(b) for b in SNAPSHOT_BANDS]
    assert labels == ["5 min", "1 h–1 d", "1–4 d", "4–14 d", "14–45 d"]
    assert bands[leads["lead_id"] == 2].tolist() == labels  # open 30 days: every band
    assert bands[leads["lead_id"] == 5].isna().all()  # no creation date


def test_a_leads_rows_share_one_fold_and_folds_keep_the_outcome_mix() -> None:
    from kpi_engine.scoring.pipeline import folds

    rng = np.random.default_rng(0)
    leads = np.repeat(np.arange(3000), rng.integers(1, 6, 3000))
    outcome = rng.random(3000) < 0.25
    y = outcome[leads].astype(int)
    split = folds(y, leads)
    tested = np.concatenate([test for _, test in split])
    assert sorted(tested) == list(range(len(y)))  # every row tested exactly once
    for train, test in split:
        assert not set(leads[train]) & set(leads[test])
        assert abs(outcome[np.unique(leads[test])].mean() - outcome.mean()) < 0.01
