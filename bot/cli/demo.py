"""`kpibot demo`: seed a synthetic CRM with findings planted in it, then open the local chat."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.common import clock, fail, settings, user_errors
from kpi_engine.config import get_settings
from kpi_engine.db.session import make_engine

if TYPE_CHECKING:
    from kpi_engine.demo import DemoSummary


def demo(
    no_chat: bool = typer.Option(False, "--no-chat", help="Only seed; do not open the chat."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives the same CRM."),
    database: Path | None = typer.Option(
        None, "--database", help="SQLite file to seed (default: KPIBOT_DATABASE_URL)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Add the demo even to a database that holds other data."
    ),
    no_model: bool = typer.Option(
        False, "--no-model", help="Skip training and scoring the lead-scoring model."
    ),
) -> None:
    """Create the demo database (six months of leads, deals and targets up to today) and chat."""
    url = f"sqlite:///{database}" if database is not None else settings().database_url
    with user_errors():
        summary = _seed(url, seed, force)
    for line in summary.lines():
        typer.echo(line)
    if not no_model:
        _train_and_score(url)
    if no_chat:
        return
    if database is not None:
        # The chat reads the configured database: point it at the one just seeded.
        os.environ["KPIBOT_DATABASE_URL"] = url
        get_settings.cache_clear()
    from bot.console import run_chat

    run_chat()


def _seed(url: str, seed: int, force: bool) -> DemoSummary:
    from kpi_engine.db import migrate  # heavy imports only when seeding
    from kpi_engine.demo import NonDemoDataError, seed_demo

    config = settings()
    engine = make_engine(url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        migrate.upgrade(engine)
        summary = seed_demo(
            engine, today=clock().now().date(), seed=seed,
            timezone=config.timezone, fiscal_year_start_month=config.fiscal_year_start_month,
            force=force,
        )
    except NonDemoDataError as error:
        fail(f"{error} To do it anyway: kpibot demo --force.")
    except SQLAlchemyError as error:
        reason = getattr(error, "orig", None) or error
        fail(f"Could not seed the database at {where}: {str(reason).strip()}")
    finally:
        engine.dispose()
    typer.echo(f"Database: {where}")
    return summary


def _train_and_score(url: str) -> None:
    """Give "my top leads?" something to rank: train on the demo's history, score open leads."""
    from kpi_engine.scoring.guard import LeakageGuard
    from kpi_engine.scoring.score import score_open_leads
    from kpi_engine.scoring.train import train_model

    config = settings()
    engine = make_engine(url)
    now = clock().now()
    typer.echo("Training the lead-scoring model on the demo history…")
    try:
        with user_errors():
            result = train_model(engine, config.model_dir, now, LeakageGuard.default(),
                                 interactions=config.lead_model == "interactions")
            scored = score_open_leads(engine, now)
    finally:
        engine.dispose()
    typer.echo(f"Model version {result.version_id} ({result.estimator}): held-out AUC "
               f"{result.test_quality.auc:.3f}; {scored.scored:,} open leads scored.")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
