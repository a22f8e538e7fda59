"""`kpibot db …`: schema migrations."""

from __future__ import annotations

import typer

from bot.cli.common import engine

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Create or migrate the database schema (default: to the newest revision)."""
    from kpi_engine.db import migrate  # alembic is slow to import; only this command needs it

    migrate.upgrade(engine(), revision)
    typer.echo(f"Database is at revision {revision}.")
