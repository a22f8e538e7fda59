"""Dimensions: the ways a metric can be split or filtered, and how each is reached from a table.

A dimension is a column of the base table or of a table joined to it through foreign keys
(deals → reps → teams). Several alternatives are coalesced: a deal's region is its rep's region,
or else the rep's team's region. Joins are LEFT joins, so rows without an owner still count in
totals (their group is "(none)").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Hop:
    """Follow `column` of the current table to `table.id`; the joined table is called `alias`."""

    column: str
    table: str
    alias: str


@dataclass(frozen=True)
class ColumnPath:
    hops: tuple[Hop, ...]
    column: str

    @property
    def key(self) -> str:
        return ".".join(h.alias for h in self.hops)


@dataclass(frozen=True)
class Dimension:
    name: str
    description: str
    # base table → the paths to coalesce, first non-null wins
    paths: Mapping[str, tuple[ColumnPath, ...]]

    def tables(self) -> tuple[str, ...]:
        return tuple(self.paths)


def _p(column: str, *hops: Hop) -> ColumnPath:
    return ColumnPath(tuple(hops), column)


OWNER = Hop("owner_id", "reps", "owner")
REP = Hop("rep_id", "reps", "rep")
TEAM_OF = {"owner": Hop("team_id", "teams", "owner_team"),
           "rep": Hop("team_id", "teams", "rep_team")}
MANAGER_OF = {"owner": Hop("manager_id", "reps", "owner_manager"),
              "rep": Hop("manager_id", "reps", "rep_manager")}
ACCOUNT = Hop("account_id", "accounts", "account")
PRODUCT = Hop("product_id", "products", "product")
LEAD = Hop("lead_id", "leads", "lead")


def _people(person: Hop) -> dict[str, tuple[ColumnPath, ...]]:
    """rep / team / manager / region, reached through the row's person (owner or rep)."""
    team, manager = TEAM_OF[person.alias], MANAGER_OF[person.alias]
    return {
        "rep": (_p("name", person),),
        "team": (_p("name", person, team),),
        "manager": (_p("name", person, manager),),
        "region": (_p("region", person), _p("region", person, team)),
    }


def _build() -> dict[str, Dimension]:
    deals = _people(OWNER) | {
        "product": (_p("name", PRODUCT),),
        "product_series": (_p("series", PRODUCT),),
        "account": (_p("name", ACCOUNT),),
        "sector": (_p("sector", ACCOUNT), _p("industry", LEAD)),
        "country": (_p("country", ACCOUNT), _p("country", LEAD)),
        "stage": (_p("stage"),),
        "source": (_p("source", LEAD),),
        "channel": (_p("channel", LEAD),),
        "segment": (_p("segment", LEAD),),
        "lead_type": (_p("lead_type", LEAD),),
    }
    leads = _people(OWNER) | {
        "source": (_p("source"),),
        "channel": (_p("channel"),),
        "landing_page": (_p("landing_page"),),
        "segment": (_p("segment"),),
        "lead_type": (_p("lead_type"),),
        "sector": (_p("sector", ACCOUNT), _p("industry")),
        "country": (_p("country"), _p("country", ACCOUNT)),
        "status": (_p("status"),),
    }
    activities = _people(REP) | {
        "activity_type": (_p("type"),),
        "direction": (_p("direction"),),
    }
    descriptions = {
        "rep": "the sales rep who owns the row",
        "team": "the rep's team",
        "manager": "the rep's manager",
        "region": "the rep's (or team's) region",
        "product": "the product sold",
        "product_series": "the product's series",
        "account": "the customer account",
        "sector": "the account's sector (or the lead's industry)",
        "country": "the account's or lead's country",
        "stage": "the deal's current stage",
        "source": "where the lead came from (marketing source / origin)",
        "channel": "how the lead arrived",
        "landing_page": "the lead's landing page",
        "segment": "the lead's business segment",
        "lead_type": "the lead's type",
        "status": "the lead's status (open / converted / lost)",
        "activity_type": "email, call, meeting, web visit or form",
        "direction": "inbound or outbound",
    }
    by_table = {"deals": deals, "leads": leads, "activities": activities}
    dims: dict[str, dict[str, tuple[ColumnPath, ...]]] = {}
    for table, entries in by_table.items():
        for name, paths in entries.items():
            dims.setdefault(name, {})[table] = paths
    return {
        name: Dimension(name, descriptions[name], MappingProxyType(paths))
        for name, paths in dims.items()
    }


BUILTIN_DIMENSIONS: Mapping[str, Dimension] = MappingProxyType(_build())
