"""Write the demo CRM into a database, replacing any previous demo, in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Engine, Table, and_, bindparam, func, insert, or_, select, update

from kpi_engine.db.models import metadata
from kpi_engine.demo import catalog as c
from kpi_engine.demo.generator import TARGET_METRICS, DemoData, Row, generate_demo
from kpi_engine.demo.summary import DemoSummary
from kpi_engine.errors import InvalidInputError

DEMO = c.DEMO_SOURCE_SYSTEM
TEAM_NAMES = tuple(t.name for t in c.TEAMS)
# Tables whose rows say where they came from.
SOURCED_TABLES = ("reps", "accounts", "products", "leads", "deals", "activities")
PROCESS_DESCRIPTIONS = {
    "leads": "Lead pipeline: New → Contacted → Qualified → Converted / Disqualified.",
    "deals": "Deal pipeline: Prospecting → Qualification → Demo → Proposal → Negotiation → "
             "Won / Lost.",
}


class NonDemoDataError(InvalidInputError):
    """The database holds real data; seeding the demo into it needs an explicit force."""


def _t(name: str) -> Table:
    return metadata.tables[name]


def seed_demo(
    engine: Engine,
    *,
    today: dt.date,
    seed: int = 42,
    timezone: str = "UTC",
    fiscal_year_start_month: int = 1,
    force: bool = False,
) -> DemoSummary:
    """Seed the demo CRM for the six months before `today` into a migrated database.

    Previous demo rows (source_system "demo", their stage history and targets) are deleted
    first, so re-running gives the same database. A database holding anything else is
    refused with `NonDemoDataError` unless `force` is set; forced, the demo is added beside
    that data (reusing teams of the same name) and replaces overall targets of the demo's
    metric names. Everything happens in one transaction: on any error nothing is written.
    """
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(f"Unknown time zone '{timezone}'; use e.g. Europe/Paris.") from None
    with engine.begin() as conn:
        if not force:
            foreign = non_demo_rows(conn)
            if foreign:
                found = ", ".join(f"{n:,} {table}" for table, n in foreign.items())
                raise NonDemoDataError(
                    f"This database holds data that is not the demo ({found}). The demo only "
                    "seeds an empty or demo database; use another database, or force seeding "
                    "to add the demo beside that data."
                )
        # Generated after the check, so a refusal is immediate.
        data = generate_demo(
            today, seed=seed, timezone=timezone, fiscal_year_start_month=fiscal_year_start_month
        )
        replaced = delete_demo_rows(conn)
        counts = write_demo(conn, data)
    return DemoSummary(
        today=today, seed=seed, timezone=timezone, history_start=data.history_start,
        counts=counts, patterns=data.patterns, replaced_rows=replaced,
    )


def _demo_ids(table: str) -> Any:
    t = _t(table)
    return select(t.c.id).where(t.c.source_system == DEMO).scalar_subquery()


def non_demo_rows(conn: Connection) -> dict[str, int]:
    """Rows that the demo did not write, by table (empty for an empty or demo database)."""
    found: dict[str, int] = {}
    for name in SOURCED_TABLES:
        t = _t(name)
        found[name] = conn.scalar(
            select(func.count()).select_from(t).where(t.c.source_system != DEMO)) or 0
    events = _t("stage_events")
    found["stage_events"] = conn.scalar(
        select(func.count()).select_from(events).where(
            and_(
                or_(events.c.lead_id.is_(None), events.c.lead_id.not_in(_demo_ids("leads"))),
                or_(events.c.deal_id.is_(None), events.c.deal_id.not_in(_demo_ids("deals"))),
            )
        )
    ) or 0
    teams = _t("teams")
    found["teams"] = conn.scalar(
        select(func.count()).select_from(teams).where(teams.c.name.not_in(TEAM_NAMES))) or 0
    found["import_runs"] = conn.scalar(select(func.count()).select_from(_t("import_runs"))) or 0
    return {name: n for name, n in found.items() if n}


def delete_demo_rows(conn: Connection) -> int:
    """Delete every row a previous demo seeding wrote; returns how many."""
    deleted = 0
    targets, teams, reps = _t("kpi_targets"), _t("teams"), _t("reps")
    demo_teams = select(teams.c.id).where(teams.c.name.in_(TEAM_NAMES)).scalar_subquery()
    deleted += conn.execute(targets.delete().where(or_(
        targets.c.rep_id.in_(_demo_ids("reps")),
        targets.c.team_id.in_(demo_teams),
        and_(targets.c.team_id.is_(None), targets.c.rep_id.is_(None),
             targets.c.metric.in_(TARGET_METRICS)),
    ))).rowcount
    events = _t("stage_events")
    deleted += conn.execute(events.delete().where(or_(
        events.c.lead_id.in_(_demo_ids("leads")), events.c.deal_id.in_(_demo_ids("deals"))
    ))).rowcount
    # Children before parents: activities → deals → leads → accounts, products → reps.
    for name in ("activities", "deals", "leads", "accounts", "products"):
        t = _t(name)
        deleted += conn.execute(t.delete().where(t.c.source_system == DEMO)).rowcount
    conn.execute(update(reps).where(reps.c.source_system == DEMO).values(manager_id=None))
    deleted += conn.execute(reps.delete().where(reps.c.source_system == DEMO)).rowcount
    still_used = select(reps.c.team_id).where(reps.c.team_id.is_not(None))
    still_targeted = select(targets.c.team_id).where(targets.c.team_id.is_not(None))
    deleted += conn.execute(teams.delete().where(
        teams.c.name.in_(TEAM_NAMES), teams.c.id.not_in(still_used),
        teams.c.id.not_in(still_targeted),
    )).rowcount
    return deleted


def write_demo(conn: Connection, data: DemoData) -> dict[str, int]:
    """Bulk-insert the generated rows, swapping external-id references for database ids."""
    teams = _get_or_create(conn, "teams", "name", data.teams)
    # Managers are reps too: insert everyone, then point each rep at their manager.
    _insert(conn, "reps", data.reps, sourced=True, refs={"_team": ("team_id", teams)})
    reps = _ids(conn, "reps")
    managers = [{"b_id": reps[r["external_id"]], "b_manager": reps[r["_manager"]]}
                for r in data.reps if r["_manager"] is not None]
    t = _t("reps")
    conn.execute(update(t).where(t.c.id == bindparam("b_id"))
                 .values(manager_id=bindparam("b_manager")), managers)
    _insert(conn, "products", data.products, sourced=True)
    _insert(conn, "accounts", data.accounts, sourced=True)
    products, accounts = _ids(conn, "products"), _ids(conn, "accounts")
    _insert(conn, "leads", data.leads, sourced=True,
            refs={"_owner": ("owner_id", reps), "_account": ("account_id", accounts)})
    leads = _ids(conn, "leads")
    _insert(conn, "deals", data.deals, sourced=True, refs={
        "_owner": ("owner_id", reps), "_account": ("account_id", accounts),
        "_product": ("product_id", products), "_lead": ("lead_id", leads)})
    deals = _ids(conn, "deals")
    _insert(conn, "activities", data.activities, sourced=True, refs={
        "_lead": ("lead_id", leads), "_deal": ("deal_id", deals), "_rep": ("rep_id", reps)})
    processes = _get_or_create(conn, "processes", "name", [
        {"name": name, "kind": "crm", "description": text}
        for name, text in PROCESS_DESCRIPTIONS.items()])
    _insert(conn, "stage_events", data.stage_events, refs={
        "_process": ("process_id", processes), "_lead": ("lead_id", leads),
        "_deal": ("deal_id", deals), "_owner": ("owner_id", reps)})
    _insert(conn, "kpi_targets", data.targets,
            refs={"_team": ("team_id", teams), "_rep": ("rep_id", reps)})
    return {
        "teams": len(data.teams), "reps": len(data.reps), "accounts": len(data.accounts),
        "products": len(data.products), "leads": len(data.leads), "deals": len(data.deals),
        "activities": len(data.activities), "stage_events": len(data.stage_events),
        "kpi_targets": len(data.targets),
    }


def _insert(conn: Connection, table: str, rows: Iterable[Row], *, sourced: bool = False,
            refs: Mapping[str, tuple[str, Mapping[str, int]]] | None = None) -> None:
    refs = refs or {}
    prepared = []
    for row in rows:
        out = {k: v for k, v in row.items() if not k.startswith("_")}
        for key, (column, ids) in refs.items():
            out[column] = None if row[key] is None else ids[row[key]]
        if sourced:
            out["source_system"] = DEMO
        prepared.append(out)
    if prepared:
        # One executemany per table (psycopg pipelines it; sqlite3 loops in C).
        conn.execute(insert(_t(table)), prepared)


def _ids(conn: Connection, table: str) -> dict[str, int]:
    t = _t(table)
    rows = conn.execute(select(t.c.external_id, t.c.id).where(t.c.source_system == DEMO))
    return {external_id: id_ for external_id, id_ in rows}


def _get_or_create(conn: Connection, table: str, key: str, rows: Iterable[Row]) -> dict[str, int]:
    """Ids by `key`, inserting the rows whose key is not there yet (teams and processes)."""
    t = _t(table)
    wanted = list(rows)
    names = [r[key] for r in wanted]
    existing = {n: i for n, i in conn.execute(select(t.c[key], t.c.id).where(t.c[key].in_(names)))}
    missing = [r for r in wanted if r[key] not in existing]
    if missing:
        conn.execute(insert(t), missing)
    return {n: i for n, i in conn.execute(select(t.c[key], t.c.id).where(t.c[key].in_(names)))}
