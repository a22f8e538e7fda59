"""kpibot's deterministic core: every figure a user sees is computed here.

The public surface is `__all__`; `tools/` and `bot/` import from it (or from the module
named in `_EXPORTS`). Names load on first use so that `import kpi_engine` stays cheap for
the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # catalog and queries
    "Catalog": "kpi_engine.catalog",
    "MetricDefinition": "kpi_engine.catalog",
    "load_catalog": "kpi_engine.catalog",
    "Filter": "kpi_engine.specs",
    "MetricRequest": "kpi_engine.specs",
    "MetricResult": "kpi_engine.specs",
    "query": "kpi_engine.query",
    "run": "kpi_engine.query",
    # periods and clocks
    "Calendar": "kpi_engine.calendar",
    "Period": "kpi_engine.periods",
    "parse_period": "kpi_engine.periods",
    "FixedClock": "kpi_engine.clock",
    "SystemClock": "kpi_engine.clock",
    "clock_from_settings": "kpi_engine.clock",
    "EngineSettings": "kpi_engine.config",
    "get_settings": "kpi_engine.config",
    # targets, drivers, journeys, scoring
    "kpi_board": "kpi_engine.targets",
    "load_kpis": "kpi_engine.targets",
    "set_target": "kpi_engine.targets",
    "explain_change": "kpi_engine.drivers",
    "analyze_journey": "kpi_engine.journey",
    "find_bottlenecks": "kpi_engine.journey",
    "top_leads": "kpi_engine.scoring.leads",
    # data in
    "import_event_log": "kpi_engine.importers",
    "import_maven_crm": "kpi_engine.importers",
    "import_olist": "kpi_engine.importers",
    "import_xeducation": "kpi_engine.importers",
    "seed_demo": "kpi_engine.demo",
    # errors
    "KpiError": "kpi_engine.errors",
    "KpiUserError": "kpi_engine.errors",
    "UnknownNameError": "kpi_engine.errors",
    "InvalidPeriodError": "kpi_engine.errors",
    "InvalidInputError": "kpi_engine.errors",
    "NotEnoughDataError": "kpi_engine.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kpi_engine' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
