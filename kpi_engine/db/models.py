"""The canonical CRM schema: one shape for a small team's scattered sales and marketing data.

Conventions every importer and query relies on:
- Timestamps are stored as naive UTC (`DateTime` without a zone); date-only source values
  are read as midnight in the workspace time zone and converted to UTC on import.
- Imported rows carry `source_system` + `external_id`, unique together, which is what makes
  re-imports idempotent.
- Stage history holds both CRM pipelines (entity `lead` / `deal`, process `leads` / `deals`)
  and imported process event logs (entity `case`, a named process). `from_stage` is the
  previous stage of the same case, so directly-follows questions are plain SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Explicit constraint names keep Alembic migrations portable across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    region: Mapped[str | None] = mapped_column(String(80))

    reps: Mapped[list[Rep]] = relationship(back_populates="team")


class Rep(Base):
    """A person on the team: a rep or a manager, reachable on Slack."""

    __tablename__ = "reps"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(160))
    email: Mapped[str | None] = mapped_column(String(200), unique=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="rep")  # "rep" | "manager"
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    region: Mapped[str | None] = mapped_column(String(80))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    team: Mapped[Team | None] = relationship(back_populates="reps")
    manager: Mapped[Rep | None] = relationship(remote_side="Rep.id")


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(160))
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str | None] = mapped_column(String(80))
    employees: Mapped[int | None] = mapped_column(Integer)
    size_band: Mapped[str | None] = mapped_column(String(20))  # "1-50", "51-200", ...
    revenue: Mapped[float | None] = mapped_column(Float)  # millions, in the source's currency
    country: Mapped[str | None] = mapped_column(String(80))
    year_established: Mapped[int | None] = mapped_column(Integer)
    parent_name: Mapped[str | None] = mapped_column(String(200))


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("source_system", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(160))
    name: Mapped[str] = mapped_column(String(160))
    series: Mapped[str | None] = mapped_column(String(80))
    list_price: Mapped[float | None] = mapped_column(Float)


class Lead(Base):
    """A prospect before it becomes a deal; scored by the lead-scoring model."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        Index("ix_leads_created_at", "created_at"),
        Index("ix_leads_converted_at", "converted_at"),
        Index("ix_leads_owner_id", "owner_id"),
        # Foreign keys that rows are deleted through (PostgreSQL checks them row by row).
        Index("ix_leads_account_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    # Where the lead came from: marketing source or origin ("Google", "organic_search").
    source: Mapped[str | None] = mapped_column(String(80))
    channel: Mapped[str | None] = mapped_column(String(80))  # how it arrived ("API", "form")
    landing_page: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|converted|lost
    converted: Mapped[bool | None] = mapped_column(Boolean)  # None: outcome unknown
    converted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Demographic / firmographic.
    title: Mapped[str | None] = mapped_column(String(120))
    industry: Mapped[str | None] = mapped_column(String(80))
    company_size: Mapped[str | None] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(80))
    city: Mapped[str | None] = mapped_column(String(80))
    segment: Mapped[str | None] = mapped_column(String(80))
    lead_type: Mapped[str | None] = mapped_column(String(80))
    behaviour_profile: Mapped[str | None] = mapped_column(String(80))
    # Behavioural.
    total_visits: Mapped[float | None] = mapped_column(Float)
    time_on_site_seconds: Mapped[float | None] = mapped_column(Float)
    pages_per_visit: Mapped[float | None] = mapped_column(Float)
    last_activity: Mapped[str | None] = mapped_column(String(80))
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Everything else the source had, verbatim by source column name.
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Written back by `kpibot score`.
    score: Mapped[float | None] = mapped_column(Float)
    score_model_version: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    scored_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    score_reasons: Mapped[list[Any] | None] = mapped_column()


class Deal(Base):
    __tablename__ = "deals"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        Index("ix_deals_created_at", "created_at"),
        Index("ix_deals_closed_at", "closed_at"),
        Index("ix_deals_owner_id", "owner_id"),
        Index("ix_deals_lead_id", "lead_id"),
        Index("ix_deals_account_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str | None] = mapped_column(String(200))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    stage: Mapped[str] = mapped_column(String(60))
    amount: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    is_won: Mapped[bool | None] = mapped_column(Boolean)  # None while open


class Activity(Base):
    """A touch: email, call, meeting, web visit or form, inbound or outbound."""

    __tablename__ = "activities"
    __table_args__ = (
        UniqueConstraint("source_system", "external_id"),
        Index("ix_activities_occurred_at", "occurred_at"),
        Index("ix_activities_lead_id_occurred_at", "lead_id", "occurred_at"),
        Index("ix_activities_deal_id_occurred_at", "deal_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(20))  # email|call|meeting|web_visit|form
    direction: Mapped[str] = mapped_column(String(10))  # inbound|outbound
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    detail: Mapped[str | None] = mapped_column(String(200))  # "pricing page", "demo call"


class Process(Base):
    """A named process whose cases move through stages: a CRM pipeline or an imported log."""

    __tablename__ = "processes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # "crm" | "event_log"
    description: Mapped[str | None] = mapped_column(Text)
    source_checksum: Mapped[str | None] = mapped_column(String(64))


class StageEvent(Base):
    """One step of a case: it entered `to_stage` at `occurred_at`, coming from `from_stage`."""

    __tablename__ = "stage_events"
    __table_args__ = (
        Index("ix_stage_events_process_id_case_id_seq", "process_id", "case_id", "seq"),
        Index("ix_stage_events_process_id_occurred_at", "process_id", "occurred_at"),
        Index("ix_stage_events_lead_id", "lead_id"),
        Index("ix_stage_events_deal_id", "deal_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[int] = mapped_column(ForeignKey("processes.id"))
    case_id: Mapped[str] = mapped_column(String(120))
    entity_type: Mapped[str] = mapped_column(String(10))  # lead|deal|case
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id"))
    # Position of the event in its case, in source order: ties on timestamp keep it.
    seq: Mapped[int] = mapped_column(Integer)
    from_stage: Mapped[str | None] = mapped_column(String(120))
    to_stage: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    resource: Mapped[str | None] = mapped_column(String(120))
    attributes: Mapped[dict[str, Any] | None] = mapped_column()


class KpiTarget(Base):
    """A target for a metric over one period, overall or for a team or a rep."""

    __tablename__ = "kpi_targets"
    __table_args__ = (
        UniqueConstraint("metric", "period_start", "period_end", "team_id", "rep_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(80))
    period_kind: Mapped[str] = mapped_column(String(20))  # week|month|quarter|year
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)  # exclusive
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id"))
    value: Mapped[float] = mapped_column(Float)
    at_risk_band: Mapped[float] = mapped_column(Float, default=0.1)  # fraction of target
    owner: Mapped[str | None] = mapped_column(String(160))


class ModelVersion(Base):
    """A trained lead-scoring model: where its artifact is and how good it was."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    estimator: Mapped[str] = mapped_column(String(80))
    artifact_path: Mapped[str] = mapped_column(String(400))
    auc: Mapped[float] = mapped_column(Float)
    brier: Mapped[float] = mapped_column(Float)
    base_rate: Mapped[float] = mapped_column(Float)
    lift_by_decile: Mapped[list[Any]] = mapped_column()
    n_train: Mapped[int] = mapped_column(Integer)
    n_test: Mapped[int] = mapped_column(Integer)
    n_positive: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[Any]] = mapped_column()
    training_seconds: Mapped[float] = mapped_column(Float)
    # Score distribution at training time, for drift checks.
    score_histogram: Mapped[list[Any]] = mapped_column()
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ImportRun(Base):
    """One `kpibot import`: what it read and what it changed."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(400))
    checksum: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime)
    inserted: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
