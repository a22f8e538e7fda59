"""A deterministic synthetic CRM to try kpibot on, with patterns planted to be found."""

from __future__ import annotations

from kpi_engine.demo.catalog import DEMO_SOURCE_SYSTEM
from kpi_engine.demo.generator import DemoData, generate_demo
from kpi_engine.demo.seed import NonDemoDataError, seed_demo
from kpi_engine.demo.summary import DemoSummary, PlantedPattern

__all__ = [
    "DEMO_SOURCE_SYSTEM",
    "DemoData",
    "DemoSummary",
    "NonDemoDataError",
    "PlantedPattern",
    "generate_demo",
    "seed_demo",
]
