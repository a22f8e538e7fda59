"""SQL pieces the journey queries share, compiled per dialect (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


class epoch_seconds(FunctionElement[float]):
    """Seconds since 1970-01-01 of a naive-UTC timestamp column, as a float.

    SQLite stores timestamps as text, which `julianday` reads with their fractional seconds;
    PostgreSQL's EXTRACT(EPOCH ...) on a timestamp without time zone reads it as UTC.
    """

    type = Float()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_default(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    # EXTRACT returns numeric on PostgreSQL 14+; a float keeps the result a plain float.
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(arg, **kw)}) AS DOUBLE PRECISION)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    (arg,) = element.clauses
    return f"((julianday({compiler.process(arg, **kw)}) - 2440587.5) * 86400.0)"


def seconds_between(later: ColumnElement[Any], earlier: ColumnElement[Any]) -> ColumnElement[float]:
    """`later - earlier` in seconds (NULL when either side is NULL)."""
    return epoch_seconds(later) - epoch_seconds(earlier)
