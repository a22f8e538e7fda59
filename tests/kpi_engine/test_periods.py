"""Periods and calendars: every phrase, time zones, DST, year ends, week starts, fiscal years.

Expected values are written out by hand from a wall calendar and the published UTC offsets,
never computed with the code under test.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kpi_engine.calendar import Calendar
from kpi_engine.clock import FixedClock
from kpi_engine.config import EngineSettings
from kpi_engine.errors import InvalidPeriodError
from kpi_engine.periods import EXAMPLES, Period, parse_period

D = dt.date
T = dt.datetime


def resolve(
    text: str, now: dt.datetime, tz: str = "UTC", week_start: int = 0, fiscal: int = 1
) -> Period:
    zone = ZoneInfo(tz)
    return parse_period(text, FixedClock(now, zone), Calendar(zone, week_start, fiscal))


def local_days(period: Period) -> tuple[dt.date, dt.date]:
    """First day and exclusive end day, in the period's own zone; both must be local midnights."""
    for instant in (period.start, period.end):
        assert (instant.hour, instant.minute) == (0, 0), instant
    return period.start.date(), period.end.date()


# Thursday 5 March 2026, 14:00 (UTC calendar, weeks start on Monday, fiscal = calendar year).
NOW = T(2026, 3, 5, 14, 0)

PHRASES = [
    ("today", D(2026, 3, 5), D(2026, 3, 6), "day"),
    ("Today?", D(2026, 3, 5), D(2026, 3, 6), "day"),
    ("yesterday", D(2026, 3, 4), D(2026, 3, 5), "day"),
    ("this week", D(2026, 3, 2), D(2026, 3, 9), "week"),
    ("last week", D(2026, 2, 23), D(2026, 3, 2), "week"),
    ("previous week", D(2026, 2, 23), D(2026, 3, 2), "week"),
    ("this month", D(2026, 3, 1), D(2026, 4, 1), "month"),
    ("last month", D(2026, 2, 1), D(2026, 3, 1), "month"),
    ("this quarter", D(2026, 1, 1), D(2026, 4, 1), "quarter"),
    ("last quarter", D(2025, 10, 1), D(2026, 1, 1), "quarter"),
    ("this year", D(2026, 1, 1), D(2027, 1, 1), "year"),
    ("last year", D(2025, 1, 1), D(2026, 1, 1), "year"),
    ("MTD", D(2026, 3, 1), D(2026, 4, 1), "month"),
    ("month to date", D(2026, 3, 1), D(2026, 4, 1), "month"),
    ("month-to-date", D(2026, 3, 1), D(2026, 4, 1), "month"),
    ("QTD", D(2026, 1, 1), D(2026, 4, 1), "quarter"),
    ("quarter to date", D(2026, 1, 1), D(2026, 4, 1), "quarter"),
    ("YTD", D(2026, 1, 1), D(2027, 1, 1), "year"),
    ("year so far", D(2026, 1, 1), D(2027, 1, 1), "year"),
    ("WTD", D(2026, 3, 2), D(2026, 3, 9), "week"),
    # Rolling windows: the N units ending today, today included.
    ("last 7 days", D(2026, 2, 27), D(2026, 3, 6), None),
    ("last seven days", D(2026, 2, 27), D(2026, 3, 6), None),
    ("past 30 days", D(2026, 2, 4), D(2026, 3, 6), None),
    ("last 1 day", D(2026, 3, 5), D(2026, 3, 6), None),
    ("last 2 weeks", D(2026, 2, 20), D(2026, 3, 6), None),
    ("last 3 months", D(2025, 12, 6), D(2026, 3, 6), None),
    ("trailing 12 months", D(2025, 3, 6), D(2026, 3, 6), None),
    ("past week", D(2026, 2, 27), D(2026, 3, 6), None),
    # Named months: a bare month is the most recent one that has begun.
    ("March", D(2026, 3, 1), D(2026, 4, 1), "month"),
    ("in February", D(2026, 2, 1), D(2026, 3, 1), "month"),
    ("April", D(2025, 4, 1), D(2025, 5, 1), "month"),
    ("Dec", D(2025, 12, 1), D(2026, 1, 1), "month"),
    ("March 2017", D(2017, 3, 1), D(2017, 4, 1), "month"),
    ("sept 2016", D(2016, 9, 1), D(2016, 10, 1), "month"),
    ("2017-03", D(2017, 3, 1), D(2017, 4, 1), "month"),
    # Quarters.
    ("Q1", D(2026, 1, 1), D(2026, 4, 1), "quarter"),
    ("Q3", D(2025, 7, 1), D(2025, 10, 1), "quarter"),
    ("Q3 2017", D(2017, 7, 1), D(2017, 10, 1), "quarter"),
    ("2017 Q3", D(2017, 7, 1), D(2017, 10, 1), "quarter"),
    ("2017-Q4", D(2017, 10, 1), D(2018, 1, 1), "quarter"),
    ("q2 of 2016", D(2016, 4, 1), D(2016, 7, 1), "quarter"),
    # Years.
    ("2017", D(2017, 1, 1), D(2018, 1, 1), "year"),
    ("FY2017", D(2017, 1, 1), D(2018, 1, 1), "year"),
    ("fy 2017", D(2017, 1, 1), D(2018, 1, 1), "year"),
    # Days and explicit ranges (the end date is included).
    ("2017-03-05", D(2017, 3, 5), D(2017, 3, 6), "day"),
    ("on March 3rd", D(2026, 3, 3), D(2026, 3, 4), "day"),
    ("7 March", D(2025, 3, 7), D(2025, 3, 8), "day"),
    ("1 March 2017", D(2017, 3, 1), D(2017, 3, 2), "day"),
    ("2017-03-01 to 2017-03-31", D(2017, 3, 1), D(2017, 4, 1), None),
    ("from 2017-03-01 until 2017-03-31", D(2017, 3, 1), D(2017, 4, 1), None),
    ("between 2017-01-01 and 2017-01-31", D(2017, 1, 1), D(2017, 2, 1), None),
    ("2017-01-01 - 2017-01-07", D(2017, 1, 1), D(2017, 1, 8), None),
    ("March 2017 to May 2017", D(2017, 3, 1), D(2017, 6, 1), None),
    ("Q1 2017 to Q2 2017", D(2017, 1, 1), D(2017, 7, 1), None),
    ("Dec 1 to Jan 15", D(2025, 12, 1), D(2026, 1, 16), None),
    ("March 1 to today", D(2026, 3, 1), D(2026, 3, 6), None),
    ("since March 1", D(2026, 3, 1), D(2026, 3, 6), None),
    ("since 1 Dec", D(2025, 12, 1), D(2026, 3, 6), None),
    ("since 2017-03-01", D(2017, 3, 1), D(2026, 3, 6), None),
    ("from Feb 2", D(2026, 2, 2), D(2026, 3, 6), None),
    ("the week of 2026-02-11", D(2026, 2, 9), D(2026, 2, 16), "week"),
    ("week of March 1", D(2026, 2, 23), D(2026, 3, 2), "week"),
]


@pytest.mark.parametrize(("text", "first", "end", "grain"), PHRASES, ids=[p[0] for p in PHRASES])
def test_every_phrase(text: str, first: dt.date, end: dt.date, grain: str | None) -> None:
    period = resolve(text, NOW)
    assert local_days(period) == (first, end)
    assert period.grain == grain
    assert period.as_of == NOW.replace(tzinfo=ZoneInfo("UTC"))
    # The label names the dates so the user can check what was understood.
    assert str(period.first_day().year) in period.label


LABELS = [
    ("this week", "this week (Mon 2 Mar – Sun 8 Mar 2026)"),
    ("last month", "last month (February 2026)"),
    ("last quarter", "last quarter (Q4 2025: 1 Oct – 31 Dec 2025)"),
    ("today", "today (Thu 5 Mar 2026)"),
    ("last 30 days", "last 30 days (4 Feb – 5 Mar 2026)"),
    ("March 2017", "March 2017"),
    ("since March 1", "since Sun 1 Mar 2026"),
    ("Dec 1 to Jan 15", "1 Dec 2025 – 15 Jan 2026"),
]


@pytest.mark.parametrize(("text", "label"), LABELS)
def test_labels(text: str, label: str) -> None:
    assert resolve(text, NOW).label == label


# --- time zones: the same phrase, the same wall-clock instant, different UTC bounds ------------

ZONES = [
    # zone, now (local wall clock), phrase, expected naive-UTC (start, end of the whole period)
    ("UTC", T(2026, 3, 5, 14), "this month", T(2026, 3, 1), T(2026, 4, 1)),
    ("America/New_York", T(2026, 3, 5, 14), "this month", T(2026, 3, 1, 5), T(2026, 4, 1, 4)),
    ("Asia/Kolkata", T(2026, 3, 5, 14), "this month", T(2026, 2, 28, 18, 30),
     T(2026, 3, 31, 18, 30)),
    # Sydney is on summer time (UTC+11) until Sun 5 Apr 2026, then UTC+10.
    ("Australia/Sydney", T(2026, 3, 5, 14), "this month", T(2026, 2, 28, 13), T(2026, 3, 31, 13)),
    ("Australia/Sydney", T(2026, 4, 15, 9), "this month", T(2026, 3, 31, 13), T(2026, 4, 30, 14)),
    ("America/New_York", T(2026, 3, 5, 14), "today", T(2026, 3, 5, 5), T(2026, 3, 6, 5)),
    ("Asia/Kolkata", T(2026, 3, 5, 2), "yesterday", T(2026, 3, 3, 18, 30), T(2026, 3, 4, 18, 30)),
    ("Australia/Sydney", T(2026, 1, 1, 8), "last year", T(2024, 12, 31, 13), T(2025, 12, 31, 13)),
]


@pytest.mark.parametrize(("tz", "now", "text", "start", "end"), ZONES)
def test_bounds_across_time_zones(
    tz: str, now: dt.datetime, text: str, start: dt.datetime, end: dt.datetime
) -> None:
    period = resolve(text, now, tz)
    assert period.full_utc_bounds() == (start, end)
    assert period.timezone == tz


def test_the_clock_instant_is_read_in_the_workspace_zone() -> None:
    # 2026-03-05 20:00 UTC is already Friday 6 March in Kolkata and Sydney.
    instant = T(2026, 3, 5, 20, tzinfo=dt.UTC)
    assert resolve("today", instant, "Asia/Kolkata").start.date() == D(2026, 3, 6)
    assert resolve("today", instant, "Australia/Sydney").start.date() == D(2026, 3, 6)
    assert resolve("today", instant, "America/New_York").start.date() == D(2026, 3, 5)


def test_utc_bounds_stop_at_as_of() -> None:
    period = resolve("this month", T(2026, 3, 5, 14), "America/New_York")
    # 14:00 New York (EST, UTC-5) is 19:00 UTC.
    assert period.utc_bounds() == (T(2026, 3, 1, 5), T(2026, 3, 5, 19))
    assert period.query_end == T(2026, 3, 5, 14, tzinfo=ZoneInfo("America/New_York"))


# --- DST: weeks are seven local days, not 168 hours ----------------------------------------

DST_WEEKS = [
    # US spring forward: Sun 8 Mar 2026 02:00 -> 03:00.
    ("America/New_York", T(2026, 3, 6, 12), 167, T(2026, 3, 2, 5), T(2026, 3, 9, 4)),
    # US fall back: Sun 1 Nov 2026.
    ("America/New_York", T(2026, 10, 28, 12), 169, T(2026, 10, 26, 4), T(2026, 11, 2, 5)),
    # Sydney summer time ends Sun 5 Apr 2026 and starts Sun 4 Oct 2026.
    ("Australia/Sydney", T(2026, 4, 2, 12), 169, T(2026, 3, 29, 13), T(2026, 4, 5, 14)),
    ("Australia/Sydney", T(2026, 10, 1, 12), 167, T(2026, 9, 27, 14), T(2026, 10, 4, 13)),
    # Kolkata has no DST.
    ("Asia/Kolkata", T(2026, 3, 6, 12), 168, T(2026, 3, 1, 18, 30), T(2026, 3, 8, 18, 30)),
]


@pytest.mark.parametrize(("tz", "now", "hours", "start", "end"), DST_WEEKS)
def test_weeks_across_dst_changes(
    tz: str, now: dt.datetime, hours: int, start: dt.datetime, end: dt.datetime
) -> None:
    period = resolve("this week", now, tz)
    assert period.duration == dt.timedelta(hours=hours)
    assert period.full_utc_bounds() == (start, end)
    assert local_days(period)[1] - local_days(period)[0] == dt.timedelta(days=7)


def test_elapsed_fraction_counts_real_hours_across_dst() -> None:
    # Wednesday noon New York in the spring-forward week: Mon 00:00 EST .. Wed 12:00 EST = 60 h.
    period = resolve("this week", T(2026, 3, 4, 12), "America/New_York")
    assert period.elapsed_fraction == pytest.approx(60 / 167)
    # Sunday noon, after the jump: 6 days * 24 + 12 - 1 = 155 real hours.
    period = resolve("this week", T(2026, 3, 8, 12), "America/New_York")
    assert period.elapsed_fraction == pytest.approx(155 / 167)


# --- year ends, week starts, fiscal years -------------------------------------------------

CALENDARS = [
    # now, week_start, fiscal start month, phrase, first day, end day
    (T(2026, 1, 2, 9), 0, 1, "this week", D(2025, 12, 29), D(2026, 1, 5)),
    (T(2026, 1, 2, 9), 0, 1, "last week", D(2025, 12, 22), D(2025, 12, 29)),
    (T(2026, 1, 5, 9), 0, 1, "last week", D(2025, 12, 29), D(2026, 1, 5)),
    (T(2026, 1, 15, 9), 0, 1, "last quarter", D(2025, 10, 1), D(2026, 1, 1)),
    (T(2026, 1, 15, 9), 0, 1, "last month", D(2025, 12, 1), D(2026, 1, 1)),
    (T(2026, 1, 1, 0), 0, 1, "yesterday", D(2025, 12, 31), D(2026, 1, 1)),
    (T(2026, 1, 1, 0), 0, 1, "YTD", D(2026, 1, 1), D(2027, 1, 1)),
    # Week starts: Wednesday 4 March 2026.
    (T(2026, 3, 4, 9), 0, 1, "this week", D(2026, 3, 2), D(2026, 3, 9)),
    (T(2026, 3, 4, 9), 6, 1, "this week", D(2026, 3, 1), D(2026, 3, 8)),
    (T(2026, 3, 4, 9), 6, 1, "last week", D(2026, 2, 22), D(2026, 3, 1)),
    (T(2026, 3, 1, 9), 6, 1, "this week", D(2026, 3, 1), D(2026, 3, 8)),
    (T(2026, 3, 1, 9), 0, 1, "this week", D(2026, 2, 23), D(2026, 3, 2)),
    (T(2026, 3, 7, 9), 5, 1, "WTD", D(2026, 3, 7), D(2026, 3, 14)),
    # Fiscal year from April; fiscal years are named by the year they end in.
    (T(2026, 5, 10, 9), 0, 4, "this quarter", D(2026, 4, 1), D(2026, 7, 1)),
    (T(2026, 5, 10, 9), 0, 4, "Q1", D(2026, 4, 1), D(2026, 7, 1)),
    (T(2026, 5, 10, 9), 0, 4, "last quarter", D(2026, 1, 1), D(2026, 4, 1)),
    (T(2026, 5, 10, 9), 0, 4, "Q4", D(2026, 1, 1), D(2026, 4, 1)),
    (T(2026, 5, 10, 9), 0, 4, "Q2", D(2025, 7, 1), D(2025, 10, 1)),
    (T(2026, 5, 10, 9), 0, 4, "this year", D(2026, 4, 1), D(2027, 4, 1)),
    (T(2026, 5, 10, 9), 0, 4, "last year", D(2025, 4, 1), D(2026, 4, 1)),
    (T(2026, 5, 10, 9), 0, 4, "YTD", D(2026, 4, 1), D(2027, 4, 1)),
    (T(2026, 5, 10, 9), 0, 4, "FY2026", D(2025, 4, 1), D(2026, 4, 1)),
    (T(2026, 5, 10, 9), 0, 4, "Q3 2017", D(2016, 10, 1), D(2017, 1, 1)),
    (T(2026, 5, 10, 9), 0, 4, "2017", D(2017, 1, 1), D(2018, 1, 1)),
    (T(2026, 2, 10, 9), 0, 4, "this quarter", D(2026, 1, 1), D(2026, 4, 1)),
    (T(2026, 2, 10, 9), 0, 4, "this year", D(2025, 4, 1), D(2026, 4, 1)),
    (T(2026, 11, 10, 9), 0, 10, "this quarter", D(2026, 10, 1), D(2027, 1, 1)),
    (T(2026, 11, 10, 9), 0, 10, "this year", D(2026, 10, 1), D(2027, 10, 1)),
    (T(2026, 11, 10, 9), 0, 10, "Q1", D(2026, 10, 1), D(2027, 1, 1)),
]


@pytest.mark.parametrize(("now", "week_start", "fiscal", "text", "first", "end"), CALENDARS)
def test_year_ends_week_starts_and_fiscal_years(
    now: dt.datetime, week_start: int, fiscal: int, text: str, first: dt.date, end: dt.date
) -> None:
    period = resolve(text, now, "UTC", week_start, fiscal)
    assert local_days(period) == (first, end)


def test_fiscal_labels_name_the_fiscal_year() -> None:
    period = resolve("this quarter", T(2026, 5, 10), fiscal=4)
    assert period.label == "this quarter (Q1 FY2027: 1 Apr – 30 Jun 2026)"
    # A calendar year that is not a fiscal year is a custom span, not a "year" grain.
    assert resolve("2017", T(2026, 5, 10), fiscal=4).grain is None


def test_period_containing_a_day() -> None:
    from kpi_engine.periods import period_containing

    clock, calendar = FixedClock(NOW, ZoneInfo("UTC")), Calendar(ZoneInfo("UTC"), 0, 4)
    quarter = period_containing(D(2026, 2, 14), "quarter", clock, calendar)
    assert local_days(quarter) == (D(2026, 1, 1), D(2026, 4, 1))
    assert quarter.label == "Q4 FY2026: 1 Jan – 31 Mar 2026"
    week = period_containing(D(2026, 1, 1), "week", clock, calendar)
    assert local_days(week) == (D(2025, 12, 29), D(2026, 1, 5))


def test_calendar_from_settings() -> None:
    settings = EngineSettings(
        timezone="Asia/Kolkata", week_start="Sunday", fiscal_year_start_month=4
    )
    calendar = Calendar.from_settings(settings)
    assert calendar == Calendar(ZoneInfo("Asia/Kolkata"), 6, 4)


# --- previous() and last_year() -------------------------------------------------------------

SHIFTS = [
    # now, phrase, "previous" | "last_year", first day, end day, as_of (naive UTC)
    (T(2026, 3, 20, 9), "last month", "previous", D(2026, 1, 1), D(2026, 2, 1), T(2026, 3, 20, 9)),
    (T(2026, 3, 20, 9), "last month", "last_year", D(2025, 2, 1), D(2025, 3, 1), T(2026, 3, 20, 9)),
    (T(2026, 3, 20, 9), "last week", "previous", D(2026, 3, 2), D(2026, 3, 9), T(2026, 3, 20, 9)),
    # A week last year is 52 weeks earlier so that it starts on a Monday too.
    (T(2026, 3, 20, 9), "last week", "last_year", D(2025, 3, 10), D(2025, 3, 17),
     T(2026, 3, 20, 9)),
    (T(2026, 3, 20, 9), "Q4 2025", "previous", D(2025, 7, 1), D(2025, 10, 1), T(2026, 3, 20, 9)),
    (T(2026, 3, 20, 9), "2025", "previous", D(2024, 1, 1), D(2025, 1, 1), T(2026, 3, 20, 9)),
    # 29 February: last year's same day is 28 February; a leap-day period ends on 1 March.
    (T(2024, 3, 5, 9), "2024-02-29", "last_year", D(2023, 2, 28), D(2023, 3, 1), T(2024, 3, 5, 9)),
    (T(2024, 3, 5, 9), "February", "last_year", D(2023, 2, 1), D(2023, 3, 1), T(2024, 3, 5, 9)),
    (T(2025, 3, 5, 9), "February", "last_year", D(2024, 2, 1), D(2024, 3, 1), T(2025, 3, 5, 9)),
    (T(2024, 3, 5, 9), "2024-02-01 to 2024-02-29", "last_year", D(2023, 2, 1), D(2023, 3, 1),
     T(2024, 3, 5, 9)),
    # Partial periods: MTD on 10 March at 14:00 compares with 1-10 February up to 14:00.
    (T(2026, 3, 10, 14), "MTD", "previous", D(2026, 2, 1), D(2026, 3, 1), T(2026, 2, 10, 14)),
    (T(2026, 3, 10, 14), "MTD", "last_year", D(2025, 3, 1), D(2025, 4, 1), T(2025, 3, 10, 14)),
    # ... capped at the end of a shorter month: 30 days of March vs all of February.
    (T(2026, 3, 31, 12), "MTD", "previous", D(2026, 2, 1), D(2026, 3, 1), T(2026, 3, 1)),
    # Leap day, partial: today on 29 Feb 2024 vs 28 Feb 2023 at the same hour.
    (T(2024, 2, 29, 15), "today", "last_year", D(2023, 2, 28), D(2023, 3, 1), T(2023, 2, 28, 15)),
    (T(2026, 5, 10, 12), "QTD", "previous", D(2026, 1, 1), D(2026, 4, 1), T(2026, 2, 9, 12)),
    (T(2026, 3, 5, 14), "today", "previous", D(2026, 3, 4), D(2026, 3, 5), T(2026, 3, 4, 14)),
    (T(2026, 3, 5, 14), "last 7 days", "previous", D(2026, 2, 20), D(2026, 2, 27),
     T(2026, 2, 26, 14)),
    (T(2026, 3, 5, 14), "2026-01-01 to 2026-01-10", "previous", D(2025, 12, 22), D(2026, 1, 1),
     T(2026, 3, 5, 14)),
]


@pytest.mark.parametrize(("now", "text", "which", "first", "end", "as_of"), SHIFTS)
def test_previous_and_last_year(
    now: dt.datetime, text: str, which: str, first: dt.date, end: dt.date, as_of: dt.datetime
) -> None:
    period = resolve(text, now)
    shifted = period.previous() if which == "previous" else period.last_year()
    assert local_days(shifted) == (first, end)
    assert shifted.as_of == as_of.replace(tzinfo=ZoneInfo("UTC"))
    assert shifted.grain == period.grain


def test_previous_keeps_local_midnights_across_dst() -> None:
    # The week after spring forward, in New York: its previous week is 167 hours long.
    period = resolve("this week", T(2026, 3, 12, 9), "America/New_York")
    previous = period.previous()
    assert previous.full_utc_bounds() == (T(2026, 3, 2, 5), T(2026, 3, 9, 4))
    # Same elapsed wall-clock time: Thursday 09:00 of that week (EST, UTC-5).
    assert previous.utc_bounds()[1] == T(2026, 3, 5, 14)


def test_days_whose_midnight_dst_skips() -> None:
    # Santiago moves its clocks from 00:00 to 01:00 on Sun 6 Sep 2026: that day starts at 01:00
    # (04:00 UTC) and lasts 23 hours; the day before still starts at midnight.
    day = resolve("yesterday", T(2026, 9, 7, 12), "America/Santiago")
    assert day.full_utc_bounds() == (T(2026, 9, 6, 4), T(2026, 9, 7, 3))
    assert day.duration == dt.timedelta(hours=23)
    assert day.previous().full_utc_bounds() == (T(2026, 9, 5, 4), T(2026, 9, 6, 4))
    assert day.last_year().start.hour == 0


# --- partial periods ----------------------------------------------------------------------

PARTIAL = [
    # now, phrase, is_partial, elapsed fraction (by hand), query end (naive UTC)
    (T(2026, 3, 11), "this month", True, 10 / 31, T(2026, 3, 11)),
    (T(2026, 3, 11), "MTD", True, 10 / 31, T(2026, 3, 11)),
    (T(2026, 3, 11, 6), "today", True, 6 / 24, T(2026, 3, 11, 6)),
    (T(2026, 3, 11), "last month", False, 1.0, T(2026, 3, 1)),
    (T(2026, 3, 11), "last 10 days", True, 9 / 10, T(2026, 3, 11)),
    (T(2026, 3, 11), "2026-05-01 to 2026-05-31", True, 0.0, T(2026, 5, 1)),
    (T(2026, 2, 15), "QTD", True, 45 / 90, T(2026, 2, 15)),
]


@pytest.mark.parametrize(("now", "text", "partial", "fraction", "query_end"), PARTIAL)
def test_partial_periods(
    now: dt.datetime, text: str, partial: bool, fraction: float, query_end: dt.datetime
) -> None:
    period = resolve(text, now)
    assert period.is_partial is partial
    assert period.elapsed_fraction == pytest.approx(fraction)
    assert period.utc_bounds() == (period.full_utc_bounds()[0], query_end)


# --- what cannot be read ----------------------------------------------------------------

INVALID = [
    ("", "can't read the period"),
    ("   ", "can't read the period"),
    ("the day after tomorrow", "can't read the period"),
    ("next week", "can't read the period"),
    ("Q5 2017", "can't read the period"),
    ("2017-02-30", "not a date"),
    ("February 30", "not a date"),
    ("2017-13", "no month 13"),
    ("last 0 days", "at least 1"),
    ("2017-03-31 to 2017-03-01", "end comes before the start"),
    ("since 2099-01-01", "has not come yet"),
    ("foo to bar", "can't read the date 'foo'"),
    ("1066", "out of range"),
    ("last 5000 years", "too far back"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_text_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(InvalidPeriodError) as error:
        resolve(text, NOW)
    assert message in str(error.value)


def test_unreadable_text_suggests_valid_phrasings() -> None:
    with pytest.raises(InvalidPeriodError) as error:
        resolve("fortnight", NOW)
    text = str(error.value)
    for example in ("this week", "last month", "MTD", "last 30 days", "Q3 2017", "since March 1"):
        assert example in text
    # Every suggestion it makes can itself be read.
    for example in EXAMPLES:
        resolve(example, NOW)
