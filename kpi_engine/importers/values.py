"""Parsing single source values; a bad value raises `BadValue` and its row is rejected.

Times are stored as naive UTC. A value with an offset (`+02:00`, `Z`) is converted to UTC;
a value without one, and a date-only value, is read in the workspace time zone (a date
is midnight there) and then converted.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kpi_engine.config import get_settings
from kpi_engine.errors import InvalidInputError

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f"}


class BadValue(ValueError):
    """A value that cannot be read; the message says which and why, for the rejected-row list."""


def workspace_zone(timezone: str | None) -> ZoneInfo:
    name = timezone or get_settings().timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInputError(f"Unknown time zone '{name}'.") from error


def text(value: str | None) -> str | None:
    """The value, or None when blank."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def instant(value: str | None, zone: ZoneInfo, column: str) -> dt.datetime | None:
    """An ISO-8601 date or date-time as naive UTC; None when blank."""
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError as error:
        raise BadValue(f"{column} '{raw}' is not an ISO-8601 date or time "
                       f"(expected e.g. 2017-03-01 or 2017-03-01T14:30:00+02:00)") from error
    if parsed.tzinfo is None:
        # Date-only values land here as midnight: midnight in the workspace zone.
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def is_date_only(value: str | None) -> bool:
    raw = text(value)
    return raw is not None and bool(_DATE_ONLY.match(raw))


def number(value: str | None, column: str) -> float | None:
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = float(raw)
    except ValueError as error:
        raise BadValue(f"{column} '{raw}' is not a number") from error
    if not math.isfinite(parsed):
        raise BadValue(f"{column} '{raw}' is not a finite number")
    return parsed


def integer(value: str | None, column: str) -> int | None:
    parsed = number(value, column)
    if parsed is None:
        return None
    if not parsed.is_integer():
        raise BadValue(f"{column} '{value}' is not a whole number")
    return int(parsed)


def flag(value: str | None, column: str) -> bool | None:
    raw = text(value)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValue(f"{column} '{raw}' is not a yes/no value (expected 1/0, true/false)")


def required(values: dict[str, str], column: str) -> str:
    """The non-blank value of `column`."""
    value = text(values[column])
    if value is None:
        raise BadValue(f"{column} is blank")
    return value


def short_text(value: str | None, column: str, limit: int) -> str | None:
    """A blank-stripped value that fits a VARCHAR(limit) column (PostgreSQL enforces it)."""
    stripped = text(value)
    if stripped is not None and len(stripped) > limit:
        raise BadValue(f"{column} is {len(stripped)} characters long, at most {limit} fit")
    return stripped
