"""Alembic environment: the URL comes from kpibot settings, or from the caller's connection."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from kpi_engine.config import get_settings
from kpi_engine.db.models import metadata
from kpi_engine.db.session import make_engine


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite can't ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("kpibot migrations run online only: `kpibot db upgrade`.")
run_migrations_online()
