"""The journey analyzer on the real event logs, checked against pandas over the source files.

Each log is imported with `import_event_log` (once per backend, module scope) and the
directly-follows counts and waits, the time in stage and the rework loops are recomputed
independently from the CSV: a stable sort by timestamp within each case (ties keep file
order, as pm4py does), then consecutive events paired.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from kpi_engine.importers import import_event_log
from kpi_engine.journey import analyze_journey, find_bottlenecks
from kpi_engine.journey.explain import hours_text
from tests.conftest import DATA_DIR
from tests.databases import BACKENDS, migrated_engine

CASE, ACTIVITY = "case:concept:name", "concept:name"
TIME, RESOURCE = "time:timestamp", "org:resource"


@dataclass(frozen=True)
class Log:
    name: str
    path: Path


LOGS = (
    Log("bpic2012", DATA_DIR / "bpic2012_loan_application" / "bpic2012_events.csv.gz"),
    Log("bpic2013", DATA_DIR / "bpic2013_incidents" / "bpic2013_incidents_events.csv.gz"),
    Log("helpdesk", DATA_DIR / "helpdesk_tickets" / "helpdesk_events.csv.gz"),
    Log("receipt", DATA_DIR / "pm4py_examples" / "receipt.csv"),
)


@pytest.fixture(scope="module", params=BACKENDS)
def logs_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One database per backend holding the four logs."""
    with migrated_engine(str(request.param), tmp_path_factory.mktemp("logs")) as engine:
        for log in LOGS:
            report = import_event_log(
                engine, log.path, case=CASE, activity=ACTIVITY, timestamp=TIME,
                resource=RESOURCE, name=log.name,
            )
            assert not report.rejected
        yield engine


def source_steps(path: Path) -> pd.DataFrame:
    """Consecutive events of each case from the source file, paired with pandas."""
    frame = pd.read_csv(path, dtype=str, usecols=[CASE, ACTIVITY, TIME, RESOURCE])
    frame["ts"] = pd.to_datetime(frame[TIME], utc=True, format="ISO8601")
    frame["position"] = np.arange(len(frame))
    frame = frame.sort_values([CASE, "ts", "position"])
    by_case = frame.groupby(CASE, sort=False)
    frame["previous"] = by_case[ACTIVITY].shift()
    frame["wait"] = by_case["ts"].diff().dt.total_seconds() / 3600
    return frame


@pytest.fixture(scope="module")
def expected() -> dict[str, pd.DataFrame]:
    return {log.name: source_steps(log.path) for log in LOGS}


@pytest.mark.parametrize("log", [log.name for log in LOGS])
def test_transitions_match_pandas(
    logs_db: Engine, expected: dict[str, pd.DataFrame], log: str
) -> None:
    source = expected[log]
    steps = source.dropna(subset=["previous"])
    want = steps.groupby(["previous", ACTIVITY])["wait"].agg(["count", "median", "mean"])
    want["p90"] = steps.groupby(["previous", ACTIVITY])["wait"].quantile(0.9)

    report = analyze_journey(logs_db, log)

    got = pd.DataFrame(
        [(t.from_stage, t.to_stage, t.wait.count, t.wait.median_hours, t.wait.mean_hours,
          t.wait.p90_hours) for t in report.transitions],
        columns=["previous", ACTIVITY, "count", "median", "mean", "p90"],
    ).set_index(["previous", ACTIVITY]).sort_index()
    want = want.sort_index()
    assert list(got.index) == list(want.index)
    assert (got["count"].to_numpy() == want["count"].to_numpy()).all()
    for column in ("median", "mean", "p90"):
        np.testing.assert_allclose(got[column], want[column], rtol=1e-9, atol=1e-6)
    assert report.cases == source[CASE].nunique()
    assert report.steps == len(steps)


@pytest.mark.parametrize("log", ["helpdesk", "receipt"])
def test_stage_times_and_rework_match_pandas(
    logs_db: Engine, expected: dict[str, pd.DataFrame], log: str
) -> None:
    source = expected[log]
    steps = source.dropna(subset=["previous"])
    want_time = steps.groupby("previous")["wait"].agg(["count", "median"])
    visits = source.groupby([ACTIVITY, CASE]).size()
    repeated = visits[visits > 1]
    want_rework = {
        stage: (len(group), int((group - 1).sum()))
        for stage, group in repeated.groupby(level=0)
    }

    report = analyze_journey(logs_db, log)

    got_time = {s.stage: (s.time.count, s.time.median_hours) for s in report.stage_times}
    assert set(got_time) == set(want_time.index)
    for stage, row in want_time.iterrows():
        assert got_time[stage][0] == row["count"]
        assert got_time[stage][1] == pytest.approx(row["median"], rel=1e-9, abs=1e-6)
    assert {r.stage: (r.cases, r.extra_visits) for r in report.rework} == want_rework
    # Handoffs: the resource differs from the previous event's in the same case.
    source = source.assign(previous_resource=source.groupby(CASE)[RESOURCE].shift())
    changed = source.dropna(subset=["previous_resource", RESOURCE])
    handed = changed[changed[RESOURCE] != changed["previous_resource"]]
    assert report.handoffs.handoffs.count == len(handed)
    assert report.handoffs.handoffs.median_hours == pytest.approx(handed["wait"].median())


def test_bpic2012_ranking_surfaces_the_known_long_waits(logs_db: Engine) -> None:
    report = find_bottlenecks(logs_db, "bpic2012", limit=3)
    stages = {b.from_stage for b in report.bottlenecks} | {b.to_stage for b in report.bottlenecks}
    # Calling back about offers and completing the application are where time goes.
    assert "W_Nabellen offertes" in stages
    assert "W_Completeren aanvraag" in stages
    top = report.bottlenecks[0]
    assert top.impact_hours > 0 and top.explanation.startswith(top.step)
    assert [b.rank for b in report.bottlenecks] == [1, 2, 3]
    assert report.dimension == "resource"
    # Minutes at the median but a huge impact: the explanation must say the tail is the cost.
    assert top.median_hours < 1
    assert f"on average {hours_text(top.impact_hours / top.items)} of extra wait" in top.explanation
