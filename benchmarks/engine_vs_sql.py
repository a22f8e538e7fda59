"""The KPI engine against hand-written SQL, on the same database, for typical questions.

For each question the engine runs end to end — parse the period, build the request,
compile, execute, compose the result values — and a hand-written SQL query computes the
same figure; runs alternate (engine, SQL, engine, SQL ...) after a warm-up, and the median
of each gives the ratio. Both answers must agree, or the question is marked WRONG.

Then:
- the engine's own overhead without the database: parse + request + compile + render SQL
  + compose the result from the rows (the database's rows are captured once beforehand);
- EXPLAIN of the engine's statements: date filters on a bare column use the time index,
  and a multi-metric request over one table is one statement, one scan;
- `kpibot metric ...` from the command line on the Maven data (start-up included), run
  repeatedly as subprocesses, hyperfine style.

    python -m benchmarks.generate_crm --scale 1               # once: the data
    python -m benchmarks.engine_vs_sql --scale 1 --repeat 9    # both backends
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, event, text

from benchmarks.generate_crm import BENCH_NOW, DATA_DIR, bench_engine
from kpi_engine.calendar import Calendar
from kpi_engine.catalog import Catalog, load_catalog
from kpi_engine.clock import FixedClock
from kpi_engine.compile import compile_request
from kpi_engine.periods import parse_period
from kpi_engine.query import run
from kpi_engine.specs import MetricRequest, MetricResult

REPO = Path(__file__).resolve().parents[1]
MAVEN_DIR = REPO.parent / "shared" / "data" / "maven_crm_sales"
UTC = ZoneInfo("UTC")
Figures = dict[str, float | None]

# Bounds are bound as parameters: :start/:end for the period, :start0/:end0 for a baseline.
_RANGE = "{col} >= :start AND {col} < :end"


@dataclass(frozen=True)
class Question:
    """A typical question, the engine request for it and a hand-written query for it."""

    title: str
    metrics: tuple[str, ...]
    period: str
    hand_sql: Callable[[str], str]  # dialect -> SQL text
    read_hand: Callable[[Sequence[Any]], Figures]  # rows -> figures
    group_by: tuple[str, ...] = ()
    grain: str | None = None
    compare: str | None = None
    uses_baseline: bool = False


def _scalar(rows: Sequence[Any]) -> Figures:
    return {"": _num(rows[0][0])}


def _pairs(rows: Sequence[Any]) -> Figures:
    return {str(r[0]): _num(r[1]) for r in rows}


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _series_sql(dialect: str) -> str:
    month = ("strftime('%Y-%m-01', closed_at)" if dialect == "sqlite"
             else "to_char(date_trunc('month', closed_at), 'YYYY-MM-DD')")
    return (f"SELECT {month} AS month, count(*) FROM deals "
            f"WHERE is_won = :won AND {_RANGE.format(col='closed_at')} GROUP BY 1")


def _median_sql(dialect: str) -> str:
    where = f"is_won = :won AND {_RANGE.format(col='closed_at')}"
    if dialect == "postgresql":
        return ("SELECT percentile_cont(0.5) WITHIN GROUP "
                "(ORDER BY EXTRACT(EPOCH FROM closed_at - created_at) / 86400) "
                f"FROM deals WHERE {where}")
    # SQLite has no median: the middle one or two values of the sorted durations.
    return (f"WITH d AS (SELECT julianday(closed_at) - julianday(created_at) AS days "
            f"FROM deals WHERE {where}), n AS (SELECT count(*) AS c FROM d) "
            "SELECT avg(days) FROM (SELECT days FROM d ORDER BY days "
            "LIMIT 2 - (SELECT c FROM n) % 2 OFFSET ((SELECT c FROM n) - 1) / 2)")


def _several(rows: Sequence[Any]) -> Figures:
    won, lost, revenue = (float(v or 0) for v in rows[0])
    return {"deals_won": won, "deals_lost": lost, "revenue_won": revenue,
            "win_rate": won / (won + lost) if won + lost else None,
            "avg_deal_size": revenue / won if won else None}


QUESTIONS: tuple[Question, ...] = (
    Question(
        "leads created this month", ("leads_created",), "this month",
        lambda d: f"SELECT count(*) FROM leads WHERE {_RANGE.format(col='created_at')}",
        _scalar,
    ),
    Question(
        "win rate last quarter by team", ("win_rate",), "last quarter",
        lambda d: ("SELECT t.name, avg(CASE WHEN d.is_won = :won THEN 1.0 ELSE 0.0 END) "
                   "FROM deals d JOIN reps r ON r.id = d.owner_id "
                   "JOIN teams t ON t.id = r.team_id "
                   f"WHERE {_RANGE.format(col='d.closed_at')} AND d.is_won IS NOT NULL "
                   "GROUP BY t.name"),
        _pairs, group_by=("team",),
    ),
    Question(
        "revenue won this quarter vs previous", ("revenue_won",), "this quarter",
        lambda d: ("SELECT sum(CASE WHEN closed_at >= :start THEN amount END), "
                   "sum(CASE WHEN closed_at < :end0 THEN amount END) FROM deals "
                   "WHERE is_won = :won AND closed_at >= :start0 AND closed_at < :end"),
        lambda rows: {"current": _num(rows[0][0]), "baseline": _num(rows[0][1])},
        compare="previous", uses_baseline=True,
    ),
    Question(
        "deals won by month, last 6 months", ("deals_won",), "last 6 months",
        _series_sql, _pairs, grain="month",
    ),
    Question(
        "sales cycle median, last quarter", ("sales_cycle_days",), "last quarter",
        _median_sql, _scalar,
    ),
    Question(
        "open deals now", ("open_deals",), "today",
        lambda d: ("SELECT count(*) FROM deals WHERE created_at < :end "
                   "AND (closed_at IS NULL OR closed_at >= :end)"),
        _scalar,
    ),
    Question(
        "activities logged last week by rep", ("activities_logged",), "last week",
        lambda d: ("SELECT r.name, count(*) FROM activities a JOIN reps r ON r.id = a.rep_id "
                   f"WHERE {_RANGE.format(col='a.occurred_at')} GROUP BY r.name"),
        _pairs, group_by=("rep",),
    ),
    Question(
        "5 deal metrics last quarter, one request",
        ("deals_won", "deals_lost", "revenue_won", "win_rate", "avg_deal_size"), "last quarter",
        lambda d: ("SELECT sum(CASE WHEN is_won = :won THEN 1 ELSE 0 END), "
                   "sum(CASE WHEN is_won = :lost THEN 1 ELSE 0 END), "
                   "sum(CASE WHEN is_won = :won THEN amount END) "
                   f"FROM deals WHERE {_RANGE.format(col='closed_at')}"),
        _several,
    ),
)


# --- the two ways to answer --------------------------------------------------------------


@dataclass
class Setup:
    engine: Engine
    catalog: Catalog
    clock: FixedClock
    calendar: Calendar
    dialect: str = field(init=False)

    def __post_init__(self) -> None:
        self.dialect = self.engine.dialect.name


def _request(setup: Setup, q: Question) -> MetricRequest:
    period = parse_period(q.period, setup.clock, setup.calendar)
    return MetricRequest.create(q.metrics, period, grain=q.grain, group_by=q.group_by,
                                compare=q.compare)


def ask_engine(setup: Setup, q: Question) -> tuple[MetricResult, ...]:
    """The engine end to end: parse the period, build the request, run it."""
    return run(setup.engine, setup.catalog, _request(setup, q))


def engine_figures(q: Question, results: tuple[MetricResult, ...]) -> Figures:
    if len(results) > 1:
        return {r.metric.name: r.total.value for r in results}
    result = results[0]
    if q.compare:
        assert result.comparison is not None
        return {"current": result.total.value, "baseline": result.comparison.baseline}
    if q.grain:
        return {r.bucket.strftime("%Y-%m-%d"): r.value for r in result.rows if r.bucket}
    if q.group_by:
        return {r.group[0][1]: r.value for r in result.rows}
    return {"": result.total.value}


def _bound(moment: dt.datetime, dialect: str) -> Any:
    # SQLite stores DateTime as text in SQLAlchemy's format; bind the same text.
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else moment


def hand_params(setup: Setup, q: Question) -> dict[str, Any]:
    period = parse_period(q.period, setup.clock, setup.calendar)
    start, end = period.utc_bounds()
    params: dict[str, Any] = {"start": _bound(start, setup.dialect),
                              "end": _bound(end, setup.dialect), "won": True, "lost": False}
    if q.uses_baseline:
        start0, end0 = period.previous().utc_bounds()
        params |= {"start0": _bound(start0, setup.dialect), "end0": _bound(end0, setup.dialect)}
    return params


def ask_hand(setup: Setup, q: Question, params: Mapping[str, Any]) -> list[Any]:
    with setup.engine.connect() as conn:
        return list(conn.execute(text(q.hand_sql(setup.dialect)), params).all())


def same(a: Figures, b: Figures) -> bool:
    """Equal figures (to float rounding); empty series buckets count as zero."""
    keys = set(a) | set(b)
    for key in keys:
        x, y = a.get(key), b.get(key)
        x, y = (x or 0.0), (y or 0.0)
        if abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
            return False
    return True


# --- measurements ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Medians of wall-clock time, and of this process's CPU time (user + system): with
    SQLite the database runs in-process, so CPU time is immune to other load on the box."""

    title: str
    engine_ms: float
    hand_ms: float
    engine_cpu_ms: float
    hand_cpu_ms: float
    statements: int
    agree: bool

    @property
    def ratio(self) -> float:
        return self.engine_ms / self.hand_ms

    @property
    def cpu_ratio(self) -> float:
        return self.engine_cpu_ms / self.hand_cpu_ms


def time_question(setup: Setup, q: Question, repeat: int) -> Timing:
    params = hand_params(setup, q)
    results = ask_engine(setup, q)  # warm-up: caches, pages, catalog
    hand_rows = ask_hand(setup, q, params)
    agree = same(engine_figures(q, results), q.read_hand(hand_rows))
    runs: dict[str, list[tuple[float, float]]] = {"engine": [], "hand": []}
    for _ in range(repeat):
        for side in ("engine", "hand"):
            wall, cpu = time.perf_counter(), time.process_time()
            if side == "engine":
                ask_engine(setup, q)
            else:
                ask_hand(setup, q, params)
            runs[side].append((time.perf_counter() - wall, time.process_time() - cpu))
    statements = results[0].sql.count(";\n\n") + 1

    def ms(side: str, index: int) -> float:
        return 1000 * statistics.median(r[index] for r in runs[side])

    return Timing(q.title, ms("engine", 0), ms("hand", 0), ms("engine", 1), ms("hand", 1),
                  statements, agree)


def engine_overhead_ms(setup: Setup, q: Question, repeat: int) -> float:
    """Planning + compiling + rendering + composing, without the database, in ms."""
    from kpi_engine.query import _result  # composing from rows already fetched

    request = _request(setup, q)
    plan = compile_request(request, setup.catalog, setup.dialect)
    with setup.engine.connect() as conn:
        if setup.dialect == "sqlite":
            from kpi_engine.query import _register_sqlite_functions

            _register_sqlite_functions(conn)
        outputs = [[dict(r) for r in conn.execute(s.statement).mappings()] for s in plan.scans]
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        request = _request(setup, q)
        plan = compile_request(request, setup.catalog, setup.dialect)
        sql = ";\n\n".join(str(s.statement.compile(dialect=setup.engine.dialect))
                           for s in plan.scans)
        for metric in plan.metrics:
            _result(plan, setup.catalog, metric, outputs, sql, "x")
        runs.append(time.perf_counter() - started)
    return 1000 * statistics.median(runs)


def explain(setup: Setup, q: Question) -> list[str]:
    """The database's plan for each statement the engine runs for `q` (one line each)."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Connection, cursor: Any, statement: str, parameters: Any,
                context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    event.listen(setup.engine, "before_cursor_execute", capture)
    try:
        ask_engine(setup, q)
    finally:
        event.remove(setup.engine, "before_cursor_execute", capture)
    lines = []
    prefix = "EXPLAIN QUERY PLAN " if setup.dialect == "sqlite" else "EXPLAIN "
    with setup.engine.connect() as conn:
        if setup.dialect == "sqlite":
            from kpi_engine.query import _register_sqlite_functions

            _register_sqlite_functions(conn)
        for statement, parameters in captured:
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            plan = [_tidy(r[-1]) for r in rows]
            lines.append(" | ".join(p for p in plan if _interesting(p)))
    return lines


def _tidy(line: str) -> str:
    """A plan line without the cost estimates and type casts, for reading."""
    line = re.sub(r"\s*\(cost=[^)]*\)", "", line)
    return line.replace("::timestamp without time zone", "").replace("->", "").strip()


def _interesting(line: str) -> bool:
    words = ("SCAN", "SEARCH", "Scan", "Index", "Seq", "Filter", "Cond", "USE TEMP")
    return any(w in line for w in words)


def cli_timing(runs: int, warmup: int = 2) -> list[tuple[str, float, float, float, float]]:
    """`kpibot metric ...` on the Maven data as a subprocess, start-up included:
    (command, mean, sd, min, mean CPU) in ms; CPU = the child's user + system time."""
    db_path = DATA_DIR / "maven.db"
    if not db_path.exists():
        from kpi_engine.db import migrate
        from kpi_engine.db.session import make_engine
        from kpi_engine.importers import import_maven_crm

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        maven = make_engine(f"sqlite:///{db_path}")
        migrate.upgrade(maven)
        import_maven_crm(maven, MAVEN_DIR)
        maven.dispose()
    env = {**os.environ, "KPIBOT_DATABASE_URL": f"sqlite:///{db_path}",
           "KPIBOT_NOW": "2017-12-31T12:00:00", "KPIBOT_TIMEZONE": "UTC"}
    kpibot = str(Path(sys.executable).with_name("kpibot"))
    commands = [
        [kpibot, "--help"],
        [kpibot, "metric", "win_rate", "--period", "2017 Q3"],
        [kpibot, "metric", "revenue_won", "--period", "this year", "--by", "team", "--json"],
        [kpibot, "metric", "deals_won", "--period", "this year", "--grain", "month",
         "--compare", "last-year"],
    ]
    out = []
    for command in commands:
        times, cpu_times = [], []
        for i in range(warmup + runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(command[1:])} failed: {done.stderr.strip()}")
            if i >= warmup:
                times.append(1000 * elapsed)
                cpu_times.append(1000 * (after.ru_utime - before.ru_utime
                                         + after.ru_stime - before.ru_stime))
        label = "kpibot " + " ".join(f'"{c}"' if " " in c else c for c in command[1:])
        out.append((label, statistics.mean(times), statistics.stdev(times), min(times),
                    statistics.mean(cpu_times)))
    return out


# --- report ------------------------------------------------------------------------------


def bench_backend(backend: str, scale: float, repeat: int) -> None:
    engine = bench_engine(backend, scale)
    setup = Setup(engine, load_catalog(None), FixedClock(BENCH_NOW, UTC), Calendar(UTC))
    with engine.connect() as conn:
        deals = conn.execute(text("SELECT count(*) FROM deals")).scalar_one()
        activities = conn.execute(text("SELECT count(*) FROM activities")).scalar_one()
    print(f"\n### {backend} — scale {scale:g}: {deals:,} deals, {activities:,} activities "
          f"(now = {BENCH_NOW:%Y-%m-%d %H:%M} UTC, median of {repeat} alternating runs)\n")
    cpu = backend == "sqlite"
    print("| question | engine ms | hand SQL ms | ratio |"
          + (" engine CPU ms | hand CPU ms | CPU ratio |" if cpu else "")
          + " engine statements | same figures |")
    print("|---|---:|---:|---:|" + ("---:|---:|---:|" if cpu else "") + "---:|---|")
    timings = []
    for q in QUESTIONS:
        t = time_question(setup, q, repeat)
        timings.append(t)
        print(f"| {t.title} | {t.engine_ms:.1f} | {t.hand_ms:.1f} | {t.ratio:.2f} | "
              + (f"{t.engine_cpu_ms:.1f} | {t.hand_cpu_ms:.1f} | {t.cpu_ratio:.2f} | "
                 if cpu else "")
              + f"{t.statements} | {'yes' if t.agree else 'WRONG'} |", flush=True)
    ratios = [t.ratio for t in timings]
    print(f"\nMedian ratio (wall clock): **{statistics.median(ratios):.2f}** "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}); "
          f"all figures agree: {'yes' if all(t.agree for t in timings) else 'NO'}.")
    if cpu:
        cpu_ratios = [t.cpu_ratio for t in timings]
        print(f"Median ratio (CPU time): **{statistics.median(cpu_ratios):.2f}** "
              f"(min {min(cpu_ratios):.2f}, max {max(cpu_ratios):.2f}).")
    overheads = [engine_overhead_ms(setup, q, max(repeat, 20)) for q in QUESTIONS]
    print(f"Engine overhead without the database (parse + request + compile + render + "
          f"compose): median **{statistics.median(overheads):.2f} ms**/query, "
          f"max {max(overheads):.2f} ms ("
          + ", ".join(f"{o:.2f}" for o in overheads) + ").")
    print("\nEXPLAIN of the engine's statements:\n")
    for q in QUESTIONS:
        for i, line in enumerate(explain(setup, q), start=1):
            print(f"- {q.title} [{i}]: `{line}`")
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per question and side")
    parser.add_argument("--cli-runs", type=int, default=10, help="0 skips the CLI timing")
    args = parser.parse_args(argv)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, {platform.platform()}")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        bench_backend(backend, args.scale, args.repeat)
    if args.cli_runs:
        print(f"\n### CLI on the Maven data (SQLite), {args.cli_runs} runs after 2 warm-ups\n")
        print("| command | mean ms | ± sd | min ms | mean CPU ms |")
        print("|---|---:|---:|---:|---:|")
        for label, mean, sd, low, cpu in cli_timing(args.cli_runs):
            print(f"| `{label}` | {mean:.0f} | {sd:.0f} | {low:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
