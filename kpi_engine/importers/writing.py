"""Idempotent writes: insert new rows, update changed ones, leave equal ones alone.

Everything runs on one Core connection inside the caller's transaction, so an import is
all or nothing. Comparisons happen in Python over the rows of one source system, which
keeps the SQL portable (no dialect-specific upsert) and lets the report say exactly what
changed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Table,
    bindparam,
    delete,
    insert,
    select,
    update,
)

from kpi_engine.db.models import ImportRun
from kpi_engine.importers.report import TableCounts

_CHUNK = 5000


@dataclass(frozen=True)
class UpsertResult:
    counts: TableCounts
    # Key tuple → primary key, for every row in scope after the write.
    ids: Mapping[tuple[Any, ...], int]


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    key: tuple[str, ...],
    scope: ColumnElement[bool],
) -> UpsertResult:
    """Write `rows` (all with the same columns) into `table`, matched to existing rows by `key`.

    `scope` selects the existing rows this source owns (e.g. its source_system); only the
    columns present in `rows` are compared and updated, so columns written by others
    (lead scores) are left alone.
    """
    columns = list(rows[0].keys()) if rows else list(key)
    compared = [c for c in columns if c not in key]
    existing = {
        tuple(r[k] for k in key): r
        for r in conn.execute(
            select(table.c.id, *[table.c[c] for c in columns]).where(scope)
        ).mappings()
    }
    to_insert: list[Mapping[str, Any]] = []
    to_update: list[dict[str, Any]] = []
    unchanged = 0
    for row in rows:
        current = existing.get(tuple(row[k] for k in key))
        if current is None:
            to_insert.append(row)
        elif all(same_value(current[c], row[c]) for c in compared):
            unchanged += 1
        else:
            to_update.append({"b_id": current["id"], **{f"b_{c}": row[c] for c in compared}})
    for chunk in chunks(to_insert):
        conn.execute(insert(table), chunk)
    update_by_id(conn, table, to_update, compared)
    ids = {
        tuple(r[k] for k in key): r["id"]
        for r in conn.execute(select(table.c.id, *[table.c[k] for k in key]).where(scope))
        .mappings()
    }
    return UpsertResult(
        TableCounts(str(table.name), len(to_insert), len(to_update), unchanged), ids
    )


def update_by_id(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                 columns: Sequence[str]) -> None:
    """Update `columns` of many rows by id; each row holds `b_id` and a `b_<column>` value."""
    if not rows:
        return
    statement = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values({c: bindparam(f"b_{c}") for c in columns})
    )
    for chunk in chunks(rows):
        conn.execute(statement, chunk)


def same_value(stored: Any, new: Any) -> bool:
    """Equality as the database gives values back (JSON dicts, floats, naive datetimes)."""
    if isinstance(stored, float) or isinstance(new, float):
        if stored is None or new is None:
            return stored is new
        return float(stored) == float(new)
    if isinstance(stored, str) and isinstance(new, dict | list):
        return bool(json.loads(stored) == new)
    return bool(stored == new)


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows fast: COPY on PostgreSQL (psycopg 3), executemany elsewhere."""
    if not rows:
        return
    columns = list(rows[0].keys())
    quoted = ", ".join(f'"{c}"' for c in columns)
    if conn.dialect.name not in ("sqlite", "postgresql") or (
        conn.dialect.name == "postgresql" and conn.dialect.driver != "psycopg"
    ):
        for chunk in chunks(rows):
            conn.execute(insert(table), chunk)
        return
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, column in enumerate(columns):
        if isinstance(table.c[column].type, JSON):
            converters.append((index, _json_dumper()))
        elif conn.dialect.name == "sqlite":
            # Values in SQLAlchemy's own SQLite storage format (e.g. DateTime strings).
            processor = table.c[column].type.bind_processor(conn.dialect)
            if processor is not None:
                converters.append((index, processor))
    pick = itemgetter(*columns)
    records: list[Any] = []
    for row in rows:
        record = list(pick(row)) if len(columns) > 1 else [pick(row)]
        for index, convert in converters:
            if record[index] is not None:
                record[index] = convert(record[index])
        records.append(record)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if conn.dialect.name == "postgresql":
        with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for record in records:
                copy.write_row(record)
        return
    # SQLite: the DBAPI's executemany, skipping SQLAlchemy's per-row parameter handling.
    marks = ", ".join("?" for _ in columns)
    cursor.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', records)


def _json_dumper() -> Callable[[Any], str | None]:
    """json.dumps, remembered for repeated flat dicts (one per event, few distinct)."""
    memo: dict[tuple[tuple[str, Any], ...], str] = {}

    def dump(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, dict) and len(value) <= 4:
            try:
                key = tuple(value.items())
                if key not in memo:
                    memo[key] = json.dumps(value)
                return memo[key]
            except TypeError:  # an unhashable value inside
                pass
        return json.dumps(value)

    return dump


def delete_ids(conn: Connection, table: Table, ids: Iterable[int]) -> int:
    pending = list(ids)
    for chunk in chunks(pending):
        conn.execute(delete(table).where(table.c.id.in_(chunk)))
    return len(pending)


def record_run(
    conn: Connection,
    *,
    source: str,
    path: str,
    checksum: str,
    started_at: dt.datetime,
    counts: Sequence[TableCounts],
    rejected: int,
) -> int:
    """Add the ImportRun row for this import (also for a run that changed nothing)."""
    result = conn.execute(
        insert(ImportRun.__table__).values(
            source=source,
            path=path[:400],
            checksum=checksum,
            started_at=started_at,
            finished_at=utc_now(),
            inserted=sum(c.inserted for c in counts),
            updated=sum(c.updated for c in counts),
            unchanged=sum(c.unchanged for c in counts),
            rejected=rejected,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def utc_now() -> dt.datetime:
    # Bookkeeping time of the run itself, not a figure the engine answers with.
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def chunks(rows: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start:start + _CHUNK]
