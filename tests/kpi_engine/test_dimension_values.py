"""Filter values are checked against the data: spelled as stored, or a clear error."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, insert

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import load_catalog
from kpi_engine.clock import FixedClock
from kpi_engine.db.models import Account, Deal, Lead, Rep, Team
from kpi_engine.dimension_values import known_values, resolve_filters
from kpi_engine.errors import UnknownNameError
from kpi_engine.periods import parse_period
from kpi_engine.query import query
from kpi_engine.specs import Filter

NOW = dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC)


@pytest.fixture
def crm(db: Engine) -> Engine:
    with db.begin() as conn:
        conn.execute(insert(Team), [{"id": 1, "name": "West", "region": "Pacific"},
                                    {"id": 2, "name": "North", "region": None}])
        conn.execute(insert(Rep), [
            {"id": 1, "source_system": "t", "external_id": "r1", "name": "Ana", "role": "rep",
             "team_id": 1, "region": None},
            {"id": 2, "source_system": "t", "external_id": "r2", "name": "Bo", "role": "rep",
             "team_id": 2, "region": "Nordics"},
        ])
        conn.execute(insert(Account), [{"id": 1, "source_system": "t", "external_id": "a1",
                                        "name": "Acme", "sector": "Retail"}])
        conn.execute(insert(Lead), [
            {"id": i, "source_system": "t", "external_id": f"l{i}", "source": src,
             "industry": "Media", "created_at": dt.datetime(2026, 3, 2 + i), "owner_id": owner,
             "attributes": {}}
            for i, (src, owner) in enumerate([("LinkedIn", 1), ("LinkedIn", 2), ("Referral", 1)])
        ])
        conn.execute(insert(Deal), [{"source_system": "t", "external_id": "d1", "stage": "Won",
                                     "owner_id": 1, "account_id": 1, "amount": 10.0,
                                     "created_at": dt.datetime(2026, 3, 1),
                                     "closed_at": dt.datetime(2026, 3, 3), "is_won": True}])
    return db


def test_values_come_from_every_column_a_dimension_is_read_from(crm: Engine) -> None:
    with crm.connect() as conn:
        assert known_values(conn, "region") == ("Nordics", "Pacific")
        assert known_values(conn, "sector") == ("Media", "Retail")
        assert known_values(conn, "stage") is None  # not checkable: passes through
        # One column, many rows: each value once (a union of one select dropped no duplicate).
        assert known_values(conn, "source") == ("LinkedIn", "Referral")


def test_a_misspelt_value_of_a_busy_column_is_caught(db: Engine) -> None:
    """More leads than MAX_VALUES share a few sources: the values are still few and checked."""
    with db.begin() as conn:
        conn.execute(insert(Lead), [
            {"source_system": "t", "external_id": f"l{i}", "source": ("LinkedIn", "Webinar")[i % 2],
             "created_at": dt.datetime(2026, 3, 2), "attributes": {}} for i in range(2500)])
    with db.connect() as conn, pytest.raises(UnknownNameError, match="Did you mean: LinkedIn"):
        resolve_filters(conn, [Filter("source", ("Linkdin",))])


def test_filter_values_are_matched_case_insensitively(crm: Engine) -> None:
    with crm.connect() as conn:
        resolved = resolve_filters(conn, [Filter("team", ("west",)), Filter("stage", ("won",))])
    assert resolved == (Filter("team", ("West",)), Filter("stage", ("won",)))


def test_an_unknown_value_names_the_closest_ones(crm: Engine) -> None:
    with crm.connect() as conn, pytest.raises(UnknownNameError, match="Did you mean: West"):
        resolve_filters(conn, [Filter("team", ("Wset",))])


def test_a_query_with_a_miscased_filter_counts_the_right_rows(crm: Engine) -> None:
    period = parse_period("this month", FixedClock(NOW, dt.UTC), Calendar.utc())
    result = query(crm, load_catalog(), "leads_created", period,
                   filters=(Filter("source", ("linkedin",)),))
    assert result.total.value == 2
    assert result.request.filters == (Filter("source", ("LinkedIn",)),)
    with pytest.raises(UnknownNameError):
        query(crm, load_catalog(), "leads_created", period, filters=(Filter("team", ("Sout",)),))
