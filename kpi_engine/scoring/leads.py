"""Top leads: open leads ranked by score, with reasons, owner and last touch, per viewer.

Who sees what: a rep sees only their own leads; a manager sees the leads of their team
(the reps of their team and the reps they manage). No viewer means the local operator
of the CLI, who sees everything. The Slack layer passes the asking user as the viewer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from kpi_engine.clock import naive_utc
from kpi_engine.db.models import Activity, Lead, Rep, Team
from kpi_engine.errors import InvalidInputError, UnknownNameError

LEADS = Lead.__table__
REPS = Rep.__table__
TEAMS = Team.__table__
ACTIVITIES = Activity.__table__


@dataclass(frozen=True)
class Viewer:
    rep_id: int
    name: str
    role: str
    team_id: int | None
    team: str | None = None  # the team's name


@dataclass(frozen=True)
class TopLead:
    external_id: str
    score: float | None  # None only on a card of a lead that is not scored
    reasons: list[dict[str, Any]]
    owner: str | None
    source: str | None
    created_at: dt.datetime | None
    last_touch: dt.datetime | None
    days_since_touch: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "external_id": self.external_id, "score": self.score, "owner": self.owner,
            "source": self.source,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "last_touch": self.last_touch.isoformat() if self.last_touch else None,
            "days_since_touch": self.days_since_touch, "reasons": self.reasons,
        }


def find_viewer(engine: Engine, identity: str) -> Viewer:
    """The rep behind a Slack user id or an e-mail address."""
    with engine.connect() as conn:
        row = conn.execute(
            select(REPS, TEAMS.c.name.label("team"))
            .select_from(REPS.outerjoin(TEAMS, TEAMS.c.id == REPS.c.team_id))
            .where(or_(REPS.c.slack_user_id == identity,
                       func.lower(REPS.c.email) == identity.lower()))).mappings().first()
    if row is None:
        raise InvalidInputError(f"No rep with Slack id or e-mail '{identity}'.")
    return Viewer(int(row["id"]), str(row["name"]), str(row["role"]), row["team_id"],
                  row["team"])


def _rep_by_name(conn: Any, name: str) -> int:
    row = conn.execute(select(REPS.c.id).where(func.lower(REPS.c.name) == name.lower())).first()
    if row is None:
        names = [n for (n,) in conn.execute(select(REPS.c.name))]
        raise UnknownNameError("rep", name, names)
    return int(row[0])


def _team_by_name(conn: Any, name: str) -> int:
    row = conn.execute(select(TEAMS.c.id).where(func.lower(TEAMS.c.name) == name.lower())).first()
    if row is None:
        names = [n for (n,) in conn.execute(select(TEAMS.c.name))]
        raise UnknownNameError("team", name, names)
    return int(row[0])


def _known_source(conn: Any, name: str) -> None:
    """A misspelt source would match no lead and read as "nothing to call": say so instead."""
    sources = [v for (v,) in conn.execute(select(LEADS.c.source).distinct()) if v is not None]
    if name.lower() not in {v.lower() for v in sources}:
        raise UnknownNameError("source", name, sources)


def _who_sees(viewer: Viewer) -> str:
    if viewer.role == "manager":
        return "a manager sees their team's leads"
    return "a rep sees only their own leads"


def _visible_owners(conn: Any, viewer: Viewer) -> set[int]:
    if viewer.role != "manager":
        return {viewer.rep_id}
    rows = conn.execute(select(REPS.c.id).where(or_(
        REPS.c.manager_id == viewer.rep_id,
        and_(REPS.c.team_id.is_not(None), REPS.c.team_id == viewer.team_id),
        REPS.c.id == viewer.rep_id,
    )))
    return {int(r[0]) for r in rows}


def top_leads(
    engine: Engine, now: dt.datetime, *, viewer: Viewer | None = None,
    rep: str | None = None, team: str | None = None, everyone: bool = False,
    source: str | None = None, since: dt.date | None = None, min_score: float | None = None,
    limit: int = 10,
) -> list[TopLead]:
    """Scored open leads the viewer may see, best first (ties: newest lead first)."""
    if sum(x is not None and x is not False for x in (rep, team, everyone or None)) > 1:
        raise InvalidInputError("Choose one of --rep, --team or --all.")
    if limit < 1:
        raise InvalidInputError("--limit must be at least 1.")
    with engine.connect() as conn:
        owners: set[int] | None = None
        if rep is not None:
            owners = {_rep_by_name(conn, rep)}
        elif team is not None:
            team_id = _team_by_name(conn, team)
            owners = {int(r[0]) for r in conn.execute(
                select(REPS.c.id).where(REPS.c.team_id == team_id))}
        elif viewer is not None and not everyone:
            owners = _visible_owners(conn, viewer)
        if viewer is not None:
            allowed = _visible_owners(conn, viewer)
            if everyone or (owners is not None and not owners <= allowed):
                raise InvalidInputError(f"{viewer.name} cannot see those leads: "
                                        f"{_who_sees(viewer)}.")
        query = (
            _lead_rows(now)
            .where(LEADS.c.status == "open", LEADS.c.score.is_not(None))
            .order_by(LEADS.c.score.desc(), LEADS.c.created_at.desc(), LEADS.c.id)
            .limit(limit)
        )
        if owners is not None:
            query = query.where(LEADS.c.owner_id.in_(sorted(owners)))
        if source is not None:
            _known_source(conn, source)
            query = query.where(func.lower(LEADS.c.source) == source.lower())
        if since is not None:
            query = query.where(LEADS.c.created_at >= dt.datetime.combine(since, dt.time()))
        if min_score is not None:
            query = query.where(LEADS.c.score >= min_score)
        rows = conn.execute(query).mappings().all()
    return [_top_lead(row, now) for row in rows]


@dataclass(frozen=True)
class LeadCard:
    """One lead as someone asks about it: its score and reasons while open, else its outcome."""

    lead: TopLead
    status: str
    decided_at: dt.datetime | None  # when it converted (lost leads carry no date)
    model_version: int | None
    scored_at: dt.datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {**self.lead.as_dict(), "status": self.status, "model_version": self.model_version,
                "decided_at": self.decided_at.isoformat() if self.decided_at else None,
                "scored_at": self.scored_at.isoformat() if self.scored_at else None}


def find_lead(engine: Engine, now: dt.datetime, external_id: str, *,
              viewer: Viewer | None = None) -> LeadCard:
    """The lead with this external id, if the viewer may see it (the same rule as top leads)."""
    with engine.connect() as conn:
        rows = conn.execute(_lead_rows(now).where(
            func.lower(LEADS.c.external_id) == external_id.lower())).mappings().all()
        if not rows:
            raise InvalidInputError(f"No lead has the id '{external_id}'.")
        if len(rows) > 1:
            systems = ", ".join(sorted(str(r["source_system"]) for r in rows))
            raise InvalidInputError(f"Several leads have the id '{external_id}' ({systems}).")
        row = rows[0]
        if viewer is not None and row["owner_id"] not in _visible_owners(conn, viewer):
            raise InvalidInputError(f"{viewer.name} cannot see lead {row['external_id']}: "
                                    f"{_who_sees(viewer)}.")
    return LeadCard(_top_lead(row, now), str(row["status"]), row["converted_at"],
                    row["score_model_version"], row["scored_at"])


def _lead_rows(now: dt.datetime) -> Any:
    """SELECT of the leads with what a list or a card shows, last touch as of `now`."""
    last_touch = (
        select(ACTIVITIES.c.lead_id, func.max(ACTIVITIES.c.occurred_at).label("at"))
        .where(ACTIVITIES.c.occurred_at <= naive_utc(now))
        .group_by(ACTIVITIES.c.lead_id).subquery()
    )
    return (
        select(LEADS.c.external_id, LEADS.c.source_system, LEADS.c.owner_id, LEADS.c.status,
               LEADS.c.score, LEADS.c.score_reasons, LEADS.c.score_model_version,
               LEADS.c.scored_at, LEADS.c.source, LEADS.c.created_at, LEADS.c.converted_at,
               LEADS.c.last_activity_at, REPS.c.name.label("owner"),
               last_touch.c.at.label("touched"))
        .select_from(LEADS.outerjoin(REPS, LEADS.c.owner_id == REPS.c.id)
                     .outerjoin(last_touch, last_touch.c.lead_id == LEADS.c.id))
    )


def _top_lead(row: Any, now: dt.datetime) -> TopLead:
    touched = max((t for t in (row["touched"], row["last_activity_at"]) if t is not None),
                  default=None)
    days = round((naive_utc(now) - touched).total_seconds() / 86400, 1) if touched else None
    score = float(row["score"]) if row["score"] is not None else None
    return TopLead(row["external_id"], score, row["score_reasons"] or [], row["owner"],
                   row["source"], row["created_at"], touched, days)
