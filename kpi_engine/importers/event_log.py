"""`kpibot import event-log FILE --case COL --activity COL --timestamp COL`: any process log.

The file (CSV, plain or gzip) becomes a Process (kind "event_log", named after the file
stem unless --name is given) and one stage event per row: entity_type "case", case_id,
to_stage = the activity, from_stage = the previous activity of the same case, resource.
`seq` is the position in the case after a *stable* sort by timestamp, so events with
equal timestamps keep their order in the file, as pm4py does. Timestamps with an offset
are converted to UTC; naive ones and dates are read in the workspace time zone.

`--lifecycle COL` (e.g. BPIC 2012's START/SCHEDULE/COMPLETE transitions) is stored as
`attributes = {"lifecycle": value}` on each event; the stage stays the activity alone, so
analyses can pick the transitions they want.

Idempotence: the file checksum plus the options (columns and time zone) are stored in
Process.source_checksum; the same import again changes nothing. A changed file is diffed
against the stored events on (case_id, seq): equal events stay, changed ones are updated,
new ones inserted, vanished ones deleted.

A row with a blank case or activity or an unreadable timestamp is rejected individually;
more than half of the rows bad refuses the file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from kpi_engine.errors import InvalidInputError
from kpi_engine.importers import values as v
from kpi_engine.importers.progress import track
from kpi_engine.importers.reading import checksum_of, read_csv, refuse_if_mostly_rejected
from kpi_engine.importers.report import ImportReport, RejectedRow, TableCounts
from kpi_engine.importers.stages import STAGE_EVENTS, process_id, set_checksum, sync_events
from kpi_engine.importers.writing import record_run, utc_now

LABEL = "event-log"


def default_process_name(path: Path) -> str:
    """The file name without .gz and .csv: `bpic2012_events.csv.gz` → `bpic2012_events`."""
    name = path.name
    for suffix in (".gz", ".csv", ".txt"):
        name = name.removesuffix(suffix)
    return name


def import_event_log(
    engine: Engine,
    path: Path,
    *,
    case: str,
    activity: str,
    timestamp: str,
    resource: str | None = None,
    lifecycle: str | None = None,
    name: str | None = None,
    progress: bool = False,
    timezone: str | None = None,
) -> ImportReport:
    """Import a process event log from `path` as the stage history of one named process."""
    started = utc_now()
    zone = v.workspace_zone(timezone)
    path = Path(path)
    process_name = (name or default_process_name(path)).strip()
    if not process_name or len(process_name) > 120:
        raise InvalidInputError(f"{LABEL}: the process name must be 1 to 120 characters.")
    required = [c for c in (case, activity, timestamp, resource, lifecycle) if c]
    file = read_csv(path, required, LABEL)
    checksum = checksum_of((file.checksum, case, activity, timestamp, resource or "",
                            lifecycle or "", zone.key))
    rejected: list[RejectedRow] = list(file.rejected)
    cases: dict[str, list[tuple[Any, ...]]] = {}
    at_index = file.columns.index
    i_case, i_activity, i_time = at_index(case), at_index(activity), at_index(timestamp)
    i_resource = at_index(resource) if resource else None
    i_lifecycle = at_index(lifecycle) if lifecycle else None
    for row in track(file.rows, enabled=progress, total=len(file.rows), label=LABEL):
        fields = row.fields
        try:
            case_id = _bounded(fields[i_case], case)
            stage = _bounded(fields[i_activity], activity)
            at = _instant(fields[i_time], zone, timestamp)
            who = fields[i_resource].strip() or None if i_resource is not None else None
            if who is not None and len(who) > 120:
                raise v.BadValue(f"{resource} is {len(who)} characters long, at most 120 fit")
            step = fields[i_lifecycle].strip() or None if i_lifecycle is not None else None
        except v.BadValue as error:
            rejected.append(RejectedRow(path.name, row.line, str(error)))
            continue
        cases.setdefault(case_id, []).append((at, stage, who, step))
    refuse_if_mostly_rejected(path.name, len(file.rows) + len(file.rejected), rejected, LABEL)
    events = _events(cases)

    with engine.begin() as conn:
        process, stored_checksum = process_id(
            conn, process_name, kind="event_log", description=f"Imported from {path.name}"
        )
        if stored_checksum == checksum:
            count = conn.execute(
                select(func.count()).select_from(STAGE_EVENTS)
                .where(STAGE_EVENTS.c.process_id == process)
            ).scalar_one()
            counts = TableCounts("stage_events", unchanged=int(count))
        else:
            counts = sync_events(conn, process, events)
            set_checksum(conn, process, checksum)
        run_id = record_run(conn, source=LABEL, path=str(path), checksum=checksum,
                            started_at=started, counts=(counts,), rejected=len(rejected))
    notes = (f"process '{process_name}': {len(cases):,} cases, {len(events):,} events",)
    return ImportReport(LABEL, str(path), checksum, (counts,), tuple(rejected), notes, run_id)


def _bounded(value: str, column: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise v.BadValue(f"{column} is blank")
    if len(stripped) > 120:
        raise v.BadValue(f"{column} is {len(stripped)} characters long, at most 120 fit")
    return stripped


def _instant(value: str, zone: ZoneInfo, column: str) -> dt.datetime:
    """Fast path of values.instant for the common offset-carrying ISO timestamp."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is not None:
        return parsed.astimezone(dt.UTC).replace(tzinfo=None)
    result = v.instant(value, zone, column)
    if result is None:
        raise v.BadValue(f"{column} is blank")
    return result


def _events(cases: dict[str, list[tuple[Any, ...]]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for case_id, steps in cases.items():
        # list.sort is stable: equal timestamps keep file order.
        steps.sort(key=lambda step: step[0])
        previous = None
        for seq, (at, stage, who, lifecycle) in enumerate(steps, start=1):
            events.append({
                "case_id": case_id,
                "seq": seq,
                "entity_type": "case",
                "lead_id": None,
                "deal_id": None,
                "from_stage": previous,
                "to_stage": stage,
                "occurred_at": at,
                "owner_id": None,
                "resource": who,
                "attributes": {"lifecycle": lifecycle} if lifecycle is not None else None,
            })
            previous = stage
    return events
