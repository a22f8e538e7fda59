"""KPIs: a metric with targets (overall, per team, per rep), a period, an owner and an at-risk band.

Where targets come from, strongest first:
1. the `kpi_targets` table (`kpibot target set`), for one exact period and scope;
2. the user's KPI directory (`KPIBOT_TARGETS_DIR`), one YAML file per KPI, replacing a built-in
   KPI of the same name;
3. the built-in KPI pack in `kpi_engine/kpis/`.
A YAML target is a default for every period of the KPI's grain ("a month"); asked about another
span, an accumulating metric's target is scaled to its length (3 months for a quarter, 30/31 of a
month for "last 30 days") and a rate's target is used as is.

Pacing (`pace`): an accumulating metric (a count or a sum over the period) is judged on its run
rate: the target is pro-rated by the share of the period elapsed and the end-of-period value is
projected from the pace so far. Rates, averages, durations and snapshots are judged on their
current value against the target itself. Lower-is-better metrics invert the comparison. A KPI is
at risk when it misses the (pro-rated) target by no more than the band (a fraction of the
target), off track beyond that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, Engine, and_, func, select

from kpi_engine.calendar import Calendar, step
from kpi_engine.catalog import Catalog, CatalogIssue, MetricDefinition
from kpi_engine.catalog.model import ConversionParams, SimpleParams
from kpi_engine.clock import Clock
from kpi_engine.db.models import KpiTarget, Rep, Team
from kpi_engine.errors import InvalidInputError, KpiUserError, UnknownNameError
from kpi_engine.periods import Period, parse_period
from kpi_engine.query import query
from kpi_engine.specs import MetricResult

BUILTIN_DIR = Path(__file__).with_name("kpis")
KPI_GRAINS = ("week", "month", "quarter", "year")
KPI_KEYS = ("name", "metric", "label", "period", "owner", "at_risk_band", "targets")
TARGET_KEYS = ("overall", "teams", "reps")
DEFAULT_BAND = 0.1
STATUSES = ("on_track", "at_risk", "off_track", "no_data", "no_target")
# The C parser when PyYAML has it: the same safe loading, several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --- values --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Who a target is for: everyone, one team or one rep."""

    kind: str = "overall"  # "overall" | "team" | "rep"
    name: str | None = None

    def __str__(self) -> str:
        return "overall" if self.kind == "overall" else f"{self.kind} {self.name}"

    @property
    def dimension(self) -> str | None:
        """The catalog dimension that splits a metric by this scope."""
        return None if self.kind == "overall" else self.kind


OVERALL = Scope()


@dataclass(frozen=True)
class KpiDefinition:
    """One KPI as declared in YAML (built-in pack or user directory)."""

    name: str
    metric: str
    label: str | None
    period: str  # the grain the KPI is managed by: week | month | quarter | year
    owner: str | None
    at_risk_band: float
    overall: float | None = None
    teams: tuple[tuple[str, float], ...] = ()  # (team name, target)
    reps: tuple[tuple[str, float], ...] = ()  # (rep name, target)
    source_file: Path | None = field(default=None, compare=False)

    def default_targets(self) -> tuple[tuple[Scope, float], ...]:
        found: list[tuple[Scope, float]] = []
        if self.overall is not None:
            found.append((OVERALL, self.overall))
        found += [(Scope("team", name), value) for name, value in self.teams]
        found += [(Scope("rep", name), value) for name, value in self.reps]
        return tuple(found)


@dataclass(frozen=True)
class Target:
    """A target value for one metric, scope and period, and where it came from."""

    metric: str
    value: float
    scope: Scope
    period_start: dt.date  # local, inclusive
    period_end: dt.date  # local, exclusive
    at_risk_band: float
    owner: str | None
    source: str  # "database" or the YAML file it came from
    # A YAML default written for another span length is multiplied by this (1.0: as written).
    scale: float = 1.0


@dataclass(frozen=True)
class KpiStatus:
    """How one KPI stands over a period: the figures and the judgement, with their basis."""

    metric: str
    scope: Scope
    actual: float | None
    target: float | None
    prorated_target: float | None  # the target scaled to the share of the period elapsed
    projected: float | None  # the end-of-period value from the run rate (= actual for rates)
    status: str  # on_track | at_risk | off_track | no_data | no_target
    gap: float | None  # actual - prorated_target (its sign is bad for lower-is-better metrics)
    # Explanation data.
    method: str  # "run_rate": pro-rated and projected | "current_value": compared as is
    direction: str
    elapsed_fraction: float
    at_risk_band: float
    target_source: str | None
    label: str = ""
    owner: str | None = None
    unit: str = "count"
    period_label: str = ""

    def explanation(self) -> str:
        """One plain sentence saying why the status is what it is."""
        if self.status == "no_target":
            return f"No target is set for {self.metric} ({self.scope})."
        if self.status == "no_data":
            return f"No data yet for {self.metric} ({self.scope}) in {self.period_label}."
        lower = self.direction == "lower_is_better"
        limit = "at most" if lower else "at least"
        if self.method == "run_rate":
            basis = (
                f"{self.elapsed_fraction:.0%} of the period has elapsed, so the pro-rated target "
                f"is {self.prorated_target:,.4g}; at this pace the period ends near "
                f"{self.projected:,.4g} against a target of {limit} {self.target:,.4g}"
            )
        else:
            basis = f"the current value {self.actual:,.4g} is compared with a target of {limit} "
            basis += f"{self.target:,.4g}"
        band = f"within {self.at_risk_band:.0%} of the target counts as at risk"
        return f"{self.status.replace('_', ' ').capitalize()}: {basis} ({band})."


class KpiDefinitionError(KpiUserError):
    """The KPI files have problems; `issues` lists every one of them, with file and field."""

    def __init__(self, issues: Iterable[CatalogIssue]) -> None:
        self.issues = tuple(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{len(self.issues)} problem(s) in the KPI definitions:\n{lines}")


# --- loading KPI definitions -----------------------------------------------------------------


def load_kpis(catalog: Catalog, user_dir: Path | None = None) -> tuple[KpiDefinition, ...]:
    """The built-in KPI pack plus `user_dir` (a KPI there replaces the built-in one of its name).

    Every problem in every file is reported at once in one KpiDefinitionError.
    """
    issues: list[CatalogIssue] = []
    merged: dict[str, KpiDefinition] = {}
    for directory in (BUILTIN_DIR, user_dir):
        if directory is None:
            continue
        if not directory.is_dir():
            issues.append(CatalogIssue(str(directory), "-", "KPI directory not found"))
            continue
        seen: dict[str, str] = {}
        for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
            kpi = _load_kpi_file(path, catalog, issues)
            if kpi is None:
                continue
            if kpi.name in seen:
                issues.append(CatalogIssue(
                    path.name, "name", f"duplicate KPI '{kpi.name}' (also in {seen[kpi.name]})"
                ))
                continue
            seen[kpi.name] = path.name
            merged[kpi.name] = kpi
    metrics_seen: dict[str, str] = {}
    for kpi in merged.values():
        # Database targets are keyed by metric, so two KPIs over one metric would be ambiguous.
        if kpi.metric in metrics_seen:
            issues.append(CatalogIssue(
                _file_name(kpi), "metric",
                f"metric '{kpi.metric}' already has the KPI '{metrics_seen[kpi.metric]}'",
            ))
        metrics_seen[kpi.metric] = kpi.name
    if issues:
        raise KpiDefinitionError(issues)
    return tuple(sorted(merged.values(), key=lambda k: k.name))


def _file_name(kpi: KpiDefinition) -> str:
    return kpi.source_file.name if kpi.source_file else kpi.name


def _load_kpi_file(
    path: Path, catalog: Catalog, sink: list[CatalogIssue]
) -> KpiDefinition | None:
    def add(field_name: str, message: str) -> None:
        sink.append(CatalogIssue(path.name, field_name, message))

    before = len(sink)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        add("-", f"not valid YAML: {error}".replace("\n", " "))
        return None
    if not isinstance(raw, dict):
        add("-", "expected a mapping of KPI fields")
        return None
    for key in raw:
        if key not in KPI_KEYS:
            add(str(key), f"unknown field (known: {', '.join(KPI_KEYS)})")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        add("name", "missing" if name is None else "must be a string")
    elif name != path.stem:
        add("name", f"must match the file name '{path.stem}'")
    metric_name = raw.get("metric", name)
    metric: MetricDefinition | None = None
    if not isinstance(metric_name, str):
        add("metric", "missing" if metric_name is None else "must be a metric name")
    else:
        try:
            metric = catalog.metric(metric_name)
        except UnknownNameError as error:
            add("metric", str(error))
    label = raw.get("label")
    if label is not None and not isinstance(label, str):
        add("label", "must be a string")
    grain = raw.get("period", "month")
    if grain not in KPI_GRAINS:
        add("period", f"'{grain}' is not one of {', '.join(KPI_GRAINS)}")
    owner = raw.get("owner")
    if owner is not None and not isinstance(owner, str):
        add("owner", "must be a string")
    band = _band(raw.get("at_risk_band", DEFAULT_BAND), lambda m: add("at_risk_band", m))
    targets = raw.get("targets") or {}
    overall: float | None = None
    teams: tuple[tuple[str, float], ...] = ()
    reps: tuple[tuple[str, float], ...] = ()
    if not isinstance(targets, dict):
        add("targets", "must be a mapping with overall, teams and reps")
    else:
        for key in targets:
            if key not in TARGET_KEYS:
                add(f"targets.{key}", f"unknown field (known: {', '.join(TARGET_KEYS)})")
        if targets.get("overall") is not None:
            overall = _target_value(targets["overall"], metric, "targets.overall", add)
        teams = _named_targets(targets.get("teams"), metric, "targets.teams", add)
        reps = _named_targets(targets.get("reps"), metric, "targets.reps", add)
    if len(sink) > before or metric is None:
        return None
    return KpiDefinition(
        name=str(name), metric=metric.name, label=label or metric.label, period=str(grain),
        owner=owner, at_risk_band=band, overall=overall, teams=teams, reps=reps,
        source_file=path,
    )


def _named_targets(
    raw: Any, metric: MetricDefinition | None, where: str, add: Any
) -> tuple[tuple[str, float], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        add(where, "must map names to target values")
        return ()
    found = []
    for name, value in raw.items():
        number = _target_value(value, metric, f"{where}.{name}", add)
        if number is not None:
            found.append((str(name), number))
    return tuple(found)


def _target_value(raw: Any, metric: MetricDefinition | None, where: str, add: Any) -> float | None:
    try:
        return check_target_value(raw, metric)
    except InvalidInputError as error:
        add(where, str(error))
        return None


def check_target_value(raw: Any, metric: MetricDefinition | None) -> float:
    """A target value as a float: numbers, or "25%" for a rate; rates must lie in 0..1."""
    if isinstance(raw, bool):
        raise InvalidInputError(f"'{raw}' is not a number")
    value: float
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        text = raw.strip().replace(",", "").replace("_", "")
        try:
            value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise InvalidInputError(f"'{raw}' is not a number") from None
    else:
        raise InvalidInputError(f"'{raw}' is not a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidInputError(f"'{raw}' is not a finite number")
    if value < 0:
        raise InvalidInputError(f"a target cannot be negative ({value:g})")
    if metric is not None and metric.unit == "fraction" and value > 1:
        raise InvalidInputError(
            f"{metric.name} is a rate: write {value:g}% as {value / 100:g} or '{value:g}%'"
        )
    return value


def _band(raw: Any, add: Any) -> float:
    try:
        return check_band(raw)
    except InvalidInputError as error:
        add(str(error))
        return DEFAULT_BAND


def check_band(raw: Any) -> float:
    """An at-risk band: a fraction of the target in [0, 1)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise InvalidInputError(f"'{raw}' is not a number; write a fraction like 0.1")
    if not 0 <= raw < 1:
        raise InvalidInputError(f"{raw:g} must be a fraction of the target in [0, 1), like 0.1")
    return float(raw)


# --- which metrics accumulate over a period --------------------------------------------------


def accumulates(metric: MetricDefinition) -> bool:
    """True for a count or sum that grows through the period, so a run rate makes sense."""
    params = metric.type_params
    if isinstance(params, SimpleParams):
        return params.snapshot is None and params.agg in ("count", "sum", "count_distinct")
    if isinstance(params, ConversionParams):
        return params.calculation == "count"
    return False


# --- pacing --------------------------------------------------------------------------------


def pace_value(
    actual: float | None, target: Target, period: Period, *,
    accumulating: bool, direction: str, metric: str | None = None,
) -> KpiStatus:
    """Judge `actual` over `period` against `target`: pure arithmetic, no database."""
    elapsed = period.elapsed_fraction
    band = target.at_risk_band
    goal = target.value * target.scale
    lower = direction == "lower_is_better"
    base = dict(
        metric=metric or target.metric, scope=target.scope, target=goal, direction=direction,
        elapsed_fraction=elapsed, at_risk_band=band, target_source=target.source,
        owner=target.owner,
    )
    if accumulating:
        actual = 0.0 if actual is None else actual  # nothing counted yet is zero so far
        if elapsed <= 0:
            return KpiStatus(actual=actual, prorated_target=0.0, projected=None, status="no_data",
                             gap=None, method="run_rate", **base)
        prorated = goal * elapsed
        projected = actual / elapsed
        status = _judge(actual, prorated, band, lower)
        return KpiStatus(actual=actual, prorated_target=prorated, projected=projected,
                         status=status, gap=actual - prorated, method="run_rate", **base)
    if actual is None:
        return KpiStatus(actual=None, prorated_target=goal, projected=None, status="no_data",
                         gap=None, method="current_value", **base)
    return KpiStatus(actual=actual, prorated_target=goal, projected=actual,
                     status=_judge(actual, goal, band, lower), gap=actual - goal,
                     method="current_value", **base)


def _judge(actual: float, goal: float, band: float, lower: bool) -> str:
    # Multiplications, not ratios: a zero target must not divide by zero.
    if lower:
        if actual <= goal:
            return "on_track"
        return "at_risk" if actual <= goal * (1 + band) else "off_track"
    if actual >= goal:
        return "on_track"
    return "at_risk" if actual >= goal * (1 - band) else "off_track"


def pace(result: MetricResult, target: Target, period: Period) -> KpiStatus:
    """Judge a query result's total against `target` over `period`."""
    metric: MetricDefinition = result.metric
    return pace_value(
        result.total.value, target, period, accumulating=accumulates(metric),
        direction=metric.direction, metric=metric.name,
    )


# --- targets: database and YAML ------------------------------------------------------------


def period_dates(period: Period) -> tuple[dt.date, dt.date]:
    """A period's local first day and exclusive end day, as targets store them."""
    return period.first_day(), period.end.date()


def database_targets(conn: Connection, period: Period) -> list[Target]:
    """The `kpi_targets` rows set for exactly this period (every metric and scope)."""
    first, end = period_dates(period)
    table, teams, reps = KpiTarget.__table__, Team.__table__, Rep.__table__
    query = (
        select(table.c.metric, table.c.value, table.c.at_risk_band, table.c.owner,
               table.c.period_start, table.c.period_end,
               teams.c.name.label("team"), reps.c.name.label("rep"))
        .select_from(table.outerjoin(teams, teams.c.id == table.c.team_id)
                     .outerjoin(reps, reps.c.id == table.c.rep_id))
        .where(table.c.period_start == first, table.c.period_end == end)
        .order_by(table.c.metric, table.c.id)
    )
    found = []
    for row in conn.execute(query):
        scope = Scope("rep", row.rep) if row.rep is not None else (
            Scope("team", row.team) if row.team is not None else OVERALL
        )
        found.append(Target(row.metric, float(row.value), scope, row.period_start,
                            row.period_end, float(row.at_risk_band), row.owner, "database"))
    return found


def database_target_grains(conn: Connection) -> dict[str, str]:
    """For each metric with database targets, the shortest kind of period they are set for."""
    table = KpiTarget.__table__
    grains: dict[str, str] = {}
    for metric, kind in conn.execute(select(table.c.metric, table.c.period_kind).distinct()):
        if kind in KPI_GRAINS and (
            metric not in grains or KPI_GRAINS.index(kind) < KPI_GRAINS.index(grains[metric])
        ):
            grains[metric] = kind
    return grains


def yaml_targets(kpi: KpiDefinition, period: Period, calendar: Calendar,
                 accumulating: bool) -> list[Target]:
    """The KPI's YAML defaults, as targets for `period` (scaled to its length if needed)."""
    first, end = period_dates(period)
    scale = _scale(kpi.period, first, end, calendar) if accumulating else 1.0
    source = str(kpi.source_file.name) if kpi.source_file else kpi.name
    if kpi.source_file is not None and kpi.source_file.parent != BUILTIN_DIR:
        source = str(kpi.source_file)
    return [Target(kpi.metric, value, scope, first, end, kpi.at_risk_band, kpi.owner, source,
                   scale) for scope, value in kpi.default_targets()]


def _scale(grain: str, first: dt.date, end: dt.date, calendar: Calendar) -> float:
    """How many `grain` units the span [first, end) holds (whole units when it is aligned)."""
    if calendar.floor(first, grain) == first and calendar.floor(end, grain) == end:
        units, cursor = 0, first
        while cursor < end:
            cursor = cursor + step(grain)
            units += 1
        return float(units)
    unit_days = (calendar.floor(first, grain) + step(grain) - calendar.floor(first, grain)).days
    return (end - first).days / unit_days


def resolve_targets(
    kpi: KpiDefinition, period: Period, calendar: Calendar, accumulating: bool,
    stored: Sequence[Target],
) -> list[Target]:
    """The KPI's targets for `period`: database rows win over YAML for the same scope."""
    chosen: dict[tuple[str, str], Target] = {}  # names match whatever their case
    for target in yaml_targets(kpi, period, calendar, accumulating):
        chosen[target.scope.kind, (target.scope.name or "").lower()] = target
    for target in stored:
        if target.metric == kpi.metric:
            chosen[target.scope.kind, (target.scope.name or "").lower()] = target
    order = {"overall": 0, "team": 1, "rep": 2}
    return sorted(chosen.values(), key=lambda t: (order[t.scope.kind], t.scope.name or ""))


def set_target(
    engine: Engine, catalog: Catalog, metric: str, value: Any, period: Period, *,
    team: str | None = None, rep: str | None = None, at_risk_band: float | None = None,
    owner: str | None = None, kpis: Sequence[KpiDefinition] = (),
) -> Target:
    """Write (insert or update) one target row for a whole week, month, quarter or year."""
    definition = catalog.metric(metric)
    number = check_target_value(value, definition)
    if team is not None and rep is not None:
        raise InvalidInputError("A target is for one team or one rep, not both.")
    if period.grain not in KPI_GRAINS:
        raise InvalidInputError(
            f"Targets are set for a whole week, month, quarter or year, not for "
            f"'{period.label}'. Try --period 'this month' or --period 'Q3 2026'."
        )
    kpi = next((k for k in kpis if k.metric == definition.name), None)
    band = check_band(at_risk_band) if at_risk_band is not None else (
        kpi.at_risk_band if kpi else DEFAULT_BAND
    )
    owner = owner if owner is not None else (kpi.owner if kpi else None)
    first, end = period_dates(period)
    table = KpiTarget.__table__
    with engine.begin() as conn:
        team_id = _find_id(conn, Team.__table__, "team", team) if team is not None else None
        rep_id = _find_id(conn, Rep.__table__, "rep", rep) if rep is not None else None
        scope_match = and_(
            table.c.team_id.is_(None) if team_id is None else table.c.team_id == team_id,
            table.c.rep_id.is_(None) if rep_id is None else table.c.rep_id == rep_id,
        )
        where = and_(table.c.metric == definition.name, table.c.period_start == first,
                     table.c.period_end == end, scope_match)
        values = dict(value=number, at_risk_band=band, owner=owner, period_kind=period.grain)
        existing = conn.execute(select(table.c.id).where(where)).scalar()
        if existing is None:
            conn.execute(table.insert().values(
                metric=definition.name, period_start=first, period_end=end, team_id=team_id,
                rep_id=rep_id, **values,
            ))
        else:
            conn.execute(table.update().where(table.c.id == existing).values(**values))
    scope = Scope("team", team) if team else (Scope("rep", rep) if rep else OVERALL)
    if team_id is not None or rep_id is not None:
        scope = replace(scope, name=_canonical_name(engine, team_id, rep_id))
    return Target(definition.name, number, scope, first, end, band, owner, "database")


def _find_id(conn: Connection, table: Any, kind: str, name: str) -> int:
    rows = conn.execute(
        select(table.c.id, table.c.name).where(func.lower(table.c.name) == name.strip().lower())
    ).all()
    if len(rows) > 1:
        raise InvalidInputError(f"{len(rows)} {kind}s are called '{name}'; rename one first.")
    if not rows:
        known = [n for (n,) in conn.execute(select(table.c.name).order_by(table.c.name))]
        if not known:
            raise InvalidInputError(f"There are no {kind}s in the database yet.")
        raise UnknownNameError(kind, name, known)
    return int(rows[0].id)


def _canonical_name(engine: Engine, team_id: int | None, rep_id: int | None) -> str:
    table = Team.__table__ if team_id is not None else Rep.__table__
    with engine.connect() as conn:
        return str(conn.execute(
            select(table.c.name).where(table.c.id == (team_id if team_id is not None else rep_id))
        ).scalar_one())


# --- the KPI board -------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiBoard:
    """Every KPI's status over its period (or one asked period)."""

    statuses: tuple[KpiStatus, ...]
    periods: Mapping[str, Period]  # metric -> the period it was judged over


def kpi_board(
    engine: Engine, catalog: Catalog, kpis: Sequence[KpiDefinition], clock: Clock,
    calendar: Calendar, period_text: str | None = None,
) -> KpiBoard:
    """Each KPI with actual, target, status and projection, per scope that has a target.

    Without `period_text` each KPI is judged over its own current period ("this month").
    Metrics that have database targets but no KPI file are KPIs too.
    """
    asked = parse_period(period_text, clock, calendar) if period_text else None
    with engine.connect() as conn:
        implicit = database_target_grains(conn)
    definitions = list(kpis)
    declared = {k.metric for k in definitions}
    for metric_name, grain in sorted(implicit.items()):
        if metric_name in declared:
            continue
        try:
            metric = catalog.metric(metric_name)
        except UnknownNameError:
            continue  # a target for a metric that no longer exists: nothing to measure
        definitions.append(KpiDefinition(metric_name, metric_name, metric.label, grain, None,
                                         DEFAULT_BAND))
    statuses: list[KpiStatus] = []
    periods: dict[str, Period] = {}
    stored_by_period: dict[tuple[dt.date, dt.date], list[Target]] = {}
    for kpi in definitions:
        metric = catalog.metric(kpi.metric)
        period = asked or parse_period(f"this {kpi.period}", clock, calendar)
        periods[metric.name] = period
        key = period_dates(period)
        if key not in stored_by_period:
            with engine.connect() as conn:
                stored_by_period[key] = database_targets(conn, period)
        accumulating = accumulates(metric)
        targets = resolve_targets(kpi, period, calendar, accumulating, stored_by_period[key])
        actuals = _actuals(engine, catalog, metric, period, targets)
        label = kpi.label or metric.label
        if not any(t.scope == OVERALL for t in targets):
            # The overall figure is always shown, with or without a target of its own.
            statuses.append(_no_target(metric, OVERALL, actuals.get(OVERALL), period, kpi, label))
        for target in targets:
            status = pace_value(actuals.get(target.scope), target, period,
                                accumulating=accumulating, direction=metric.direction,
                                metric=metric.name)
            statuses.append(replace(status, label=label, unit=metric.unit,
                                    period_label=period.label,
                                    owner=target.owner or kpi.owner))
    return KpiBoard(tuple(statuses), periods)


def _actuals(
    engine: Engine, catalog: Catalog, metric: MetricDefinition, period: Period,
    targets: Sequence[Target],
) -> dict[Scope, float | None]:
    """The metric's value overall and for each team / rep with a target (a query per split)."""
    values: dict[Scope, float | None] = {}
    for kind in ("team", "rep"):
        wanted = {t.scope for t in targets if t.scope.kind == kind}
        if not wanted or kind not in metric.dimensions:
            continue  # a metric that cannot be split this way shows no data for those targets
        split = query(engine, catalog, metric.name, period, group_by=(kind,))
        values[OVERALL] = split.total.value
        by_name = {dict(row.group).get(kind, "").lower(): row.value for row in split.rows}
        for scope in wanted:
            values[scope] = by_name.get((scope.name or "").lower())
    if OVERALL not in values:
        values[OVERALL] = query(engine, catalog, metric.name, period).total.value
    return values


def _no_target(metric: MetricDefinition, scope: Scope, actual: float | None, period: Period,
               kpi: KpiDefinition, label: str) -> KpiStatus:
    return KpiStatus(
        metric=metric.name, scope=scope, actual=actual, target=None, prorated_target=None,
        projected=actual / period.elapsed_fraction
        if actual is not None and accumulates(metric) and period.elapsed_fraction > 0 else actual,
        status="no_target", gap=None,
        method="run_rate" if accumulates(metric) else "current_value",
        direction=metric.direction, elapsed_fraction=period.elapsed_fraction,
        at_risk_band=kpi.at_risk_band, target_source=None, label=label, owner=kpi.owner,
        unit=metric.unit, period_label=period.label,
    )
