"""Generate a large synthetic CRM in the canonical schema, for the engine benchmarks.

At scale 1: 1,000,000 deals, 10,000,000 activities, 2,000,000 leads, 50,000 accounts,
400 reps in 40 teams, 12 products, over three years ending at `BENCH_NOW`. Everything is
drawn with numpy from a fixed seed (chunk by chunk, so memory stays flat) and written in
bulk: `executemany` on a raw sqlite3 connection, `COPY` on PostgreSQL. Secondary indexes
are dropped during the load and rebuilt afterwards (faster than maintaining them row by
row), then the planner statistics are refreshed (ANALYZE) so both the engine and the
hand-written SQL get the same, realistic plans.

    python -m benchmarks.generate_crm --scale 0.1            # both backends, ~40 s
    python -m benchmarks.generate_crm --backend sqlite        # full size, SQLite only

Targets: the SQLite file benchmarks/.data/crm_s<scale>.db (git-ignored) and the PostgreSQL
database `kpibot_bench` (created if missing; the schema `s<scale>` in it, e.g. s1, s0_1).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Index, text

from kpi_engine.db import migrate
from kpi_engine.db.models import metadata
from kpi_engine.db.session import make_engine

DATA_DIR = Path(__file__).resolve().parent / ".data"
POSTGRES_SERVER = "postgresql+psycopg://127.0.0.1:5432"
POSTGRES_DATABASE = "kpibot_bench"
# The frozen "now" of the generated CRM: benchmarks run with KPIBOT_NOW set to it.
BENCH_NOW = dt.datetime(2026, 3, 18, 15, 0, 0)
HISTORY_START = dt.datetime(2023, 1, 1)
SOURCE_SYSTEM = "bench"
CHUNK_ROWS = 250_000

SOURCES = ("Google Ads", "LinkedIn", "Webinar", "Referral", "Organic Search", "Partner",
           "Events", "Outbound")
CHANNELS = ("form", "chat", "inbound call", "event")
SEGMENTS = ("SMB", "Mid-Market", "Enterprise", "Public Sector", "Startup")
LEAD_TYPES = ("online_medium", "industry", "offline", "online_big")
SECTORS = ("technology", "retail", "medical", "finance", "software", "marketing",
           "telecommunications", "entertainment", "services", "employment")
COUNTRIES = ("United States", "Germany", "France", "Brazil", "India", "Japan", "Kenya")
REGIONS = ("North", "South", "East", "West", "Central")
OPEN_STAGES = ("Prospecting", "Qualification", "Demo", "Proposal", "Negotiation")
ACTIVITY_TYPES = ("email", "call", "meeting", "web_visit", "form")


@dataclass(frozen=True)
class Sizes:
    """Row counts for one scale factor."""

    teams: int
    reps: int
    accounts: int
    products: int
    leads: int
    deals: int
    activities: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        def n(base: int, floor: int) -> int:
            return max(floor, round(base * scale))

        return cls(teams=n(40, 4), reps=n(400, 20), accounts=n(50_000, 100), products=12,
                   leads=n(2_000_000, 1_000), deals=n(1_000_000, 500),
                   activities=n(10_000_000, 5_000))


def scale_tag(scale: float) -> str:
    """`1` → "s1", `0.1` → "s0_1": a name usable for files and PostgreSQL schemas."""
    return "s" + f"{scale:g}".replace(".", "_")


def sqlite_path(scale: float) -> Path:
    return DATA_DIR / f"crm_{scale_tag(scale)}.db"


def sqlite_url(scale: float) -> str:
    return f"sqlite:///{sqlite_path(scale)}"


def postgres_url(scale: float) -> str:
    return f"{POSTGRES_SERVER}/{POSTGRES_DATABASE}?options=-csearch_path%3D{scale_tag(scale)}"


# --- generation --------------------------------------------------------------------------

_EPOCH = np.datetime64("1970-01-01T00:00:00", "s")
_START_S = int((HISTORY_START - dt.datetime(1970, 1, 1)).total_seconds())
_NOW_S = int((BENCH_NOW - dt.datetime(1970, 1, 1)).total_seconds())
_DAY_S = 86_400


def _timestamps(seconds: np.ndarray) -> np.ndarray:
    """Epoch seconds → datetime64[s] (NaT where negative, i.e. "no value")."""
    out = (_EPOCH + seconds.astype("timedelta64[s]")).astype("datetime64[s]")
    out[seconds < 0] = np.datetime64("NaT")
    return out


def _ids(prefix: str, first: int, count: int) -> np.ndarray:
    # Zero-padded so rows arrive in key order: cheap appends to the unique index.
    return np.char.add(prefix, np.char.zfill(np.arange(first, first + count).astype(str), 9))


def _created_times(rng: np.random.Generator, count: int) -> np.ndarray:
    """Creation instants over the history, busier in recent months (a growing team)."""
    span = _NOW_S - _START_S
    frac = np.sqrt(rng.random(count))  # density rising linearly with time
    seconds = _START_S + (frac * span).astype(np.int64)
    return np.minimum(seconds, _NOW_S - 60)


def _chunks(total: int) -> Iterator[tuple[int, int, int]]:
    """(chunk index, first id, row count) covering ids 1..total."""
    for index, first in enumerate(range(1, total + 1, CHUNK_ROWS)):
        yield index, first, min(CHUNK_ROWS, total + 1 - first)


def gen_teams(sizes: Sizes, seed: int) -> Iterator[pd.DataFrame]:
    ids = np.arange(1, sizes.teams + 1)
    yield pd.DataFrame({"id": ids, "name": [f"Team {i:03d}" for i in ids],
                        "region": [REGIONS[i % len(REGIONS)] for i in ids]})


def gen_reps(sizes: Sizes, seed: int) -> Iterator[pd.DataFrame]:
    ids = np.arange(1, sizes.reps + 1)
    team = (ids - 1) % sizes.teams + 1
    # The first rep of each team is its manager.
    is_manager = ids <= sizes.teams
    yield pd.DataFrame({
        "id": ids, "source_system": SOURCE_SYSTEM, "external_id": _ids("r", 1, sizes.reps),
        "name": [f"Rep {i:04d}" for i in ids], "email": [f"rep{i}@bench.example" for i in ids],
        "slack_user_id": None, "role": np.where(is_manager, "manager", "rep"),
        "team_id": team, "manager_id": np.where(is_manager, None, team).astype(object),
        "region": [REGIONS[t % len(REGIONS)] for t in team], "active": True,
    })


def gen_accounts(sizes: Sizes, seed: int) -> Iterator[pd.DataFrame]:
    rng = np.random.default_rng([seed, 1])
    n = sizes.accounts
    employees = rng.lognormal(5, 1.5, n).astype(np.int64) + 1
    bands = np.select([employees <= 50, employees <= 200, employees <= 1000],
                      ["1-50", "51-200", "201-1000"], "1000+")
    yield pd.DataFrame({
        "id": np.arange(1, n + 1), "source_system": SOURCE_SYSTEM,
        "external_id": _ids("a", 1, n), "name": [f"Account {i}" for i in range(1, n + 1)],
        "sector": np.array(SECTORS)[rng.integers(0, len(SECTORS), n)],
        "employees": employees, "size_band": bands,
        "revenue": np.round(employees * rng.uniform(0.05, 0.3, n), 2),
        "country": np.array(COUNTRIES)[rng.integers(0, len(COUNTRIES), n)],
        "year_established": rng.integers(1950, 2022, n), "parent_name": None,
    })


def gen_products(sizes: Sizes, seed: int) -> Iterator[pd.DataFrame]:
    n = sizes.products
    yield pd.DataFrame({
        "id": np.arange(1, n + 1), "source_system": SOURCE_SYSTEM,
        "external_id": _ids("p", 1, n), "name": [f"Product {i}" for i in range(1, n + 1)],
        "series": [("GTX", "MG", "Pro")[i % 3] for i in range(n)],
        "list_price": [float(500 * (i + 1)) for i in range(n)],
    })


def gen_leads(sizes: Sizes, seed: int) -> Iterator[pd.DataFrame]:
    # Conversion odds differ by source, so group-by and drivers have something to find.
    source_rate = np.array([0.18, 0.22, 0.30, 0.45, 0.25, 0.35, 0.20, 0.10])
    for index, first, n in _chunks(sizes.leads):
        rng = np.random.default_rng([seed, 2, index])
        source = rng.integers(0, len(SOURCES), n)
        created = _created_times(rng, n)
        delay = (rng.exponential(12, n) * _DAY_S).astype(np.int64)
        converted_at = created + delay
        converts = (rng.random(n) < source_rate[source]) & (converted_at < _NOW_S)
        # Old unconverted leads are closed as lost; recent ones are still open.
        old = created < _NOW_S - 60 * _DAY_S
        status = np.where(converts, "converted", np.where(old, "lost", "open"))
        converted = np.where(converts, True, np.where(old, False, None)).astype(object)
        yield pd.DataFrame({
            "id": np.arange(first, first + n), "source_system": SOURCE_SYSTEM,
            "external_id": _ids("l", first, n), "source": np.array(SOURCES)[source],
            "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n)],
            "created_at": _timestamps(created),
            "owner_id": rng.integers(1, sizes.reps + 1, n),
            "account_id": rng.integers(1, sizes.accounts + 1, n),
            "status": status, "converted": converted,
            "converted_at": _timestamps(np.where(converts, converted_at, -1)),
            "segment": np.array(SEGMENTS)[rng.integers(0, len(SEGMENTS), n)],
            "lead_type": np.array(LEAD_TYPES)[rng.integers(0, len(LEAD_TYPES), n)],
            "attributes": "{}",
        })


def gen_deals(sizes: Sizes, seed: int) -> Iterator[pd.DataFrame]:
    for index, first, n in _chunks(sizes.deals):
        rng = np.random.default_rng([seed, 3, index])
        created = _created_times(rng, n)
        cycle = (rng.lognormal(np.log(40), 0.6, n) * _DAY_S).astype(np.int64)
        closed = created + cycle
        is_closed = closed < _NOW_S
        owner = rng.integers(1, sizes.reps + 1, n)
        # Win odds vary by team (owner), giving win rate by team some spread.
        win_p = 0.25 + 0.25 * ((owner % 7) / 6)
        won = rng.random(n) < win_p
        stage = np.where(is_closed, np.where(won, "Won", "Lost"),
                         np.array(OPEN_STAGES)[rng.integers(0, len(OPEN_STAGES), n)])
        has_lead = rng.random(n) < 0.5
        yield pd.DataFrame({
            "id": np.arange(first, first + n), "source_system": SOURCE_SYSTEM,
            "external_id": _ids("d", first, n), "name": None,
            "account_id": rng.integers(1, sizes.accounts + 1, n), "owner_id": owner,
            "product_id": rng.integers(1, sizes.products + 1, n),
            "lead_id": np.where(has_lead, rng.integers(1, sizes.leads + 1, n), None).astype(object),
            "stage": stage, "amount": np.round(rng.lognormal(np.log(2500), 0.9, n), 2),
            "created_at": _timestamps(created),
            "closed_at": _timestamps(np.where(is_closed, closed, -1)),
            "is_won": np.where(is_closed, won, None).astype(object),
        })


def gen_activities(sizes: Sizes, seed: int) -> Iterator[pd.DataFrame]:
    type_p = np.array([0.4, 0.25, 0.1, 0.2, 0.05])
    for index, first, n in _chunks(sizes.activities):
        rng = np.random.default_rng([seed, 4, index])
        kind = rng.choice(len(ACTIVITY_TYPES), n, p=type_p)
        on_deal = rng.random(n) < 0.5
        yield pd.DataFrame({
            "id": np.arange(first, first + n), "source_system": SOURCE_SYSTEM,
            "external_id": _ids("x", first, n), "type": np.array(ACTIVITY_TYPES)[kind],
            "direction": np.where(kind < 3, "outbound", "inbound"),
            "occurred_at": _timestamps(_created_times(rng, n)),
            "lead_id": np.where(~on_deal, rng.integers(1, sizes.leads + 1, n), None).astype(object),
            "deal_id": np.where(on_deal, rng.integers(1, sizes.deals + 1, n), None).astype(object),
            "rep_id": rng.integers(1, sizes.reps + 1, n), "detail": None,
        })


# Parents before children (foreign keys).
TABLES: tuple[tuple[str, Callable[[Sizes, int], Iterator[pd.DataFrame]]], ...] = (
    ("teams", gen_teams), ("reps", gen_reps), ("accounts", gen_accounts),
    ("products", gen_products), ("leads", gen_leads), ("deals", gen_deals),
    ("activities", gen_activities),
)
BIG_TABLES = ("leads", "deals", "activities")


# --- loading ------------------------------------------------------------------------------


def _secondary_indexes() -> list[Index]:
    """The non-unique indexes of the big tables, dropped during the load."""
    return [ix for name in BIG_TABLES for ix in metadata.tables[name].indexes if not ix.unique]


def _rows(frame: pd.DataFrame, *, bool_as_int: bool) -> list[tuple[object, ...]]:
    """The frame as row tuples; timestamps as text (both databases parse it)."""
    columns = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            # SQLAlchemy's SQLite DateTime text format, so bound parameters compare right.
            texts = col.dt.strftime("%Y-%m-%d %H:%M:%S.000000").tolist()
            present = col.notna().tolist()
            columns.append([t if p else None for t, p in zip(texts, present, strict=True)])
        elif col.dtype == object and bool_as_int:
            columns.append([int(v) if isinstance(v, bool) else v for v in col.tolist()])
        else:
            columns.append(col.tolist())
    return list(zip(*columns, strict=True))


def load_sqlite(scale: float, seed: int) -> None:
    path = sqlite_path(scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(sqlite_url(scale))
    migrate.upgrade(engine)
    with engine.begin() as conn:
        for ix in _secondary_indexes():
            ix.drop(conn)
    engine.dispose()

    sizes = Sizes.at(scale)
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode=OFF")
    raw.execute("PRAGMA synchronous=OFF")
    raw.execute("PRAGMA cache_size=-1000000")
    for table, generate in TABLES:
        started = time.perf_counter()
        rows = 0
        for frame in generate(sizes, seed):
            marks = ",".join("?" * len(frame.columns))
            sql = f"INSERT INTO {table} ({','.join(frame.columns)}) VALUES ({marks})"
            raw.executemany(sql, _rows(frame, bool_as_int=True))
            rows += len(frame)
        raw.commit()
        _say(f"sqlite  {table:<11} {rows:>11,} rows {time.perf_counter() - started:6.1f} s")
    raw.close()

    started = time.perf_counter()
    engine = make_engine(sqlite_url(scale))
    with engine.begin() as conn:
        for ix in _secondary_indexes():
            ix.create(conn)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    _say(f"sqlite  indexes + ANALYZE {time.perf_counter() - started:6.1f} s → {path}")


def _ensure_postgres_database() -> None:
    admin = make_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                              {"n": POSTGRES_DATABASE}).first()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{POSTGRES_DATABASE}"'))
    admin.dispose()


def _copy_frame(cursor: object, table: str, frame: pd.DataFrame) -> None:
    columns = ",".join(frame.columns)
    # psycopg's C row writer is several times faster than rendering CSV with pandas.
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        for row in _rows(frame, bool_as_int=False):
            copy.write_row(row)


def load_postgres(scale: float, seed: int) -> None:
    _ensure_postgres_database()
    schema = scale_tag(scale)
    admin = make_engine(f"{POSTGRES_SERVER}/{POSTGRES_DATABASE}")
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = make_engine(postgres_url(scale))
    migrate.upgrade(engine)
    with engine.begin() as conn:
        for ix in _secondary_indexes():
            ix.drop(conn)

    sizes = Sizes.at(scale)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # The generated keys are valid by construction: skip the per-row foreign-key
        # triggers during the load (needs a superuser; the constraints stay in place).
        cursor.execute("SET session_replication_role = replica")
        for table, generate in TABLES:
            started = time.perf_counter()
            rows = 0
            for frame in generate(sizes, seed):
                _copy_frame(cursor, table, frame)
                rows += len(frame)
            # Ids were given explicitly: move the sequence past them for later inserts.
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {rows})")
            raw.commit()
            _say(f"postgres {table:<10} {rows:>11,} rows {time.perf_counter() - started:6.1f} s")
    finally:
        raw.close()

    started = time.perf_counter()
    with engine.begin() as conn:
        for ix in _secondary_indexes():
            ix.create(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    _say(f"postgres indexes + VACUUM ANALYZE {time.perf_counter() - started:6.1f} s "
         f"→ database {POSTGRES_DATABASE}, schema {schema}")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_engine(backend: str, scale: float) -> Engine:
    """An engine on the generated CRM (for the benchmark scripts)."""
    url = sqlite_url(scale) if backend == "sqlite" else postgres_url(scale)
    if backend == "sqlite" and not sqlite_path(scale).exists():
        raise SystemExit(f"No benchmark data at {sqlite_path(scale)}: run "
                         f"python -m benchmarks.generate_crm --scale {scale:g} first.")
    return make_engine(url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = 1M deals, 10M activities")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.scale <= 0:
        parser.error("--scale must be positive")
    sizes = Sizes.at(args.scale)
    _say(f"scale {args.scale:g}: {sizes}")
    started = time.perf_counter()
    if args.backend in ("sqlite", "both"):
        load_sqlite(args.scale, args.seed)
    if args.backend in ("postgres", "both"):
        load_postgres(args.scale, args.seed)
    _say(f"done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
