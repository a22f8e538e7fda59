"""Where the journey data comes from: the process, its steps and the outcome of its cases.

The database selects the process's events (up to the window end), joins the segment each
event belongs to, and streams them in (case, seq) order off the (process_id, case_id, seq)
index. What comes back is one compact row per event; pairing consecutive events and the
statistics SQLite has no fast way to compute (medians and percentiles over hundreds of
thousands of waits) are done on those vectors (`pair_events`, `kpi_engine.journey.stats`).
CRM facts (outcomes, owners, last activity, first touches) are aggregated in SQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, literal, select, true
from sqlalchemy.sql.expression import ColumnElement

from kpi_engine.db.models import Activity, Deal, Lead, Process, Product, Rep, StageEvent, Team
from kpi_engine.errors import InvalidInputError, UnknownNameError
from kpi_engine.journey.sql import epoch_seconds

DIMENSIONS = ("team", "rep", "source", "product", "resource")
CRM_DIMENSIONS = ("team", "rep", "source", "product")
LOG_DIMENSIONS = ("resource",)
UNASSIGNED = "(unassigned)"


@dataclass(frozen=True)
class ProcessInfo:
    id: int
    name: str
    kind: str  # "crm" | "event_log"
    entity: str  # "deal" | "lead" | "case"

    @property
    def dimensions(self) -> tuple[str, ...]:
        return LOG_DIMENSIONS if self.entity == "case" else CRM_DIMENSIONS

    @property
    def default_dimension(self) -> str:
        return "resource" if self.entity == "case" else "team"


def resolve_process(engine: Engine, name: str | None) -> ProcessInfo:
    """The process called `name`; without a name, "deals" if it exists, else the only one."""
    with engine.connect() as conn:
        rows = conn.execute(select(Process.id, Process.name, Process.kind)).all()
        known = {row.name: row for row in rows}
        if not known:
            raise InvalidInputError(
                "No process in the database yet: import an event log (kpibot import event-log) "
                "or CRM data (kpibot import maven-crm, kpibot demo) first."
            )
        if name is None:
            if "deals" in known:
                name = "deals"
            elif len(known) == 1:
                name = next(iter(known))
            else:
                raise InvalidInputError(
                    f"Choose a process with --process: {', '.join(sorted(known))}."
                )
        if name not in known:
            raise UnknownNameError("process", name, sorted(known))
        row = known[name]
        entity = conn.execute(
            select(StageEvent.entity_type).where(StageEvent.process_id == row.id).limit(1)
        ).scalar()
    if entity is None:
        entity = {"deals": "deal", "leads": "lead"}.get(row.name, "case")
    return ProcessInfo(id=row.id, name=row.name, kind=row.kind, entity=entity)


def check_dimension(process: ProcessInfo, dimension: str | None) -> str | None:
    """The dimension, validated against what this process can be segmented by."""
    if dimension is None:
        return None
    dimension = dimension.strip().lower()
    if dimension not in process.dimensions:
        if dimension in DIMENSIONS:
            raise InvalidInputError(
                f"'{dimension}' is not recorded for the {process.entity}s of '{process.name}'; "
                f"segment it by {', '.join(process.dimensions)}."
            )
        raise UnknownNameError("dimension", dimension, process.dimensions)
    return dimension


def fetch_steps(
    engine: Engine, process: ProcessInfo, end: dt.datetime | None, dimension: str | None
) -> pd.DataFrame:
    """Every event of the process before `end`, in case order, paired with the one before it.

    The database filters, joins the segment and streams the events in (case, seq) order
    straight off the (process_id, case_id, seq) index; consecutive rows are then paired with
    a vectorised shift. (A LAG() window pass does the same pairing in SQL but costs three
    times the ordered scan on SQLite, which would break the one-second budget on BPIC 2012.)

    Columns: case, to_stage, from_stage (categoricals; from_stage NaN on a case's first event),
    case_no (the case's integer code), repeat (True when the case was in this stage before),
    t (epoch seconds), wait (seconds since the previous event of the case, NaN on a first
    event), handoff (1 when the owner or resource differs from the previous event's),
    segment (categorical).
    """
    se = StageEvent.__table__.alias("se")
    # Who acts: the rep who owns a CRM stage change, the resource of an event-log event.
    actor = se.c.resource if process.entity == "case" else se.c.owner_id
    # An event log segmented by resource reuses the actor column rather than fetch it twice.
    reuse_actor = process.entity == "case" and dimension == "resource"
    segment, joined = _segment_column(se, None if reuse_actor else dimension)
    stmt = (
        select(
            se.c.case_id,
            se.c.to_stage,
            epoch_seconds(se.c.occurred_at),
            actor,
            segment,
        )
        .select_from(joined)
        .where(se.c.process_id == process.id)
        .order_by(se.c.process_id, se.c.case_id, se.c.seq)
    )
    if end is not None:
        stmt = stmt.where(se.c.occurred_at < end)
    with engine.connect() as conn:
        # Plain DBAPI tuples into one object array: far faster than Row objects or letting
        # pandas infer a dtype per column.
        rows = conn.execute(stmt).cursor.fetchall()
    raw = np.array(rows, dtype=object).reshape(len(rows), 5)
    segment = None if reuse_actor else raw[:, 4]
    return pair_events(raw[:, 0], raw[:, 1], raw[:, 2].astype(np.float64), raw[:, 3], segment)


def pair_events(
    case: np.ndarray,
    stage: np.ndarray,
    t: np.ndarray,
    actor: np.ndarray,
    segment: np.ndarray | None,
) -> pd.DataFrame:
    """Pair each event with the previous event of its case (arrays sorted by case, seq).

    `segment` None means the actor is the segment (missing actors read "(unassigned)").
    """
    codes, cases = pd.factorize(case)
    continues = np.zeros(len(codes), dtype=bool)
    continues[1:] = codes[1:] == codes[:-1]
    wait = np.full(len(t), np.nan)
    wait[1:] = t[1:] - t[:-1]
    wait[~continues] = np.nan
    stage_codes, stages = pd.factorize(stage)
    from_codes = np.full(len(stage_codes), -1, dtype=stage_codes.dtype)
    from_codes[1:] = stage_codes[:-1]
    from_codes[~continues] = -1
    actor_codes, actors = pd.factorize(actor)  # a missing actor is -1
    known = actor_codes >= 0
    differs = np.zeros(len(codes), dtype=bool)
    differs[1:] = (actor_codes[1:] != actor_codes[:-1]) & known[1:] & known[:-1]
    # A repeat visit: the case has been in this stage before (hashing two int codes, not text).
    visit = codes.astype(np.int64) * (len(stages) + 1) + stage_codes
    repeat = pd.Series(visit).duplicated().to_numpy()
    stage_type = pd.CategoricalDtype(stages)
    if segment is None:
        labels = [str(a) for a in actors]
        if UNASSIGNED not in labels:
            labels.append(UNASSIGNED)
        segment_codes = np.where(known, actor_codes, labels.index(UNASSIGNED))
        segment_type = pd.CategoricalDtype(labels)
    else:
        segment_codes, segments = pd.factorize(segment)
        segment_type = pd.CategoricalDtype(segments)
    return pd.DataFrame(
        {
            "case": pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(cases)),
            "case_no": codes,
            "repeat": repeat,
            "to_stage": pd.Categorical.from_codes(stage_codes, dtype=stage_type),
            "from_stage": pd.Categorical.from_codes(from_codes, dtype=stage_type),
            "t": t,
            "wait": wait,
            "handoff": (differs & continues).astype(np.int8),
            "segment": pd.Categorical.from_codes(segment_codes, dtype=segment_type),
        }
    )


def _segment_column(se: Any, dimension: str | None) -> tuple[ColumnElement[Any], Any]:
    """The SQL expression for a segment of each event, and the FROM clause it needs."""
    if dimension is None:
        return literal(None), se
    if dimension == "resource":
        return func.coalesce(se.c.resource, UNASSIGNED), se
    deals = Deal.__table__.alias("d")
    leads = Lead.__table__.alias("l")
    joined = se.outerjoin(deals, deals.c.id == se.c.deal_id).outerjoin(
        leads, leads.c.id == func.coalesce(se.c.lead_id, deals.c.lead_id)
    )
    if dimension == "source":
        return func.coalesce(leads.c.source, UNASSIGNED), joined
    if dimension == "product":
        products = Product.__table__.alias("p")
        joined = joined.outerjoin(products, products.c.id == deals.c.product_id)
        return func.coalesce(products.c.name, UNASSIGNED), joined
    reps = Rep.__table__.alias("r")
    owner = func.coalesce(se.c.owner_id, deals.c.owner_id, leads.c.owner_id)
    joined = joined.outerjoin(reps, reps.c.id == owner)
    if dimension == "rep":
        return func.coalesce(reps.c.name, UNASSIGNED), joined
    teams = Team.__table__.alias("tm")
    joined = joined.outerjoin(teams, teams.c.id == reps.c.team_id)
    return func.coalesce(teams.c.name, UNASSIGNED), joined


def fetch_case_info(engine: Engine, process: ProcessInfo) -> pd.DataFrame | None:
    """For CRM processes: each case's outcome, owner and last activity, from the CRM tables.

    Columns (indexed by case): closed (bool), won (bool), owner (rep name), last_touch (epoch
    seconds of the latest activity on the deal or lead, NaN when none). None for event logs,
    whose outcome is a stage and whose owner is the resource of their last event.
    """
    se = StageEvent.__table__
    activities = Activity.__table__
    reps = Rep.__table__
    if process.entity == "deal":
        table = Deal.__table__
        key = se.c.deal_id
        closed = table.c.is_won.is_not(None)
        won = table.c.is_won.is_(true())
        touched = activities.c.deal_id == table.c.id
    elif process.entity == "lead":
        table = Lead.__table__
        key = se.c.lead_id
        closed = table.c.status != "open"
        won = table.c.converted.is_(true())
        touched = activities.c.lead_id == table.c.id
    else:
        return None
    last_touch = (
        select(func.max(activities.c.occurred_at)).where(touched).scalar_subquery()
    )
    cases = (
        select(se.c.case_id, key.label("entity_id"))
        .where(se.c.process_id == process.id)
        .distinct()
        .subquery()
    )
    stmt = select(
        cases.c.case_id,
        closed.label("closed"),
        won.label("won"),
        func.coalesce(reps.c.name, UNASSIGNED).label("owner"),
        epoch_seconds(last_touch).label("last_touch"),
    ).select_from(
        cases.join(table, table.c.id == cases.c.entity_id).outerjoin(
            reps, reps.c.id == table.c.owner_id
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame.from_records(
        rows, columns=["case", "closed", "won", "owner", "last_touch"]
    )
    frame["closed"] = frame["closed"].astype(bool)
    frame["won"] = frame["won"].astype(bool)
    frame["last_touch"] = frame["last_touch"].astype(np.float64)
    return frame.drop_duplicates("case").set_index("case")


def data_freshness(engine: Engine, process: ProcessInfo) -> dt.datetime | None:
    """The latest event of the process (naive UTC)."""
    with engine.connect() as conn:
        return conn.execute(
            select(func.max(StageEvent.occurred_at)).where(StageEvent.process_id == process.id)
        ).scalar()
