"""Periods: "this week", "MTD", "last 30 days", "Q3 2017"... read against an injected clock.

A `Period` is `[start, end)` in the workspace time zone plus `as_of`, the instant it was asked
about: data at or after `as_of` is not counted, so "this month" on the 10th counts ten days of a
month-long period (`is_partial`, `elapsed_fraction` drive pacing).

Conventions (stated in every label, so the user sees the dates):
- "last N days/weeks/months" is the N units ending today, today included and counted up to now.
- "since X" runs from X to now.
- Quarters and "this/last year", YTD, "FY2017" follow the fiscal year; a fiscal year is named by
  the calendar year it ends in (start month 4: FY2026 = Apr 2025 - Mar 2026). A bare "2017" is
  the calendar year.
- A bare month, quarter or date ("March", "Q3", "March 1") is the most recent one that has begun.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta

from kpi_engine.calendar import UTC, Calendar, step
from kpi_engine.clock import Clock
from kpi_engine.errors import InvalidPeriodError

EXAMPLES = (
    "today", "yesterday", "this week", "last week", "this month", "last month", "this quarter",
    "last quarter", "this year", "last year", "MTD", "QTD", "YTD", "last 30 days",
    "last 6 weeks", "last 3 months", "March", "March 2017", "Q3", "Q3 2017", "2017", "FY2017",
    "2017-03-01 to 2017-03-31", "since March 1",
)


@dataclass(frozen=True)
class Period:
    """A span of time asked about, resolved against the clock."""

    start: dt.datetime  # aware, in the calendar's time zone, inclusive
    end: dt.datetime  # aware, exclusive: the end of the whole period ("this month" -> 1st of next)
    as_of: dt.datetime  # aware: the clock's now when resolved; data at/after it is not counted
    label: str  # human: "this week (Mon 2 Mar – Sun 8 Mar 2026)"
    grain: str | None  # "day" | "week" | "month" | "quarter" | "year" | None (custom / last N days)
    # The calendar it was read in (week start, fiscal year), for labels and week buckets.
    calendar: Calendar | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("start", "end", "as_of"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"Period.{name} must be time-zone aware")
        if not _utc(self.start) < _utc(self.end):
            raise InvalidPeriodError(f"The period '{self.label}' ends before it starts.")

    @property
    def query_end(self) -> dt.datetime:
        """min(end, as_of): what queries count up to (never before start)."""
        return max(self.start, min(self.end, self.as_of, key=_utc), key=_utc)

    @property
    def is_partial(self) -> bool:
        """True while the period is not over at `as_of`."""
        return _utc(self.as_of) < _utc(self.end)

    @property
    def is_future(self) -> bool:
        """True when the period has not begun at `as_of` (nothing can be counted yet)."""
        return _utc(self.as_of) <= _utc(self.start)

    @property
    def elapsed_fraction(self) -> float:
        """The share of [start, end) elapsed at `as_of`, in real (UTC) time; 0..1."""
        whole = (_utc(self.end) - _utc(self.start)).total_seconds()
        done = (_utc(self.query_end) - _utc(self.start)).total_seconds()
        return done / whole

    @property
    def duration(self) -> dt.timedelta:
        """The real length of the whole period (a week with a DST change lasts 167 or 169 hours)."""
        return _utc(self.end) - _utc(self.start)

    @property
    def timezone(self) -> str:
        return str(self.start.tzinfo)

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Naive UTC (start, query_end), as the database stores timestamps: `>= start AND < end`."""
        return _naive_utc(self.start), _naive_utc(self.query_end)

    def full_utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Naive UTC (start, end) of the whole period, ignoring `as_of`."""
        return _naive_utc(self.start), _naive_utc(self.end)

    def first_day(self) -> dt.date:
        return self.start.date()

    def last_day(self) -> dt.date:
        """The last local day of the period (inclusive)."""
        return (self.end - dt.timedelta(microseconds=1)).date()

    def previous(self) -> Period:
        """The period just before, of the same length (the previous month for a month).

        For a partial period, the same elapsed length: MTD on the 10th at 14:00 compares with
        the 1st to the 10th at 14:00 of last month (by wall clock, capped at that month's end).
        """
        if self.grain is not None:
            shift = step(self.grain, -1)
        else:
            shift = relativedelta(days=-_whole_days(self))
        return self._shifted(shift)

    def last_year(self) -> Period:
        """The same period one year earlier, with the same elapsed length.

        Days and months move by one calendar year (29 Feb -> 28 Feb); weeks move by 52 weeks so
        that they still start on the workspace's first weekday.
        """
        shift = step("week", -52) if self.grain == "week" else relativedelta(years=-1)
        return self._shifted(shift)

    def _shifted(self, shift: relativedelta) -> Period:
        tz = self.start.tzinfo
        assert tz is not None
        wall_start = _wall(self.start)
        new_wall_start = wall_start + shift
        if self.grain is not None:
            # Whole calendar units: one unit after the new start (Feb 29 -> Feb 28 .. Mar 1).
            new_wall_end = new_wall_start + step(self.grain)
        else:
            new_wall_end = _wall(self.end) + shift
        start, end = _localize(new_wall_start, tz), _localize(new_wall_end, tz)
        label = describe(self.grain, start, end, self.calendar)
        if self.is_partial:
            elapsed = self.query_end.replace(tzinfo=None) - wall_start
            as_of = min(_localize(new_wall_start + elapsed, tz), end, key=_utc)
            if _utc(as_of) < _utc(end):
                label += f", up to {_moment(as_of)}"
        else:
            as_of = self.as_of
        return Period(start, end, as_of, label, self.grain, self.calendar)


def parse_period(text: str, clock: Clock, calendar: Calendar) -> Period:
    """Read a period phrase against `clock` in `calendar`; InvalidPeriodError if unreadable."""
    now = calendar.local(clock.now())
    phrase = _normalize(text)
    if not phrase:
        raise _unreadable(text)
    for pattern, build in _RULES:
        match = pattern.fullmatch(phrase)
        if match:
            return build(_Context(calendar, now), match)
    raise _unreadable(text)


def period_for_dates(
    first_day: dt.date, end_day: dt.date, clock: Clock, calendar: Calendar,
    grain: str | None = None, label: str | None = None,
) -> Period:
    """A period from local dates: `first_day` inclusive to `end_day` exclusive."""
    now = calendar.local(clock.now())
    return _Context(calendar, now).period(first_day, end_day, grain, label)


def period_containing(day: dt.date, grain: str, clock: Clock, calendar: Calendar) -> Period:
    """The whole `grain` period (week, month, fiscal quarter...) that contains local `day`."""
    first = calendar.floor(day, grain)
    return period_for_dates(first, first + step(grain), clock, calendar, grain)


# --- resolution ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    calendar: Calendar
    now: dt.datetime

    @property
    def today(self) -> dt.date:
        return self.now.date()

    def period(
        self, first: dt.date, end: dt.date, grain: str | None, label: str | None = None,
        prefix: str | None = None,
    ) -> Period:
        if end <= first:
            raise InvalidPeriodError(
                f"The period from {_day(first)} to {_day(end - dt.timedelta(days=1))} is empty: "
                "the end comes before the start."
            )
        start_at, end_at = self.calendar.midnight(first), self.calendar.midnight(end)
        if label is None:
            label = describe(grain, start_at, end_at, self.calendar)
        if prefix:
            label = f"{prefix} ({label})"
        return Period(start_at, end_at, self.now, label, grain, self.calendar)

    def unit(self, grain: str, first: dt.date, prefix: str | None = None) -> Period:
        return self.period(first, first + step(grain), grain, prefix=prefix)


def _today(ctx: _Context, _m: re.Match[str]) -> Period:
    return ctx.unit("day", ctx.today, "today")


def _yesterday(ctx: _Context, _m: re.Match[str]) -> Period:
    return ctx.unit("day", ctx.today - dt.timedelta(days=1), "yesterday")


def _this_or_last(ctx: _Context, m: re.Match[str]) -> Period:
    which, grain = m["which"], m["unit"]
    first = ctx.calendar.floor(ctx.today, grain)
    if which in ("last", "previous", "prior"):
        first = first - step(grain)
        word = "last"
    else:
        word = "this"
    return ctx.unit(grain, first, f"{word} {grain}")


def _to_date(ctx: _Context, m: re.Match[str]) -> Period:
    grain = _TO_DATE[m["what"]]
    return ctx.unit(grain, ctx.calendar.floor(ctx.today, grain), f"{grain} to date")


def _rolling(ctx: _Context, m: re.Match[str]) -> Period:
    count = _number(m["n"])
    grain = m["unit"].rstrip("s")
    if count < 1:
        raise InvalidPeriodError(f"'{m[0]}': the number of {grain}s must be at least 1.")
    end = ctx.today + dt.timedelta(days=1)
    try:
        first = end - step(grain, count)
    except (ValueError, OverflowError):
        first = dt.date.min
    if first.year < 1900:
        raise InvalidPeriodError(f"'{m[0]}' reaches too far back (before 1900).")
    unit = grain if count == 1 else f"{count} {grain}s"
    return ctx.period(first, end, None, prefix=f"last {unit}")


def _past_unit(ctx: _Context, m: re.Match[str]) -> Period:
    grain = m["unit"]
    end = ctx.today + dt.timedelta(days=1)
    return ctx.period(end - step(grain), end, None, prefix=f"past {grain}")


def _since(ctx: _Context, m: re.Match[str]) -> Period:
    first = _span(ctx, m["a"], None).first
    end = ctx.today + dt.timedelta(days=1)
    if first >= end:
        raise InvalidPeriodError(f"'{m[0]}': {_day(first)} has not come yet.")
    return ctx.period(first, end, None, label=f"since {_day(first)}")


def _range(ctx: _Context, m: re.Match[str]) -> Period:
    first = _span(ctx, m["a"], None).first
    end = _span(ctx, m["b"], first).end
    return ctx.period(first, end, None)


def _week_of(ctx: _Context, m: re.Match[str]) -> Period:
    first = _span(ctx, m["a"], None).first
    return ctx.unit("week", ctx.calendar.week_of(first), "week of " + _day(first))


def _named(ctx: _Context, m: re.Match[str]) -> Period:
    span = _named_span(ctx, m[0], None)
    if span is None:
        raise _unreadable(m[0])
    return ctx.period(span.first, span.end, span.grain)


# --- named spans: a date, a month, a quarter or a year -----------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")),
        start=1,
    )
    for name in names
}
_MONTH = "(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + ")"
_MONTH_B = _MONTH.replace("?P<month>", "?P<month2>")
_YEAR = r"(?P<year>\d{4})"

_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})")
_DAY_MONTH = re.compile(
    rf"(?:(?P<day>\d{{1,2}}) (?:of )?{_MONTH}|{_MONTH_B} (?P<day2>\d{{1,2}}))(?: {_YEAR})?"
)
_MONTH_YEAR = re.compile(rf"{_MONTH}(?: (?:of )?{_YEAR})?")
_ISO_MONTH = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})")
_QUARTER = re.compile(
    r"q(?P<q>[1-4])(?: (?:fy)?(?P<year>\d{4}))?|(?:fy)?(?P<year2>\d{4}) q(?P<q2>[1-4])"
)
_FISCAL_YEAR = re.compile(r"(?:fy|fiscal year )(?P<year>\d{4})")
_CALENDAR_YEAR = re.compile(rf"(?:calendar year )?{_YEAR}")


@dataclass(frozen=True)
class _Span:
    first: dt.date
    end: dt.date  # exclusive
    grain: str | None


def _span(ctx: _Context, text: str, after: dt.date | None) -> _Span:
    span = _named_span(ctx, text.strip(), after)
    if span is None:
        raise InvalidPeriodError(
            f"I can't read the date '{text.strip()}'. Write dates like 2017-03-01, "
            f"1 March 2017, March 1, March 2017 or Q3 2017; periods like {', '.join(EXAMPLES)}."
        )
    return span


def _named_span(ctx: _Context, text: str, after: dt.date | None) -> _Span | None:
    """A named span as local [first, end) dates, or None if `text` names none.

    Without a year, a span is the most recent one that has begun; as the end of a range
    (`after` given) it is the first one that starts on or after the range's start.
    """
    calendar = ctx.calendar
    if text in ("today", "now"):
        return _Span(ctx.today, ctx.today + dt.timedelta(days=1), "day")
    if text == "yesterday":
        return _Span(ctx.today - dt.timedelta(days=1), ctx.today, "day")
    if m := _ISO_DATE.fullmatch(text):
        first = _date(int(m["year"]), int(m["month"]), int(m["day"]), text)
        return _Span(first, first + dt.timedelta(days=1), "day")
    if m := _DAY_MONTH.fullmatch(text):
        month, day = _MONTHS[m["month"] or m["month2"]], int(m["day"] or m["day2"])
        _date(2000, month, day, text)  # is there such a day at all (2000 is a leap year)?
        year = _year(m["year"])
        first = _date(year, month, day, text) if year else _anchor(
            ctx, after, lambda y: _date_or_none(y, month, day)
        )
        return _Span(first, first + dt.timedelta(days=1), "day")
    if m := _MONTH_YEAR.fullmatch(text):
        month = _MONTHS[m["month"]]
        year = _year(m["year"])
        first = dt.date(year, month, 1) if year else _anchor(
            ctx, after, lambda y: dt.date(y, month, 1)
        )
        return _Span(first, first + step("month"), "month")
    if m := _ISO_MONTH.fullmatch(text):
        month = int(m["month"])
        if not 1 <= month <= 12:
            raise InvalidPeriodError(f"'{text}': there is no month {month}.")
        first = dt.date(_year(m["year"]) or 0, month, 1)
        return _Span(first, first + step("month"), "month")
    if m := _QUARTER.fullmatch(text):
        quarter = int(m["q"] or m["q2"])
        year = _year(m["year"] or m["year2"])
        first = calendar.quarter_start(year, quarter) if year else _anchor(
            ctx, after, lambda y: calendar.quarter_start(y, quarter)
        )
        return _Span(first, first + step("quarter"), "quarter")
    if m := _FISCAL_YEAR.fullmatch(text):
        first = calendar.fiscal_year_start(_year(m["year"]) or 0)
        return _Span(first, first + step("year"), "year")
    if m := _CALENDAR_YEAR.fullmatch(text):
        first = dt.date(_year(m["year"]) or 0, 1, 1)
        # A calendar year is a "year" only when fiscal years are calendar years.
        grain = "year" if calendar.fiscal_year_start_month == 1 else None
        return _Span(first, first + step("year"), grain)
    return None


def _anchor(
    ctx: _Context, after: dt.date | None, candidates: Callable[[int], dt.date | None]
) -> dt.date:
    """The latest occurrence that has begun, or (for a range end) the first on/after `after`."""
    if after is not None:
        for year in range(after.year, after.year + 3):
            found = candidates(year)
            if found is not None and found >= after:
                return found
    # Fiscal quarters are named by the year they end in, so next year's may have begun already.
    for year in range(ctx.today.year + 1, ctx.today.year - 8, -1):
        found = candidates(year)
        if found is not None and found <= ctx.today:
            return found
    raise InvalidPeriodError("That date has not occurred in recent years.")


def _date_or_none(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError as error:
        raise InvalidPeriodError(f"'{text}' is not a date: {error}.") from error


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    year = int(text)
    if not 1900 <= year <= 2200:
        raise InvalidPeriodError(f"The year {year} is out of range (1900-2200).")
    return year


_NUMBER_WORDS = {
    "a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14,
    "thirty": 30, "sixty": 60, "ninety": 90,
}


def _number(text: str) -> int:
    return int(text) if text.isdigit() else _NUMBER_WORDS[text]


_TO_DATE = {
    "wtd": "week", "mtd": "month", "qtd": "quarter", "ytd": "year",
    "week": "week", "month": "month", "quarter": "quarter", "year": "year",
}

_UNIT = r"(?P<unit>day|week|month|quarter|year)"
_NUM = r"(?P<n>\d+|" + "|".join(_NUMBER_WORDS) + ")"
_SEPARATOR = r"(?:to|until|till|through|thru|and|-|–)"

# Tried in order; the first full match builds the period.
_RULES: tuple[tuple[re.Pattern[str], Callable[[_Context, re.Match[str]], Period]], ...] = tuple(
    (re.compile(pattern), build)
    for pattern, build in (
        (r"today|so far today", _today),
        (r"yesterday", _yesterday),
        (rf"(?P<which>this|current|last|previous|prior) (?:fiscal )?{_UNIT}", _this_or_last),
        (r"(?P<what>wtd|mtd|qtd|ytd)", _to_date),
        (r"(?P<what>week|month|quarter|year) to date", _to_date),
        (r"(?:this )?(?P<what>week|month|quarter|year) so far", _to_date),
        (rf"(?:last|past|previous|trailing) {_NUM} {_UNIT}s?", _rolling),
        (rf"past {_UNIT}", _past_unit),
        (r"since (?P<a>.+)", _since),
        (r"week of (?P<a>.+)", _week_of),
        (rf"(?:from |between )?(?P<a>.+?) {_SEPARATOR} (?P<b>.+)", _range),
        (r"from (?P<a>.+)", _since),
        (r".+", _named),
    )
)


def _normalize(text: str) -> str:
    phrase = " ".join(text.lower().replace(",", " ").replace("’", "'").split())
    phrase = re.sub(r"\b(\d{1,2})(?:st|nd|rd|th)\b", r"\1", phrase)
    phrase = re.sub(r"^(?:in|for|during|over|on|of)\s+", "", phrase)
    phrase = re.sub(r"^the\s+", "", phrase)
    phrase = re.sub(r"-to-date\b", " to date", phrase)
    phrase = re.sub(r"\bq([1-4])[-/ ]?(?:of )?(\d{4})\b", r"q\1 \2", phrase)
    phrase = re.sub(r"\b(\d{4})[-/ ]?q([1-4])\b", r"\1 q\2", phrase)
    phrase = re.sub(r"\bfy[- ]?(\d{4})\b", r"fy\1", phrase)
    phrase = re.sub(r"\bfy(\d{2})\b", r"fy20\1", phrase)
    return phrase.strip(" .?!")


def _unreadable(text: str) -> InvalidPeriodError:
    return InvalidPeriodError(
        f"I can't read the period '{text}'. Try for example: {', '.join(EXAMPLES)}."
    )


# --- labels ----------------------------------------------------------------------------------


def describe(
    grain: str | None, start: dt.datetime, end: dt.datetime, calendar: Calendar | None = None
) -> str:
    """Dates of a period in words: "March 2026", "Q1 FY2026 (1 Apr – 30 Jun 2025)"."""
    first, last = start.date(), (end - dt.timedelta(microseconds=1)).date()
    fiscal = calendar is not None and calendar.fiscal_year_start_month != 1
    if grain == "month":
        return f"{first:%B %Y}"
    if grain == "quarter" and calendar is not None:
        name = f"Q{calendar.fiscal_quarter(first)} "
        name += f"FY{calendar.fiscal_year(first)}" if fiscal else str(first.year)
        return f"{name}: {_range_label(first, last)}"
    if grain == "year" and fiscal and calendar is not None:
        return f"FY{calendar.fiscal_year(first)}: {_range_label(first, last)}"
    if grain == "year" and first.month == 1:
        return str(first.year)
    return _range_label(first, last)


def _day(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _moment(instant: dt.datetime) -> str:
    return f"{instant:%a} {instant.day} {instant:%b %H:%M}"


def _range_label(first: dt.date, last: dt.date) -> str:
    if first == last:
        return _day(first)
    short = (last - first).days < 7

    def fmt(day: dt.date, with_year: bool) -> str:
        text = f"{day:%a} {day.day} {day:%b}" if short else f"{day.day} {day:%b}"
        return f"{text} {day.year}" if with_year else text

    return f"{fmt(first, first.year != last.year)} – {fmt(last, True)}"


# --- instants --------------------------------------------------------------------------------


def _utc(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(UTC)


def _naive_utc(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def _localize(wall: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    return wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)


def _wall(instant: dt.datetime) -> dt.datetime:
    """The naive wall-clock time of `instant`; the local midnight for the first instant of a
    day whose midnight DST skips (Santiago's days can start at 01:00)."""
    assert instant.tzinfo is not None
    midnight = dt.datetime.combine(instant.date(), dt.time())
    if _localize(midnight, instant.tzinfo) == instant:
        return midnight
    return instant.replace(tzinfo=None)


def _whole_days(period: Period) -> int:
    """The length of a custom period in local days (rounded: DST days are 23 or 25 hours)."""
    wall = _wall(period.end) - _wall(period.start)
    return max(1, round(wall / dt.timedelta(days=1)))
