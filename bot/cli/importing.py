"""`kpibot import …`: load CRM exports and sample data into the canonical schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.cli.common import engine, print_json, user_errors

if TYPE_CHECKING:
    from kpi_engine.importers import ImportReport

app = typer.Typer(help="Import CRM exports and event logs.", no_args_is_help=True)

# How many rejected rows to list before summarising the rest.
SHOWN_REJECTIONS = 20

JsonOption = typer.Option(False, "--json", help="Print the report as JSON.")
TimezoneOption = typer.Option(
    None, "--timezone", help="Time zone of date-only and naive values (default KPIBOT_TIMEZONE)."
)


@app.command("maven-crm")
def maven_crm(
    directory: Path = typer.Argument(..., help="Folder with the four Maven CSV files."),
    timezone: str | None = TimezoneOption,
    as_json: bool = JsonOption,
) -> None:
    """The Maven CRM sample: sales teams, accounts, products and the sales pipeline."""
    from kpi_engine.importers import import_maven_crm

    _run(lambda db: import_maven_crm(db, directory, progress=True, timezone=timezone), as_json)


@app.command("xeducation")
def xeducation(
    file: Path = typer.Argument(..., help="Leads.csv"),
    timezone: str | None = TimezoneOption,
    as_json: bool = JsonOption,
) -> None:
    """X Education leads, keyed by Prospect ID, with all their attributes."""
    from kpi_engine.importers import import_xeducation

    _run(lambda db: import_xeducation(db, file, progress=True, timezone=timezone), as_json)


@app.command("olist")
def olist(
    directory: Path = typer.Argument(..., help="Folder with the Olist MQL and closed-deal CSVs."),
    timezone: str | None = TimezoneOption,
    as_json: bool = JsonOption,
) -> None:
    """The Olist marketing funnel: MQLs as leads, closed deals as conversions and won deals."""
    from kpi_engine.importers import import_olist

    _run(lambda db: import_olist(db, directory, progress=True, timezone=timezone), as_json)


@app.command("event-log")
def event_log(
    file: Path = typer.Argument(..., help="Event log CSV, plain or .gz."),
    case: str = typer.Option(..., "--case", help="Case id column."),
    activity: str = typer.Option(..., "--activity", help="Activity column."),
    timestamp: str = typer.Option(..., "--timestamp", help="Timestamp column (ISO-8601)."),
    resource: str | None = typer.Option(None, "--resource", help="Resource column."),
    lifecycle: str | None = typer.Option(
        None, "--lifecycle", help="Lifecycle column (START/COMPLETE…), kept in attributes."
    ),
    name: str | None = typer.Option(None, "--name", help="Process name (default: file stem)."),
    timezone: str | None = TimezoneOption,
    as_json: bool = JsonOption,
) -> None:
    """Any process event log → the stage history of a named process."""
    from kpi_engine.importers import import_event_log

    _run(
        lambda db: import_event_log(
            db, file, case=case, activity=activity, timestamp=timestamp, resource=resource,
            lifecycle=lifecycle, name=name, progress=True, timezone=timezone,
        ),
        as_json,
    )


def _run(action: Callable[..., ImportReport], as_json: bool) -> None:
    from kpi_engine.db import migrate

    db = engine()
    migrate.upgrade(db)  # a new database gets its schema; an up-to-date one is left alone
    with user_errors():
        report = action(db)
    if as_json:
        print_json(report.as_dict())
        return
    typer.echo(report.summary())
    for table in report.tables:
        typer.echo(f"  {table.table}: inserted {table.inserted:,}, updated {table.updated:,}, "
                   f"unchanged {table.unchanged:,}"
                   + (f", deleted {table.deleted:,}" if table.deleted else ""))
    for note in report.notes:
        typer.echo(f"Note: {note}")
    for row in report.rejected_rows[:SHOWN_REJECTIONS]:
        typer.echo(f"Rejected {row.file} line {row.line}: {row.reason}")
    if report.rejected > SHOWN_REJECTIONS:
        typer.echo(f"… and {report.rejected - SHOWN_REJECTIONS:,} more rejected rows "
                   f"(use --json for all).")
