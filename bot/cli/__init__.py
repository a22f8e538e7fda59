"""The `kpibot` command line. Each command group lives in its own module of this package."""

from __future__ import annotations

import typer

from bot.cli import db

app = typer.Typer(
    name="kpibot",
    help="Self-hosted KPI assistant for sales and marketing teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")


def main() -> None:
    app()
