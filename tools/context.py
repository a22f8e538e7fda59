"""What every tool needs, injected once: the database, the catalog, the calendar and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from kpi_engine.calendar import Calendar
from kpi_engine.catalog import Catalog, load_catalog
from kpi_engine.clock import Clock, clock_from_settings
from kpi_engine.config import EngineSettings
from kpi_engine.db.session import make_engine
from kpi_engine.dimension_values import known_values
from kpi_engine.periods import Period, parse_period

if TYPE_CHECKING:
    from kpi_engine.scoring.leads import Viewer as Rep

DEFAULT_PERIOD = "this month"
# Dimensions whose values a question may name ("for team West", "LinkedIn leads"); values
# shorter than this are too likely to match ordinary words.
_QUESTION_DIMENSIONS = ("team", "region", "rep", "source", "product")
_MIN_VALUE_LENGTH = 3


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
    def asking_rep(self) -> Rep | None:
        """The rep behind the viewer, None when nobody is known; an unknown id is an error."""
        # Imported here: the scoring package brings scikit-learn, which metric answers skip.
        from kpi_engine.scoring.leads import find_viewer

        identity = self.viewer.slack_user_id or self.viewer.email
        return find_viewer(self.engine, identity) if identity else None

    @cached_property
    def metric_phrases(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        return tuple((m.name, m.label, m.synonyms) for m in self.catalog.metrics if m.public)

    @cached_property
    def dimension_values(self) -> dict[str, tuple[str, ...]]:
        """Known values per dimension, read once, for recognising filters in questions."""
        with self.engine.connect() as conn:
            found = {d: known_values(conn, d) or () for d in _QUESTION_DIMENSIONS}
        return {d: tuple(v for v in vs if len(v) >= _MIN_VALUE_LENGTH) for d, vs in found.items()}
