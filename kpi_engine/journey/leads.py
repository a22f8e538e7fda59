"""Speed to lead: from a lead's creation to the first outbound touch by the team."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, and_, func, literal, select

from kpi_engine.db.models import Activity, Lead, Rep, Team
from kpi_engine.journey.results import JourneyWindow, SegmentDuration, SpeedToLead
from kpi_engine.journey.source import UNASSIGNED
from kpi_engine.journey.sql import epoch_seconds, seconds_between
from kpi_engine.journey.stats import duration_stats, grouped_stats, to_epoch

DEFAULT_SLA_HOURS = 4.0


def fetch_lead_responses(
    engine: Engine, window: JourneyWindow, dimension: str | None
) -> pd.DataFrame:
    """Leads created in the window with their response time (seconds) and their segment.

    The first touch is the earliest outbound activity on the lead at or after its creation
    and before `as_of` (a touch logged before the lead existed is a data-entry artefact).
    The minimum is taken in SQL, one correlated lookup per lead on (lead_id, occurred_at).

    Columns: response (seconds to the first outbound touch before `as_of`, NaN if none yet),
    age (seconds from creation to `as_of`), segment (str).
    """
    leads = Lead.__table__
    activities = Activity.__table__
    first_touch = (
        select(func.min(activities.c.occurred_at))
        .where(
            and_(
                activities.c.lead_id == leads.c.id,
                activities.c.direction == "outbound",
                activities.c.occurred_at >= leads.c.created_at,
                activities.c.occurred_at < window.as_of,
            )
        )
        .scalar_subquery()
    )
    reps = Rep.__table__
    teams = Team.__table__
    source = leads.outerjoin(reps, reps.c.id == leads.c.owner_id).outerjoin(
        teams, teams.c.id == reps.c.team_id
    )
    segment = {
        "team": teams.c.name,
        "rep": reps.c.name,
        "source": leads.c.source,
    }.get(dimension or "", literal(None))
    stmt = (
        select(
            seconds_between(first_touch, leads.c.created_at).label("response"),
            epoch_seconds(leads.c.created_at).label("created"),
            func.coalesce(segment, UNASSIGNED).label("segment"),
        )
        .select_from(source)
        .where(leads.c.created_at.is_not(None), leads.c.created_at < window.as_of)
    )
    if window.start is not None:
        stmt = stmt.where(leads.c.created_at >= window.start)
    if window.end is not None:
        stmt = stmt.where(leads.c.created_at < window.end)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame.from_records(rows, columns=["response", "created", "segment"])
    frame["response"] = frame["response"].astype(np.float64)
    frame["age"] = to_epoch(window.as_of) - frame.pop("created").astype(np.float64)
    return frame


def lead_excess_seconds(frame: pd.DataFrame, sla_hours: float) -> np.ndarray:
    """How long each lead waited beyond the SLA: answered late, or still waiting."""
    waited = frame["response"].fillna(frame["age"]).to_numpy(dtype=np.float64)
    return np.maximum(0.0, waited - sla_hours * 3600.0)


def speed_to_lead(frame: pd.DataFrame, sla_hours: float, dimension: str | None) -> SpeedToLead:
    """Summarise `fetch_lead_responses` against the SLA, overall and by segment."""
    breach = lead_excess_seconds(frame, sla_hours) > 0
    touched = int(frame["response"].notna().sum())
    segments: list[SegmentDuration] = []
    if dimension is not None and len(frame):
        stats = grouped_stats(frame["segment"], frame["response"])
        breaches = pd.Series(breach).groupby(frame["segment"].to_numpy()).sum()
        for value in sorted(breaches.index):
            segments.append(
                SegmentDuration(
                    dimension=dimension,
                    value=str(value),
                    time=stats.get(value, duration_stats([])),
                    breaches=int(breaches[value]),
                )
            )
    return SpeedToLead(
        sla_hours=sla_hours,
        leads=len(frame),
        touched=touched,
        untouched=len(frame) - touched,
        time=duration_stats(frame["response"]),
        breaches=int(breach.sum()),
        breach_share=float(breach.mean()) if len(frame) else None,
        by_segment=tuple(segments),
    )
