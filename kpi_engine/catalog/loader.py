"""Load metric YAML files (built-in pack + an optional user directory) and validate them.

Validation never stops at the first problem: every rule adds `CatalogIssue`s (file, field,
message) and `load_catalog` raises one `CatalogError` listing them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import DateTime

from kpi_engine.catalog.arithmetic import parse_names
from kpi_engine.catalog.dimensions import BUILTIN_DIMENSIONS, Dimension
from kpi_engine.catalog.model import (
    AGGREGATIONS,
    DIRECTIONS,
    FILTER_OPS,
    METRIC_TYPES,
    STATISTICS,
    UNITS,
    ActivityCheck,
    ColumnFilter,
    ConversionParams,
    DerivedParams,
    DurationParams,
    MetricDefinition,
    RatioParams,
    SimpleParams,
    Snapshot,
    TypeParams,
)
from kpi_engine.db.models import metadata
from kpi_engine.errors import KpiUserError, UnknownNameError

BUILTIN_DIR = Path(__file__).with_name("metrics")
KEY_ORDER = ("name", "label", "description", "synonyms", "type", "type_params", "unit", "format",
             "direction", "time_column", "dimensions", "public")
REQUIRED = ("name", "label", "description", "type", "type_params", "unit", "format", "direction",
            "dimensions")
# The C loader when PyYAML has it: the catalog is read at every CLI start.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class CatalogIssue:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class CatalogError(KpiUserError):
    """The metric definitions have problems; `issues` lists every one of them."""

    def __init__(self, issues: Iterable[CatalogIssue]) -> None:
        self.issues = tuple(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in the metric definitions:\n{lines}")


def _normal(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


@dataclass(frozen=True)
class Catalog:
    """The metrics and dimensions the engine can answer about."""

    metrics: tuple[MetricDefinition, ...]
    dimensions: Mapping[str, Dimension]

    def metric(self, name: str) -> MetricDefinition:
        """The metric called `name` (or with that synonym); UnknownNameError with close names."""
        wanted = _normal(name)
        for metric in self.metrics:
            if metric.name == wanted:
                return metric
        for metric in self.metrics:
            if wanted in (_normal(s) for s in metric.synonyms):
                return metric
        known = [m.name for m in self.metrics] + [s for m in self.metrics for s in m.synonyms]
        raise UnknownNameError("metric", name, known)

    def dimension(self, name: str, metric: MetricDefinition | None = None) -> Dimension:
        """The dimension `name`, checked against what `metric` allows when given."""
        allowed = metric.dimensions if metric is not None else tuple(self.dimensions)
        wanted = _normal(name)
        if wanted not in allowed or wanted not in self.dimensions:
            kind = f"dimension for {metric.name}" if metric is not None else "dimension"
            raise UnknownNameError(kind, name, allowed)
        return self.dimensions[wanted]


def load_catalog(user_dir: Path | None = None) -> Catalog:
    """The built-in pack plus `user_dir` (its metrics add to or replace built-in ones)."""
    issues: list[CatalogIssue] = []
    merged: dict[str, MetricDefinition] = {}
    for directory in (BUILTIN_DIR, user_dir):
        if directory is None:
            continue
        if not directory.is_dir():
            issues.append(CatalogIssue(str(directory), "-", "metrics directory not found"))
            continue
        seen: dict[str, str] = {}
        for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
            metric = _load_file(path, issues)
            if metric is None:
                continue
            if metric.name in seen:
                issues.append(CatalogIssue(
                    path.name, "name",
                    f"duplicate metric '{metric.name}' (also in {seen[metric.name]})"))
                continue
            seen[metric.name] = path.name
            merged[metric.name] = metric  # a user file replaces the built-in one
    metrics = _check_references(merged, issues)
    if issues:
        raise CatalogError(issues)
    return Catalog(tuple(sorted(metrics.values(), key=lambda m: m.name)), BUILTIN_DIMENSIONS)


# --- one file ---------------------------------------------------------------------------------


class _FileIssues:
    """Collects the issues of one file."""

    def __init__(self, path: Path, sink: list[CatalogIssue]) -> None:
        self.file = path.name
        self.sink = sink
        self.count = 0

    def add(self, field: str, message: str) -> None:
        self.sink.append(CatalogIssue(self.file, field, message))
        self.count += 1


def _load_file(path: Path, sink: list[CatalogIssue]) -> MetricDefinition | None:
    report = _FileIssues(path, sink)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        report.add("-", f"not valid YAML: {error}".replace("\n", " "))
        return None
    if not isinstance(raw, dict):
        report.add("-", "expected a mapping of metric fields")
        return None
    keys = list(raw)
    for key in keys:
        if key not in KEY_ORDER:
            report.add(key, f"unknown field (known: {', '.join(KEY_ORDER)})")
    known_keys = [k for k in keys if k in KEY_ORDER]
    if known_keys != sorted(known_keys, key=KEY_ORDER.index):
        report.add("-", f"fields out of order; write them as: {', '.join(KEY_ORDER)}")
    for key in REQUIRED:
        if raw.get(key) in (None, ""):
            report.add(key, "missing")

    name = raw.get("name")
    if isinstance(name, str):
        if not NAME_RE.match(name):
            report.add("name", "use snake_case: lowercase letters, digits and underscores")
        if path.stem != name:
            report.add("name", f"must match the file name '{path.stem}'")
    elif name is not None:
        report.add("name", "must be a string")
    for key in ("label", "description"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            report.add(key, "must be a string")
    synonyms = raw.get("synonyms") or []
    if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
        report.add("synonyms", "must be a list of strings")
        synonyms = []
    kind = raw.get("type")
    if kind is not None and kind not in METRIC_TYPES:
        report.add("type", f"unknown type '{kind}' (known: {', '.join(METRIC_TYPES)})")
    unit = raw.get("unit")
    if unit is not None and unit not in UNITS:
        report.add("unit", f"unknown unit '{unit}' (known: {', '.join(UNITS)})")
    direction = raw.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        report.add("direction", f"must be one of {', '.join(DIRECTIONS)}")
    fmt = raw.get("format")
    if fmt is not None:
        try:
            format(1234.5, str(fmt))
        except (ValueError, TypeError):
            report.add("format", f"'{fmt}' is not a Python number format (e.g. ',.0f', '.1%')")
    public = raw.get("public", True)
    if not isinstance(public, bool):
        report.add("public", "must be true or false")
    dims = raw.get("dimensions")
    if dims is not None and (not isinstance(dims, list)
                             or not all(isinstance(d, str) for d in dims)):
        report.add("dimensions", "must be a list of dimension names")
        dims = None

    params = raw.get("type_params")
    type_params: TypeParams | None = None
    if kind in METRIC_TYPES and params is not None:
        if not isinstance(params, dict):
            report.add("type_params", "must be a mapping")
        else:
            type_params = _PARSERS[kind](params, report)
    table = getattr(type_params, "table", None)
    time_column = raw.get("time_column")
    if kind in ("simple", "conversion", "duration"):
        if time_column is None:
            report.add("time_column", "missing")
        elif table is not None:
            _check_column(table, time_column, "time_column", report, datetime=True)
    if table is not None and dims:
        for dim in dims:
            if dim not in BUILTIN_DIMENSIONS:
                report.add("dimensions", f"unknown dimension '{dim}' (known: "
                           f"{', '.join(sorted(BUILTIN_DIMENSIONS))})")
            elif table not in BUILTIN_DIMENSIONS[dim].paths:
                report.add("dimensions", f"dimension '{dim}' does not apply to table '{table}'")
    elif dims:
        for dim in dims:
            if dim not in BUILTIN_DIMENSIONS:
                report.add("dimensions", f"unknown dimension '{dim}'")
    if report.count or type_params is None:
        return None
    additive = (isinstance(type_params, SimpleParams) and type_params.agg in ("count", "sum")) or (
        isinstance(type_params, ConversionParams) and type_params.calculation == "count")
    return MetricDefinition(
        name=str(name), label=str(raw["label"]), description=str(raw["description"]).strip(),
        synonyms=tuple(synonyms), type=str(kind), type_params=type_params, unit=str(unit),
        format=str(fmt), direction=str(direction), time_column=time_column,
        dimensions=tuple(dims or ()), public=bool(public), additive=additive, table=table,
        source_file=path,
    )


def _keys(params: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...],
          where: str, report: _FileIssues) -> bool:
    ok = True
    for key in params:
        if key not in allowed:
            report.add(f"{where}.{key}", f"unknown field (known: {', '.join(allowed)})")
            ok = False
    for key in required:
        if params.get(key) in (None, ""):
            report.add(f"{where}.{key}", "missing")
            ok = False
    return ok


def _check_table(table: object, where: str, report: _FileIssues) -> bool:
    if not isinstance(table, str) or table not in metadata.tables:
        report.add(where, f"unknown table '{table}' (known: {', '.join(sorted(metadata.tables))})")
        return False
    return True


def _check_column(table: str, column: object, where: str, report: _FileIssues, *,
                  datetime: bool = False) -> bool:
    columns = metadata.tables[table].c
    if not isinstance(column, str) or column not in columns:
        report.add(where, f"unknown column '{column}' of table '{table}'")
        return False
    if datetime and not isinstance(columns[column].type, DateTime):
        report.add(where, f"column '{table}.{column}' is not a timestamp")
        return False
    return True


def _filters(raw: object, table: str, where: str, report: _FileIssues) -> tuple[ColumnFilter, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        report.add(where, "must be a list of {column, op, value}")
        return ()
    out = []
    for i, item in enumerate(raw):
        spot = f"{where}[{i}]"
        if not isinstance(item, dict):
            report.add(spot, "must be a mapping {column, op, value}")
            continue
        if not _keys(item, ("column", "op", "value"), ("column", "op"), spot, report):
            continue
        if item["op"] not in FILTER_OPS:
            report.add(f"{spot}.op", f"unknown op '{item['op']}' (known: {', '.join(FILTER_OPS)})")
            continue
        if item["op"] in ("in", "not_in") and not isinstance(item.get("value"), list):
            report.add(f"{spot}.value", f"'{item['op']}' needs a list")
            continue
        if _check_column(table, item["column"], f"{spot}.column", report):
            value = item.get("value")
            out.append(ColumnFilter(item["column"], item["op"],
                                    tuple(value) if isinstance(value, list) else value))
    return tuple(out)


def _activity(raw: object, where: str, report: _FileIssues) -> ActivityCheck | None:
    if not isinstance(raw, dict):
        report.add(where, "must be a mapping {table, key, time, filters}")
        return None
    if not _keys(raw, ("table", "key", "time", "filters"), ("table", "key", "time"), where, report):
        return None
    if not _check_table(raw["table"], f"{where}.table", report):
        return None
    ok = _check_column(raw["table"], raw["key"], f"{where}.key", report)
    ok = _check_column(raw["table"], raw["time"], f"{where}.time", report, datetime=True) and ok
    filters = _filters(raw.get("filters"), raw["table"], f"{where}.filters", report)
    return ActivityCheck(raw["table"], raw["key"], raw["time"], filters) if ok else None


def _simple(params: dict[str, Any], report: _FileIssues) -> SimpleParams | None:
    where = "type_params"
    if not _keys(params, ("table", "agg", "column", "filters", "snapshot"), ("table", "agg"),
                 where, report):
        return None
    if not _check_table(params["table"], f"{where}.table", report):
        return None
    table = params["table"]
    agg = params["agg"]
    if agg not in AGGREGATIONS:
        report.add(f"{where}.agg",
                   f"unknown aggregation '{agg}' (known: {', '.join(AGGREGATIONS)})")
        return None
    column = params.get("column")
    if column is None and agg != "count":
        report.add(f"{where}.column", f"'{agg}' needs a column")
        return None
    if column is not None and not _check_column(table, column, f"{where}.column", report):
        return None
    filters = _filters(params.get("filters"), table, f"{where}.filters", report)
    snapshot = None
    if (raw := params.get("snapshot")) is not None:
        spot = f"{where}.snapshot"
        if not isinstance(raw, dict) or not _keys(raw, ("open_until", "idle_days", "activity"),
                                                  ("open_until",), spot, report):
            if not isinstance(raw, dict):
                report.add(spot, "must be a mapping {open_until, idle_days, activity}")
            return None
        if not _check_column(table, raw["open_until"], f"{spot}.open_until", report, datetime=True):
            return None
        idle = raw.get("idle_days")
        if idle is not None and (not isinstance(idle, int) or idle <= 0):
            report.add(f"{spot}.idle_days", "must be a positive whole number of days")
            return None
        activity = None
        if idle is not None:
            if raw.get("activity") is None:
                report.add(f"{spot}.activity", "needed with idle_days")
                return None
            activity = _activity(raw["activity"], f"{spot}.activity", report)
            if activity is None:
                return None
        snapshot = Snapshot(raw["open_until"], idle, activity)
    return SimpleParams(table, agg, column, filters, snapshot)


def _ratio(params: dict[str, Any], report: _FileIssues) -> RatioParams | None:
    if not _keys(params, ("numerator", "denominator"), ("numerator", "denominator"),
                 "type_params", report):
        return None
    return RatioParams(str(params["numerator"]), str(params["denominator"]))


def _derived(params: dict[str, Any], report: _FileIssues) -> DerivedParams | None:
    if not _keys(params, ("expr",), ("expr",), "type_params", report):
        return None
    try:
        names = parse_names(str(params["expr"]))
    except ValueError as error:
        report.add("type_params.expr", str(error))
        return None
    return DerivedParams(str(params["expr"]), names)


def _conversion(params: dict[str, Any], report: _FileIssues) -> ConversionParams | None:
    where = "type_params"
    allowed = ("table", "converted_column", "window_days", "calculation", "filters")
    if not _keys(params, allowed, ("table", "converted_column"), where, report):
        return None
    if not _check_table(params["table"], f"{where}.table", report):
        return None
    table = params["table"]
    if not _check_column(table, params["converted_column"], f"{where}.converted_column", report,
                         datetime=True):
        return None
    window = params.get("window_days")
    if window is not None and (not isinstance(window, int | float) or window <= 0):
        report.add(f"{where}.window_days", "must be a positive number of days")
        return None
    calculation = params.get("calculation", "rate")
    if calculation not in ("rate", "count"):
        report.add(f"{where}.calculation", "must be 'rate' or 'count'")
        return None
    filters = _filters(params.get("filters"), table, f"{where}.filters", report)
    return ConversionParams(table, params["converted_column"], window, calculation, filters)


def _duration(params: dict[str, Any], report: _FileIssues) -> DurationParams | None:
    where = "type_params"
    allowed = ("table", "start", "end", "end_first_of", "statistic", "filters", "report_missing")
    if not _keys(params, allowed, ("table", "start", "statistic"), where, report):
        return None
    if not _check_table(params["table"], f"{where}.table", report):
        return None
    table = params["table"]
    if params["statistic"] not in STATISTICS:
        report.add(f"{where}.statistic", f"must be one of {', '.join(STATISTICS)}")
        return None
    if not _check_column(table, params["start"], f"{where}.start", report, datetime=True):
        return None
    end, first_of = params.get("end"), params.get("end_first_of")
    if (end is None) == (first_of is None):
        report.add(f"{where}.end", "give exactly one of 'end' (a column) or 'end_first_of'")
        return None
    if end is not None and not _check_column(table, end, f"{where}.end", report, datetime=True):
        return None
    activity = _activity(first_of, f"{where}.end_first_of", report) if first_of else None
    if first_of is not None and activity is None:
        return None
    filters = _filters(params.get("filters"), table, f"{where}.filters", report)
    return DurationParams(table, params["start"], params["statistic"], end, activity, filters,
                          bool(params.get("report_missing", False)))


_PARSERS = {"simple": _simple, "ratio": _ratio, "derived": _derived, "conversion": _conversion,
            "duration": _duration}


# --- across files -----------------------------------------------------------------------------


def referenced(metric: MetricDefinition) -> tuple[str, ...]:
    """The metrics `metric` is computed from (ratio / derived), else ()."""
    params = metric.type_params
    if isinstance(params, RatioParams):
        return (params.numerator, params.denominator)
    if isinstance(params, DerivedParams):
        return params.metrics
    return ()


def _check_references(metrics: dict[str, MetricDefinition],
                      issues: list[CatalogIssue]) -> dict[str, MetricDefinition]:
    def where(metric: MetricDefinition) -> str:
        return metric.source_file.name if metric.source_file else metric.name

    broken: set[str] = set()
    for metric in metrics.values():
        for ref in referenced(metric):
            if ref not in metrics:
                field = "type_params.expr" if metric.type == "derived" else "type_params"
                hint = UnknownNameError("metric", ref, metrics).args[0]
                issues.append(CatalogIssue(where(metric), field, f"references {hint[0].lower()}"
                                           f"{hint[1:]}"))
                broken.add(metric.name)

    # Cycles: depth-first search over references.
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for ref in referenced(metrics[name]):
            if ref not in metrics:
                continue
            if state.get(ref) == 1:
                cycle = path[path.index(ref):] + [ref] if ref in path else [name, ref]
                issues.append(CatalogIssue(where(metrics[name]), "type_params",
                                           f"circular reference: {' -> '.join(cycle)}"))
                broken.add(name)
            elif ref not in state:
                visit(ref, path + [ref])
        state[name] = 2

    for name in metrics:
        if name not in state:
            visit(name, [name])

    # Names and synonyms must be unambiguous.
    owner: dict[str, str] = {_normal(name): name for name in metrics}
    for metric in metrics.values():
        for synonym in metric.synonyms:
            key = _normal(synonym)
            if key in owner and owner[key] != metric.name:
                issues.append(CatalogIssue(where(metric), "synonyms",
                                           f"'{synonym}' is already used by {owner[key]}"))
            owner.setdefault(key, metric.name)

    # Ratio / derived metrics: table, time column and dimensions come from their parts.
    resolved: dict[str, MetricDefinition | None] = {}

    def resolve(name: str) -> MetricDefinition | None:
        if name in resolved:
            return resolved[name]
        if name in broken or name not in metrics:
            resolved[name] = None
            return None
        metric = metrics[name]
        refs = referenced(metric)
        if refs:
            found = [resolve(r) for r in refs]
            parts = [p for p in found if p is not None]
            if len(parts) != len(found):
                resolved[name] = None
                return None
            tables = {p.table for p in parts}
            common = set(parts[0].dimensions).intersection(*(p.dimensions for p in parts[1:]))
            for dim in metric.dimensions:
                if dim not in common:
                    issues.append(CatalogIssue(where(metric), "dimensions",
                                               f"dimension '{dim}' is not allowed by every metric "
                                               f"it uses ({', '.join(refs)})"))
            metric = replace(metric, table=tables.pop() if len(tables) == 1 else None,
                             time_column=metric.time_column or parts[0].time_column,
                             dimensions=tuple(d for d in metric.dimensions if d in common))
        resolved[name] = metric
        return metric

    for name in metrics:
        resolve(name)
    return {name: m for name, m in resolved.items() if m is not None}
