"""The `kpibot` command line. Each command group lives in its own module of this package."""

from __future__ import annotations

import typer

from bot.cli import ask, db
from bot.cli import demo as demo_cli
from bot.cli import importing as importing_cli
from bot.cli import journey as journey_cli
from bot.cli import kpis as kpis_cli
from bot.cli import metrics as metrics_cli
from bot.cli import scoring as scoring_cli
from bot.cli import why as why_cli
from kpi_engine.errors import KpiUserError

app = typer.Typer(
    name="kpibot",
    help="Self-hosted KPI assistant for sales and marketing teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(importing_cli.app, name="import")
demo_cli.register(app)
ask.register(app)
app.command("why")(why_cli.why)
kpis_cli.register(app)
metrics_cli.register(app)
journey_cli.register(app)
scoring_cli.register(app)


def main() -> None:
    # Settings are read lazily by each command; a bad one is said plainly wherever it is read.
    try:
        app()
    except KpiUserError as error:
        typer.echo(f"Error: {error}", err=True)
        raise SystemExit(2) from None
