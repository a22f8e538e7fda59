"""Fresh, migrated databases for tests: a SQLite file, or a private schema on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from kpi_engine.db import migrate
from kpi_engine.db.session import make_engine

POSTGRES_URL = os.environ.get(
    "KPIBOT_TEST_POSTGRES_URL", "postgresql+psycopg://127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgres")


@contextmanager
def fresh_url(backend: str, tmp_dir: Path) -> Iterator[str]:
    """A URL to an empty database that is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / f'kpibot-{uuid.uuid4().hex[:8]}.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        # Each test database is a schema of its own, first on the search path.
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def migrated_engine(backend: str, tmp_dir: Path) -> Iterator[Engine]:
    with fresh_url(backend, tmp_dir) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
