"""What every tool needs, injected once: the database, the catalog, the calendar and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import Catalog, load_catalog
from kpi_engine.clock import Clock, clock_from_settings
from kpi_engine.config import EngineSettings
from kpi_engine.db.session import make_engine
from kpi_engine.periods import Period, parse_period

DEFAULT_PERIOD = "this month"


@dataclass(frozen=True)
class Viewer:
    """Who is asking: decides whose leads "my" means and what a rep may see."""

    slack_user_id: str | None = None
    email: str | None = None


ANONYMOUS = Viewer()


@dataclass
class ToolContext:
    engine: Engine
    catalog: Catalog
    calendar: Calendar
    clock: Clock
    settings: EngineSettings
    viewer: Viewer = ANONYMOUS

    @classmethod
    def from_settings(cls, settings: EngineSettings, viewer: Viewer = ANONYMOUS) -> ToolContext:
        return cls(
            engine=make_engine(settings.database_url),
            catalog=load_catalog(settings.metrics_dir),
            calendar=Calendar.from_settings(settings),
            clock=clock_from_settings(settings.now, settings.timezone),
            settings=settings,
            viewer=viewer,
        )

    def period(self, text: str | None, default: str = DEFAULT_PERIOD) -> Period:
        return parse_period(text or default, self.clock, self.calendar)

    @cached_property
    def metric_phrases(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        return tuple((m.name, m.label, m.synonyms) for m in self.catalog.metrics if m.public)
