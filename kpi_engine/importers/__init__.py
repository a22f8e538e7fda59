"""Importers: CSV exports and public sample data mapped into the canonical CRM schema.

Every import reads and checks its files first, then writes in one transaction (all or
nothing), matches rows on (source_system, external_id) so a re-import changes nothing,
records an ImportRun, and returns an `ImportReport` with counts, rejected rows and notes.
"""

from __future__ import annotations

from kpi_engine.importers.event_log import import_event_log
from kpi_engine.importers.maven import import_maven_crm
from kpi_engine.importers.olist import import_olist
from kpi_engine.importers.report import ImportReport, RejectedRow, TableCounts
from kpi_engine.importers.xeducation import import_xeducation

__all__ = [
    "ImportReport",
    "RejectedRow",
    "TableCounts",
    "import_event_log",
    "import_maven_crm",
    "import_olist",
    "import_xeducation",
]
