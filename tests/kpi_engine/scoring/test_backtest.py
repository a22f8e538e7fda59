"""Scores of the leads open on a past day against what then happened to them
(benchmarks/backtest.py): the check that the scores a rep sees mean what they say."""

from __future__ import annotations

import datetime as dt

import pytest

from benchmarks.backtest import replay
from kpi_engine.demo import seed_demo
from kpi_engine.scoring import moments
from tests.databases import migrated_engine

TODAY = dt.date(2025, 6, 30)
# The ages closed leads were seen at before age bands (moments.py).
FIXED_AGES = tuple((d, d) for d in (5 / (24 * 60), 0.5, 2.0, 7.0, 21.0))


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    directory = tmp_path_factory.mktemp("backtest")
    with migrated_engine("sqlite", directory) as engine:
        seed_demo(engine, today=TODAY, seed=42)
        yield engine.url.database


def test_open_leads_score_about_as_often_as_they_then_convert(demo_file, monkeypatch) -> None:
    # Measured: 1.24× the converted share with age bands (AUC 0.906 over 712 leads), 2.49×
    # with the fixed ages (AUC 0.886).
    now = replay(demo_file, 45, today=TODAY)
    assert len(now.scores) > 300 and now.auc > 0.8
    assert 0.5 < now.scores.mean() / now.converted.mean() < 1.8
    # The same replay with fixed ages over-scores every lead past its first days.
    monkeypatch.setattr(moments, "SNAPSHOT_BANDS", FIXED_AGES)
    before = replay(demo_file, 45, today=TODAY)
    assert before.scores.mean() / before.converted.mean() > 1.8
