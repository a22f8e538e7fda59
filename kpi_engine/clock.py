"""The injected clock: relative periods resolve against it, never against `datetime.now()`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current instant, time-zone aware."""
        ...


@dataclass(frozen=True)
class SystemClock:
    tz: ZoneInfo

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)


@dataclass(frozen=True)
class FixedClock:
    """A frozen instant: for tests and for historical data sets (`KPIBOT_NOW`)."""

    instant: dt.datetime
    tz: ZoneInfo

    def now(self) -> dt.datetime:
        if self.instant.tzinfo is None:
            return self.instant.replace(tzinfo=self.tz)
        return self.instant.astimezone(self.tz)


def clock_from_settings(now: dt.datetime | None, timezone: str) -> Clock:
    tz = ZoneInfo(timezone)
    return FixedClock(now, tz) if now is not None else SystemClock(tz)


def naive_utc(instant: dt.datetime) -> dt.datetime:
    """The instant as the database stores it: UTC without a zone (naive input is UTC already)."""
    return instant.astimezone(dt.UTC).replace(tzinfo=None) if instant.tzinfo else instant
