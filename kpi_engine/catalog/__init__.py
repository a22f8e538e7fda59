"""The metric catalog: YAML definitions (built-in pack + user directory), validated at load."""

from __future__ import annotations

from kpi_engine.catalog.dimensions import BUILTIN_DIMENSIONS, Dimension
from kpi_engine.catalog.loader import Catalog, CatalogError, CatalogIssue, load_catalog, referenced
from kpi_engine.catalog.model import MetricDefinition

__all__ = ["BUILTIN_DIMENSIONS", "Catalog", "CatalogError", "CatalogIssue", "Dimension",
           "MetricDefinition", "load_catalog", "referenced"]
