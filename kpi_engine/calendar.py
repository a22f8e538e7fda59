"""The workspace calendar: time zone, first day of the week and first month of the fiscal year.

Period arithmetic happens on local calendar dates; `Calendar.midnight` turns a local date into
an aware instant. Differences between instants are always taken in UTC, because Python compares
and subtracts two datetimes with the *same* tzinfo by wall clock, which is wrong across DST.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from kpi_engine.config import EngineSettings
from kpi_engine.errors import InvalidInputError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
GRAINS = ("day", "week", "month", "quarter", "year")
UTC = dt.UTC


@dataclass(frozen=True)
class Calendar:
    """How the workspace reads dates."""

    timezone: ZoneInfo
    week_start: int = 0  # 0 = Monday ... 6 = Sunday
    fiscal_year_start_month: int = 1  # 4 = fiscal years run April to March

    def __post_init__(self) -> None:
        if not 0 <= self.week_start <= 6:
            raise InvalidInputError(
                f"week_start must be 0 (Monday) .. 6 (Sunday), not {self.week_start}"
            )
        if not 1 <= self.fiscal_year_start_month <= 12:
            raise InvalidInputError(
                f"fiscal_year_start_month must be 1..12, not {self.fiscal_year_start_month}"
            )

    @classmethod
    def from_settings(cls, settings: EngineSettings) -> Calendar:
        """The calendar set by KPIBOT_TIMEZONE, _WEEK_START and _FISCAL_YEAR_START_MONTH."""
        return cls(
            timezone=zone(settings.timezone),
            week_start=WEEKDAYS.index(settings.week_start.lower()),
            fiscal_year_start_month=settings.fiscal_year_start_month,
        )

    @classmethod
    def utc(cls) -> Calendar:
        return cls(ZoneInfo("UTC"))

    # --- instants ------------------------------------------------------------------------------

    def midnight(self, day: dt.date) -> dt.datetime:
        """The instant local `day` begins (if DST skips midnight, the first real instant)."""
        return self.localize(dt.datetime(day.year, day.month, day.day))

    def localize(self, wall: dt.datetime) -> dt.datetime:
        """A naive local wall-clock time as an aware instant in the workspace zone."""
        # The UTC round trip maps a wall time inside a DST gap onto a real instant.
        return wall.replace(tzinfo=self.timezone).astimezone(UTC).astimezone(self.timezone)

    def local(self, instant: dt.datetime) -> dt.datetime:
        """An instant in the workspace zone (naive datetimes are read as UTC, like the database)."""
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(self.timezone)

    def today(self, now: dt.datetime) -> dt.date:
        return self.local(now).date()

    # --- calendar units ------------------------------------------------------------------------

    def week_of(self, day: dt.date) -> dt.date:
        """The first day of the week containing `day`."""
        return day - dt.timedelta(days=(day.weekday() - self.week_start) % 7)

    def quarter_of(self, day: dt.date) -> dt.date:
        """The first day of the (fiscal) quarter containing `day`."""
        months_in = (day.month - self.fiscal_year_start_month) % 3
        return day.replace(day=1) - relativedelta(months=months_in)

    def year_of(self, day: dt.date) -> dt.date:
        """The first day of the (fiscal) year containing `day`."""
        months_in = (day.month - self.fiscal_year_start_month) % 12
        return day.replace(day=1) - relativedelta(months=months_in)

    def floor(self, day: dt.date, grain: str) -> dt.date:
        """The first day of the `grain` bucket containing `day`."""
        if grain == "day":
            return day
        if grain == "week":
            return self.week_of(day)
        if grain == "month":
            return day.replace(day=1)
        if grain == "quarter":
            return self.quarter_of(day)
        if grain == "year":
            return self.year_of(day)
        raise InvalidInputError(f"Unknown grain '{grain}': use one of {', '.join(GRAINS)}.")

    def fiscal_year(self, day: dt.date) -> int:
        """The fiscal year containing `day`, named by the calendar year in which it ends."""
        start = self.year_of(day)
        return start.year if self.fiscal_year_start_month == 1 else start.year + 1

    def fiscal_quarter(self, day: dt.date) -> int:
        """1..4: the fiscal quarter containing `day`."""
        return (day.month - self.fiscal_year_start_month) % 12 // 3 + 1

    def fiscal_year_start(self, fiscal_year: int) -> dt.date:
        """The first day of fiscal year `fiscal_year` (named by the year it ends in)."""
        if self.fiscal_year_start_month == 1:
            return dt.date(fiscal_year, 1, 1)
        return dt.date(fiscal_year - 1, self.fiscal_year_start_month, 1)

    def quarter_start(self, fiscal_year: int, quarter: int) -> dt.date:
        return self.fiscal_year_start(fiscal_year) + relativedelta(months=3 * (quarter - 1))


def step(grain: str, count: int = 1) -> relativedelta:
    """`count` calendar units of `grain` (a week is 7 local days, whatever DST does)."""
    if grain == "day":
        return relativedelta(days=count)
    if grain == "week":
        return relativedelta(weeks=count)
    if grain == "month":
        return relativedelta(months=count)
    if grain == "quarter":
        return relativedelta(months=3 * count)
    if grain == "year":
        return relativedelta(years=count)
    raise InvalidInputError(f"Unknown grain '{grain}': use one of {', '.join(GRAINS)}.")


def zone(name: str) -> ZoneInfo:
    """A time zone by IANA name, with a clear error for a wrong one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInputError(
            f"Unknown time zone '{name}': use an IANA name such as 'Europe/Paris' or "
            "'America/New_York'."
        ) from error
