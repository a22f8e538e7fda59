"""What every command shares: settings, the database engine, and how errors reach the user."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from sqlalchemy import Engine

from kpi_engine.config import EngineSettings, get_settings
from kpi_engine.db.session import make_engine
from kpi_engine.errors import KpiUserError

if TYPE_CHECKING:
    from kpi_engine.calendar import Calendar
    from kpi_engine.catalog import Catalog
    from kpi_engine.clock import Clock


def settings() -> EngineSettings:
    return get_settings()


def engine() -> Engine:
    return make_engine(settings().database_url)


def calendar() -> Calendar:
    """The workspace calendar; InvalidInputError for a bad KPIBOT_TIMEZONE."""
    from kpi_engine.calendar import Calendar

    return Calendar.from_settings(settings())


def clock() -> Clock:
    """The clock every command reads "now" from (frozen by KPIBOT_NOW)."""
    from kpi_engine.clock import clock_from_settings

    return clock_from_settings(settings().now, calendar().timezone.key)


def catalog() -> Catalog:
    """The built-in metrics plus KPIBOT_METRICS_DIR."""
    from kpi_engine.catalog import load_catalog

    return load_catalog(settings().metrics_dir)


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn engine user errors into a clear message and a non-zero exit, never a traceback."""
    try:
        yield
    except KpiUserError as error:
        fail(str(error))


def print_json(payload: Any, default: Callable[[Any], Any] = str) -> None:
    json.dump(payload, sys.stdout, indent=2, default=default, ensure_ascii=False)
    sys.stdout.write("\n")
