"""The journey analyzer on BPIC 2012 (13,087 cases, 262,200 events) from the database.

The full analysis is every journey measure plus the bottleneck ranking, from one load of
the process's events (`load_journey` → `journey_measures` + `rank_bottlenecks`). The
reference is a plain pandas directly-follows computation over the same events, read from
the same database in the same run: `read_sql` of (case, seq, stage, time), sort, shift,
group by (from, to) for count, median and mean wait. Runs alternate after a warm-up; the
medians give the ratio. The directly-follows counts of both must agree.

    python -m benchmarks.journey_bench                      # SQLite file in benchmarks/.data
    python -m benchmarks.journey_bench --database-url postgresql+psycopg://127.0.0.1/test
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from kpi_engine.db import migrate
from kpi_engine.db.models import Process, StageEvent
from kpi_engine.db.session import make_engine
from kpi_engine.importers import import_event_log
from kpi_engine.journey import journey_measures, load_journey, rank_bottlenecks

REPO = Path(__file__).resolve().parents[1]
BPIC_2012 = REPO.parent / "shared" / "data" / "bpic2012_loan_application" / "bpic2012_events.csv.gz"
PROCESS = "bpic2012"


def prepare(url: str) -> Engine:
    """A migrated database holding BPIC 2012 (imported once; a re-import is a no-op)."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    started = time.perf_counter()
    report = import_event_log(
        engine, BPIC_2012, case="case:concept:name", activity="concept:name",
        timestamp="time:timestamp", resource="org:resource", name=PROCESS,
    )
    print(f"import (or no-op re-import): {time.perf_counter() - started:.2f} s, "
          f"{report.inserted:,} inserted")
    return engine


def full_analysis(engine: Engine) -> object:
    loaded = load_journey(engine, PROCESS)
    report = journey_measures(loaded)
    ranking = rank_bottlenecks(loaded, None)
    return report, ranking


def pandas_directly_follows(engine: Engine) -> pd.DataFrame:
    se = StageEvent.__table__
    process_id = select(Process.id).where(Process.name == PROCESS).scalar_subquery()
    stmt = select(se.c.case_id, se.c.seq, se.c.to_stage, se.c.occurred_at).where(
        se.c.process_id == process_id
    )
    with engine.connect() as conn:
        events = pd.read_sql(stmt, conn, parse_dates=["occurred_at"])
    events = events.sort_values(["case_id", "seq"])
    by_case = events.groupby("case_id", sort=False)
    events["from_stage"] = by_case["to_stage"].shift()
    events["wait"] = by_case["occurred_at"].diff().dt.total_seconds() / 3600
    steps = events.dropna(subset=["from_stage"])
    return steps.groupby(["from_stage", "to_stage"])["wait"].agg(["count", "median", "mean"])


def timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_url = f"sqlite:///{REPO / 'benchmarks' / '.data' / 'journey.db'}"
    parser.add_argument("--database-url", default=default_url)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    if args.database_url.startswith("sqlite:///"):
        Path(args.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = prepare(args.database_url)
    print(f"{engine.dialect.name}, Python {platform.python_version()}, pandas {pd.__version__}")

    full_analysis(engine)  # warm-up: caches, compiled statements, page cache
    pandas_directly_follows(engine)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(args.repeat):
        seconds, (report, ranking) = timed(lambda: full_analysis(engine))
        ours.append(seconds)
        seconds, reference = timed(lambda: pandas_directly_follows(engine))
        theirs.append(seconds)

    got = {(t.from_stage, t.to_stage): t.wait.count for t in report.transitions}
    want = {key: int(n) for key, n in reference["count"].items()}
    agree = "agree" if got == want else "DISAGREE"
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"events: {report.steps + report.cases:,}, cases: {report.cases:,}, "
          f"transitions: {len(report.transitions)} ({agree} with pandas)")
    print(f"full analysis (all measures + ranking): median {ours_median:.3f} s, "
          f"best {min(ours):.3f} s over {args.repeat} runs (goal < 1 s on SQLite)")
    print(f"pandas directly-follows only:           median {theirs_median:.3f} s, "
          f"best {min(theirs):.3f} s")
    print(f"ratio full analysis / pandas directly-follows: {ours_median / theirs_median:.2f}")
    print("top bottlenecks:")
    for b in ranking.bottlenecks[:3]:
        print(f"  {b.rank}. {b.step}: {b.impact_hours:,.0f} h — {b.explanation}")
    if agree != "agree":
        sys.exit(1)


if __name__ == "__main__":
    main()
