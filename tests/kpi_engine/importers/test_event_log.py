"""Event logs: BPIC 2012 once per backend (with a no-op re-import), small logs by hand."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kpi_engine.db.models import Process, StageEvent
from kpi_engine.importers import ImportReport, import_event_log
from tests.databases import BACKENDS, migrated_engine

BPIC = dict(case="case:concept:name", activity="concept:name", timestamp="time:timestamp",
            resource="org:resource", lifecycle="lifecycle:transition")


@pytest.fixture(scope="module", params=BACKENDS)
def bpic(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[tuple[Engine, ImportReport, Path]]:
    path = data_dir / "bpic2012_loan_application" / "bpic2012_events.csv.gz"
    with migrated_engine(str(request.param), tmp_path_factory.mktemp("bpic")) as engine:
        yield engine, import_event_log(engine, path, **BPIC), path


def test_bpic2012_counts_and_order(bpic: tuple[Engine, ImportReport, Path]) -> None:
    engine, report, path = bpic
    source = pd.read_csv(path, dtype=str)
    source["at"] = pd.to_datetime(source["time:timestamp"], utc=True, format="ISO8601")
    assert report.inserted == len(source) == 262_200 and report.rejected == 0
    with Session(engine) as conn:
        process = conn.execute(select(Process.id, Process.kind)
                               .where(Process.name == "bpic2012_events")).one()
        cases = conn.execute(select(func.count(func.distinct(StageEvent.case_id)))).scalar_one()
        starts = conn.execute(select(StageEvent.to_stage, func.count()).where(
            StageEvent.seq == 1).group_by(StageEvent.to_stage)).all()
        case = conn.execute(select(StageEvent).where(StageEvent.case_id == "173688")
                            .order_by(StageEvent.seq)).all()
        resources = conn.execute(select(func.count(StageEvent.resource))).scalar_one()
    assert process.kind == "event_log"
    assert cases == source["case:concept:name"].nunique() == 13_087
    assert starts == [("A_SUBMITTED", 13_087)]
    assert resources == source["org:resource"].notna().sum() == 244_190
    # pm4py's order: stable sort by timestamp within the case.
    expected = source[source["case:concept:name"] == "173688"].sort_values("at", kind="stable")
    rows = [r[0] for r in case]
    assert [r.to_stage for r in rows] == list(expected["concept:name"])
    assert [r.from_stage for r in rows] == [None, *list(expected["concept:name"])[:-1]]
    assert [r.occurred_at for r in rows] == \
        [t.tz_convert(None).to_pydatetime() for t in expected["at"]]
    assert [r.attributes for r in rows] == \
        [{"lifecycle": v} for v in expected["lifecycle:transition"]]


def test_bpic2012_reimport_is_noop(bpic: tuple[Engine, ImportReport, Path]) -> None:
    engine, _, path = bpic
    again = import_event_log(engine, path, **BPIC)
    assert again.changed_nothing and again.unchanged == 262_200
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(StageEvent)).scalar_one() == 262_200


@pytest.mark.parametrize(
    ("folder", "file", "cases", "events"),
    [
        ("helpdesk_tickets", "helpdesk_events.csv.gz", 4580, 21348),
        ("pm4py_examples", "receipt.csv", 1434, 8577),
        ("bpic2013_incidents", "bpic2013_incidents_events.csv.gz", 7554, 65533),
    ],
)
def test_other_logs(db: Engine, data_dir: Path, folder: str, file: str, cases: int,
                    events: int) -> None:
    report = import_event_log(db, data_dir / folder / file, case="case:concept:name",
                              activity="concept:name", timestamp="time:timestamp",
                              resource="org:resource", name=folder)
    assert (report.inserted, report.rejected) == (events, 0)
    with db.connect() as conn:
        found = conn.execute(select(func.count(func.distinct(StageEvent.case_id)))).scalar_one()
    assert found == cases


def write(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_ties_offsets_changes_and_rejections(db: Engine, tmp_path: Path) -> None:
    log = write(tmp_path / "tiny.csv", (
        "case,act,ts,who\n"
        "c1,B,2024-01-01T10:00:00+02:00,ann\n"
        "c1,A,2024-01-01T08:00:00Z,bob\n"
        "c1,C,2024-01-01T10:00:00+02:00,\n"   # same instant as B: stays after it
        "c2,A,2024-01-01 09:00:00,ann\n"       # naive: workspace time zone
        "c2,X,yesterday,ann\n"
    ))
    options = dict(case="case", activity="act", timestamp="ts", resource="who")
    report = import_event_log(db, log, timezone="Europe/Paris", **options)
    assert report.inserted == 4
    assert [(r.line, r.reason.split(" '")[0]) for r in report.rejected_rows] == [(6, "ts")]

    def events() -> list[tuple[object, ...]]:
        with db.connect() as conn:
            return [tuple(r) for r in conn.execute(select(
                StageEvent.case_id, StageEvent.seq, StageEvent.from_stage, StageEvent.to_stage,
                StageEvent.occurred_at, StageEvent.resource).order_by(
                StageEvent.case_id, StageEvent.seq))]

    assert events() == [
        ("c1", 1, None, "B", dt.datetime(2024, 1, 1, 8), "ann"),
        ("c1", 2, "B", "A", dt.datetime(2024, 1, 1, 8), "bob"),
        ("c1", 3, "A", "C", dt.datetime(2024, 1, 1, 8), None),
        ("c2", 1, None, "A", dt.datetime(2024, 1, 1, 8), "ann"),
    ]
    write(log, log.read_text().replace("+02:00,\n", "+02:00,cy\n"))
    changed = import_event_log(db, log, timezone="Europe/Paris", **options)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 3)
    assert events()[2][-1] == "cy"
