"""The values a dimension takes in the data, for checking filters and reading questions.

A filter value is matched case-insensitively against the data ("west" → "West"); a value
the data does not have is a user error with the closest known values, not an empty answer.
Dimensions without lookup columns here (stage, account, …) pass through unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, Connection, select, union

from kpi_engine.db.models import Account, Lead, Product, Rep, Team
from kpi_engine.errors import UnknownNameError
from kpi_engine.specs import Filter

# Where each checkable dimension's values live: every column the catalog may read it from
# (region: the rep's or else the team's; sector: the account's or else the lead's industry).
LOOKUP_COLUMNS: dict[str, tuple[Column[str], ...]] = {
    "team": (Team.__table__.c.name,),
    "region": (Rep.__table__.c.region, Team.__table__.c.region),
    "rep": (Rep.__table__.c.name,),
    "manager": (Rep.__table__.c.name,),
    "product": (Product.__table__.c.name,),
    "product_series": (Product.__table__.c.series,),
    "sector": (Account.__table__.c.sector, Lead.__table__.c.industry),
    "country": (Account.__table__.c.country, Lead.__table__.c.country),
    "source": (Lead.__table__.c.source,),
    "channel": (Lead.__table__.c.channel,),
    "segment": (Lead.__table__.c.segment,),
    "lead_type": (Lead.__table__.c.lead_type,),
}
MAX_VALUES = 2000


def known_values(connection: Connection, dimension: str) -> tuple[str, ...] | None:
    """The distinct values of `dimension` in the data, or None when it is not checkable."""
    columns = LOOKUP_COLUMNS.get(dimension)
    if columns is None:
        return None
    # DISTINCT outside the union too: a union of one select is that select, duplicates and all.
    values = union(*(select(c.label("value")).where(c.is_not(None)) for c in columns)).subquery()
    found = connection.execute(select(values.c.value).distinct().order_by(values.c.value)
                               .limit(MAX_VALUES)).scalars()
    return tuple(str(v) for v in found)


def resolve_filters(connection: Connection, filters: Iterable[Filter]) -> tuple[Filter, ...]:
    """Filters with each value spelled as in the data; UnknownNameError for a value it lacks."""
    resolved = []
    for f in filters:
        known = known_values(connection, f.dimension)
        if known is None or len(known) >= MAX_VALUES:
            resolved.append(f)
            continue
        by_lower = {k.lower(): k for k in known}
        values = []
        for value in f.values:
            match = by_lower.get(value.lower())
            if match is None:
                raise UnknownNameError(f"{f.dimension} value", value, known)
            values.append(match)
        resolved.append(Filter(f.dimension, tuple(values)))
    return tuple(resolved)
