"""What every tool needs, injected once: the database, the catalog, the calendar and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine, select

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import Catalog, load_catalog
from kpi_engine.clock import Clock, clock_from_settings
from kpi_engine.config import EngineSettings
from kpi_engine.db.models import Lead, Product, Rep, Team
from kpi_engine.db.session import make_engine
from kpi_engine.periods import Period, parse_period

DEFAULT_PERIOD = "this month"
# The dimension values a question may name ("for team West", "LinkedIn leads"), and where
# they live; values shorter than this are too likely to match ordinary words.
_VALUE_COLUMNS = {
    "team": Team.name, "region": Team.region, "rep": Rep.name,
    "source": Lead.source, "product": Product.name,
}
_MIN_VALUE_LENGTH = 3
_MAX_VALUES = 500


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

    @cached_property
    def dimension_values(self) -> dict[str, tuple[str, ...]]:
        """Known values per dimension, read once, for recognising filters in questions."""
        values: dict[str, tuple[str, ...]] = {}
        with self.engine.connect() as conn:
            for dimension, column in _VALUE_COLUMNS.items():
                found = conn.execute(select(column).distinct().where(column.is_not(None))
                                     .limit(_MAX_VALUES)).scalars()
                values[dimension] = tuple(v for v in found if len(v) >= _MIN_VALUE_LENGTH)
        return values
