"""What every command shares: settings, the database engine, and how errors reach the user."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from sqlalchemy import Engine

from kpi_engine.config import EngineSettings, get_settings
from kpi_engine.db.session import make_engine
from kpi_engine.errors import KpiUserError


def settings() -> EngineSettings:
    return get_settings()


def engine() -> Engine:
    return make_engine(settings().database_url)


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
