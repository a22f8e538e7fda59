"""Stage history: named processes and their events, synced idempotently case by case."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, insert, select, update

from kpi_engine.db.models import Process, StageEvent
from kpi_engine.errors import InvalidInputError
from kpi_engine.importers.report import TableCounts
from kpi_engine.importers.writing import bulk_insert, delete_ids, same_value, update_by_id

PROCESSES: Table = Process.__table__  # type: ignore[assignment]
STAGE_EVENTS: Table = StageEvent.__table__  # type: ignore[assignment]

# Columns of an event besides its key (process_id, case_id, seq).
EVENT_COLUMNS = (
    "entity_type", "lead_id", "deal_id", "from_stage", "to_stage", "occurred_at",
    "owner_id", "resource", "attributes",
)


def process_id(
    conn: Connection, name: str, *, kind: str, description: str | None = None
) -> tuple[int, str | None]:
    """The id and stored checksum of process `name`, created when missing.

    A name already used by a process of another kind is refused: a CRM pipeline and an
    imported log must not mix their events.
    """
    row = conn.execute(
        select(PROCESSES.c.id, PROCESSES.c.kind, PROCESSES.c.source_checksum).where(
            PROCESSES.c.name == name
        )
    ).first()
    if row is not None:
        if row.kind != kind:
            raise InvalidInputError(
                f"A process named '{name}' already exists as a {row.kind} process; "
                f"choose another name (--name)."
            )
        return int(row.id), row.source_checksum
    result = conn.execute(
        insert(PROCESSES).values(name=name, kind=kind, description=description)
    )
    return int(result.inserted_primary_key[0]), None  # type: ignore[index]


def set_checksum(conn: Connection, process: int, checksum: str) -> None:
    conn.execute(
        update(PROCESSES).where(PROCESSES.c.id == process).values(source_checksum=checksum)
    )


def sync_events(
    conn: Connection,
    process: int,
    events: Sequence[Mapping[str, Any]],
    *,
    scope: ColumnElement[bool] | None = None,
) -> TableCounts:
    """Make the process's events in `scope` equal to `events`, matched on (case_id, seq).

    Each event carries case_id, seq and every column of EVENT_COLUMNS. Events in scope
    that are no longer in the source are deleted.
    """
    condition = STAGE_EVENTS.c.process_id == process
    if scope is not None:
        condition = condition & scope
    existing = {
        (r["case_id"], r["seq"]): r
        for r in conn.execute(
            select(
                STAGE_EVENTS.c.id, STAGE_EVENTS.c.case_id, STAGE_EVENTS.c.seq,
                *[STAGE_EVENTS.c[c] for c in EVENT_COLUMNS],
            ).where(condition)
        ).mappings()
    }
    to_insert: list[dict[str, Any]] = []
    to_update: list[dict[str, Any]] = []
    unchanged = 0
    for event in events:
        current = existing.pop((event["case_id"], event["seq"]), None)
        if current is None:
            to_insert.append({"process_id": process, **event})
        elif all(same_value(current[c], event[c]) for c in EVENT_COLUMNS):
            unchanged += 1
        else:
            to_update.append({"b_id": current["id"], **{f"b_{c}": event[c] for c in EVENT_COLUMNS}})
    deleted = delete_ids(conn, STAGE_EVENTS, (r["id"] for r in existing.values()))
    bulk_insert(conn, STAGE_EVENTS, to_insert)
    update_by_id(conn, STAGE_EVENTS, to_update, EVENT_COLUMNS)
    return TableCounts("stage_events", len(to_insert), len(to_update), unchanged, deleted)
