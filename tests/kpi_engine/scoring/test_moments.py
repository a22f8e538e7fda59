"""Activity features read at the instant a lead is judged (kpi_engine/scoring/moments.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi_engine.scoring.moments import SNAPSHOT_DAYS, activities_at, days_since_inbound, moments

T = pd.Timestamp("2025-03-01 09:00")
DAY = pd.Timedelta(days=1)
NOW = T + 40 * DAY


def _leads() -> pd.DataFrame:
    return pd.DataFrame({
        "lead_id": [1, 2, 3, 4, 5],
        "status": ["converted", "lost", "converted", "open", "lost"],
        "created_at": [T, T, T, T + 39 * DAY, pd.NaT],
        # 1 converts on day 5, 2 is disqualified on day 30, 3 converts within 6 hours.
        "decided_at": [T + 5 * DAY, T + 30 * DAY, T + 0.25 * DAY, pd.NaT, T + 3 * DAY],
    })


def test_labelled_leads_are_seen_at_each_age_they_were_still_open() -> None:
    judged = moments(_leads(), NOW, snapshots=True)
    by_lead = judged.groupby("position")["at"].apply(list).to_dict()
    assert by_lead[0] == [T + d * DAY for d in SNAPSHOT_DAYS if d < 5]
    assert by_lead[1] == [T + d * DAY for d in SNAPSHOT_DAYS if d < 30]
    assert 2 not in by_lead  # decided before the first age: no row
    assert by_lead[3] == [NOW]  # open: at the scoring time
    assert by_lead[4] == [T + 3 * DAY]  # no creation date: at its decision, once


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
