"""The journey measures: time in stage, transitions, conversion and drop-off, speed to lead,
handoffs, stalled items and rework loops, for one process over one window.

`load_journey` runs the queries once; `journey_measures` and the bottleneck ranking both read
the same `LoadedJourney`, so one analysis costs one pass over the process's events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from kpi_engine.clock import Clock, naive_utc
from kpi_engine.errors import InvalidInputError, UnknownNameError
from kpi_engine.journey.leads import DEFAULT_SLA_HOURS, fetch_lead_responses, speed_to_lead
from kpi_engine.journey.results import (
    DurationStats,
    HandoffSummary,
    JourneyReport,
    JourneyWindow,
    PathOutcome,
    ReworkLoop,
    StageConversion,
    StageFlow,
    StageTime,
    Stalled,
    StalledGroup,
    Transition,
)
from kpi_engine.journey.source import (
    ProcessInfo,
    check_dimension,
    data_freshness,
    fetch_case_info,
    fetch_steps,
    resolve_process,
)
from kpi_engine.journey.stats import duration_stats, grouped_stats, to_epoch
from kpi_engine.periods import Period

DEFAULT_IDLE_DAYS = 14.0
# An event-log stage counts as an end of the journey when most cases that reach it end there.
TERMINAL_SHARE = 0.5
COMMON_END_SHARE = 0.1
COMMON_END_MIN = 20
DAY = 86400.0
OUTCOME_NAMES = {"deal": "won", "lead": "converted"}


@dataclass(frozen=True)
class LoadedJourney:
    """The fetched events of one process and the per-case table derived from them."""

    process: ProcessInfo
    window: JourneyWindow
    dimension: str  # the segment column of `steps` and `cases`
    outcome: str | None
    steps: pd.DataFrame  # one row per event before the window end, in case order
    cases: pd.DataFrame  # one row per case: first_t, last_t, last_stage, segment, closed, won...
    freshness: dt.datetime | None

    @property
    def start_epoch(self) -> float:
        return -np.inf if self.window.start is None else to_epoch(self.window.start)

    @cached_property
    def window_steps(self) -> pd.DataFrame:
        """Directly-follows steps whose second event falls in the window."""
        steps = self.steps
        return steps[steps["wait"].notna().to_numpy() & (steps["t"].to_numpy() >= self.start_epoch)]

    @cached_property
    def transition_stats(self) -> dict[object, DurationStats]:
        """Wait statistics per (from_stage, to_stage) over the window's steps (computed once)."""
        steps = self.window_steps
        return grouped_stats(steps[["from_stage", "to_stage"]], steps["wait"])

    @cached_property
    def stage_stats(self) -> dict[object, DurationStats]:
        """Time in stage (completed stays ending in the window) per stage (computed once)."""
        steps = self.window_steps
        return grouped_stats(steps["from_stage"], steps["wait"])

    @property
    def active_cases(self) -> pd.DataFrame:
        """Cases with at least one event in the window."""
        return self.cases[self.cases["last_t"].to_numpy() >= self.start_epoch]

    @cached_property
    def active_rows(self) -> np.ndarray:
        """For each row of `steps`: does its case have an event in the window?"""
        codes = self.steps["case_no"].to_numpy()
        if len(codes) == 0:
            return np.zeros(0, dtype=bool)
        active = np.zeros(int(codes.max()) + 1, dtype=bool)
        active[self.active_cases["case_no"].to_numpy()] = True
        return active[codes]


def make_window(
    process: ProcessInfo, period: Period | None, clock: Clock | None, freshness: dt.datetime | None
) -> JourneyWindow:
    """The window for a period (or all data), and the instant open cases are aged against.

    Without a period, `as_of` is the clock's now (or the latest event when there is no clock).
    An event log is a finished record, so its `as_of` is capped at its latest event.
    """
    if period is not None:
        start, end = period.utc_bounds()
        as_of, label = end, period.label
    else:
        start = end = None
        now = naive_utc(clock.now()) if clock else None
        as_of = now or freshness or dt.datetime(1970, 1, 1)
        label = "all data"
    if process.entity == "case" and freshness is not None:
        as_of = min(as_of, freshness)
    return JourneyWindow(start=start, end=end, as_of=as_of, label=label)


def load_journey(
    engine: Engine,
    process: str | None = None,
    period: Period | None = None,
    *,
    clock: Clock | None = None,
    dimension: str | None = None,
    outcome: str | None = None,
) -> LoadedJourney:
    """Fetch what every journey measure needs, in one pass over the process's events."""
    info = resolve_process(engine, process)
    dim = check_dimension(info, dimension) or info.default_dimension
    if outcome is not None and info.entity != "case":
        raise InvalidInputError(
            f"'{info.name}' has its own outcome ({OUTCOME_NAMES[info.entity]}); "
            "--outcome names the success stage of an event log."
        )
    freshness = data_freshness(engine, info)
    window = make_window(info, period, clock, freshness)
    steps = fetch_steps(engine, info, window.end, dim)
    if outcome is not None:
        known = set(steps["to_stage"].cat.categories)
        if outcome not in known:
            raise UnknownNameError("outcome stage", outcome, sorted(known))
    cases = _case_table(steps, fetch_case_info(engine, info), outcome)
    return LoadedJourney(
        process=info,
        window=window,
        dimension=dim,
        outcome=OUTCOME_NAMES.get(info.entity, outcome),
        steps=steps,
        cases=cases,
        freshness=freshness,
    )


def _case_table(
    steps: pd.DataFrame, crm: pd.DataFrame | None, outcome_stage: str | None
) -> pd.DataFrame:
    """One row per case from its events (sorted by case, then sequence) and its CRM record."""
    case = steps["case_no"].to_numpy()
    if len(case) == 0:
        empty = {"first_t": float, "last_t": float, "case_no": np.int64, "last_stage": object,
                 "last_from": object, "segment": object, "closed": bool, "won": bool,
                 "owner": object, "rework": bool, "idle_from": float}
        return pd.DataFrame({name: np.array([], dtype=kind) for name, kind in empty.items()})
    last = np.ones(len(case), dtype=bool)
    last[:-1] = case[:-1] != case[1:]
    first = steps["wait"].isna().to_numpy()
    repeat = steps["repeat"].to_numpy()
    ends = steps[last]
    table = pd.DataFrame(
        {
            "first_t": steps["t"].to_numpy()[first],
            "last_t": ends["t"].to_numpy(),
            "case_no": ends["case_no"].to_numpy(),
            "last_stage": ends["to_stage"].to_numpy(),
            "last_from": ends["from_stage"].to_numpy(),
            "segment": ends["segment"].to_numpy(),
        },
        index=pd.Index(ends["case"].to_numpy(), name="case"),
    )
    table["rework"] = np.isin(table["case_no"].to_numpy(), case[repeat])
    if crm is not None:
        joined = crm.reindex(table.index)
        table["closed"] = joined["closed"].fillna(False).astype(bool).to_numpy()
        table["won"] = joined["won"].fillna(False).astype(bool).to_numpy()
        table["owner"] = joined["owner"].fillna(table["segment"]).to_numpy()
        table["idle_from"] = np.fmax(table["last_t"].to_numpy(), joined["last_touch"].to_numpy())
        return table
    # Event logs record no open/closed state, so it is inferred: a case is over when it
    # reached the outcome stage (if one is named) or ends at a terminal stage: one where most
    # cases that reach it end, or where a tenth of all cases end (BPIC 2012 applications
    # often close with a work item after the decision), counted from COMMON_END_MIN endings
    # so that a handful of cases in a small log does not make a stage final.
    reached = (~repeat).astype(np.int64)
    reach_count = pd.Series(reached).groupby(steps["to_stage"].to_numpy()).sum()
    end_count = table.groupby("last_stage").size().reindex(reach_count.index, fill_value=0)
    is_terminal = (end_count >= TERMINAL_SHARE * reach_count) | (
        (end_count >= COMMON_END_SHARE * len(table)) & (end_count >= COMMON_END_MIN)
    )
    terminal = set(reach_count.index[is_terminal])
    if outcome_stage is not None:
        won_cases = case[(steps["to_stage"] == outcome_stage).to_numpy()]
        table["won"] = np.isin(table["case_no"].to_numpy(), won_cases)
        terminal.add(outcome_stage)
    else:
        table["won"] = False
    table["closed"] = table["last_stage"].isin(terminal).to_numpy() | table["won"].to_numpy()
    table["owner"] = table["segment"]
    table["idle_from"] = table["last_t"]
    return table


def journey_measures(
    loaded: LoadedJourney,
    *,
    leads: pd.DataFrame | None = None,
    sla_hours: float = DEFAULT_SLA_HOURS,
    idle_days: float = DEFAULT_IDLE_DAYS,
) -> JourneyReport:
    """Every measure of the journey report from a `LoadedJourney` (and lead responses)."""
    steps = loaded.window_steps
    transition_stats = loaded.transition_stats
    handoffs = (
        steps["handoff"].groupby([steps["from_stage"], steps["to_stage"]], observed=True).sum()
    )
    transitions = sorted(
        (
            Transition(f, t, stats, int(handoffs.get((f, t), 0)))
            for (f, t), stats in transition_stats.items()
        ),
        key=lambda tr: (-tr.wait.count, tr.from_stage, tr.to_stage),
    )
    order = _stage_order(loaded)
    stage_stats = loaded.stage_stats
    stage_times = [StageTime(s, stage_stats[s]) for s in order if s in stage_stats]
    handed = steps["handoff"].to_numpy() == 1
    handoff_summary = HandoffSummary(
        handoffs=duration_stats(steps["wait"].to_numpy()[handed]),
        same_owner=duration_stats(steps["wait"].to_numpy()[~handed]),
        share_of_steps=float(handed.mean()) if len(steps) else None,
    )
    speed = speed_to_lead(leads, sla_hours, "team") if leads is not None and len(leads) else None
    return JourneyReport(
        process=loaded.process.name,
        kind=loaded.process.kind,
        entity=loaded.process.entity,
        outcome=loaded.outcome,
        window=loaded.window,
        cases=len(loaded.active_cases),
        steps=len(steps),
        data_freshness=loaded.freshness,
        stage_times=tuple(stage_times),
        transitions=tuple(transitions),
        flow=_flow(loaded, order),
        handoffs=handoff_summary,
        stalled=stalled_items(loaded, idle_days),
        rework=_rework(loaded),
        paths=_paths(loaded),
        speed_to_lead=speed,
    )


def analyze_journey(
    engine: Engine,
    process: str | None = None,
    period: Period | None = None,
    *,
    clock: Clock | None = None,
    outcome: str | None = None,
    sla_hours: float = DEFAULT_SLA_HOURS,
    idle_days: float = DEFAULT_IDLE_DAYS,
) -> JourneyReport:
    """The journey report of `process` (default: "deals", or the only process) over `period`.

    Steps count in the window when their second event does; conversion, rework and paths
    cover the cases with an event in the window; stalled items are aged at the window's end.
    `outcome` names the success stage of an event log; CRM processes use their record's
    outcome (deal won, lead converted) as it stands now.
    """
    loaded = load_journey(engine, process, period, clock=clock, outcome=outcome)
    leads = (
        fetch_lead_responses(engine, loaded.window, "team")
        if loaded.process.entity != "case"
        else None
    )
    return journey_measures(loaded, leads=leads, sla_hours=sla_hours, idle_days=idle_days)


def _stage_order(loaded: LoadedJourney) -> list[str]:
    """Stages in journey order: by the average position at which cases first reach them."""
    steps = loaded.steps
    if steps.empty:
        return []
    case = steps["case"].to_numpy()
    new_case = np.ones(len(case), dtype=bool)
    new_case[1:] = case[1:] != case[:-1]
    starts = np.flatnonzero(new_case)
    position = np.arange(len(case)) - np.repeat(starts, np.diff(np.append(starts, len(case))))
    firsts = ~steps["repeat"].to_numpy()
    mean_position = pd.Series(position[firsts]).groupby(steps["to_stage"].to_numpy()[firsts]).mean()
    # Stages nothing ever follows (Won, Lost, Closed) end the journey: list them last.
    followed = set(steps["from_stage"].dropna().unique())
    return sorted(mean_position.index, key=lambda s: (s not in followed, mean_position[s], s))


def _flow(loaded: LoadedJourney, order: list[str]) -> tuple[StageFlow, ...]:
    cases = loaded.active_cases
    steps = loaded.steps
    firsts = loaded.active_rows & ~steps["repeat"].to_numpy()
    reached = steps.loc[firsts, ["case_no", "to_stage"]]
    size = int(steps["case_no"].max()) + 1 if len(steps) else 0
    won_by_case = np.zeros(size, dtype=np.int64)
    closed_by_case = np.zeros(size, dtype=np.int64)
    won_by_case[cases["case_no"].to_numpy()] = cases["won"].to_numpy().astype(np.int64)
    closed_by_case[cases["case_no"].to_numpy()] = cases["closed"].to_numpy().astype(np.int64)
    case_no = reached["case_no"].to_numpy()
    by_stage = reached.assign(
        reach=1, won=won_by_case[case_no], closed=closed_by_case[case_no]
    ).groupby("to_stage", observed=True)[["reach", "won", "closed"]].sum()
    reach, won_after, closed_reached = by_stage["reach"], by_stage["won"], by_stage["closed"]
    last = cases.groupby("last_stage").size()
    # A case that ends in an outcome stage nothing ever follows (Won, Lost) left the journey
    # from the stage before it: that is where it dropped off.
    followed = set(steps["from_stage"].dropna().unique())
    exit_stage = cases["last_stage"].where(
        cases["last_stage"].isin(followed) | cases["last_from"].isna(), cases["last_from"]
    ).astype(object)
    closed_cases = cases["closed"].to_numpy().astype(bool)
    won_cases = cases["won"].to_numpy().astype(bool)
    ended = exit_stage[closed_cases].value_counts()
    dropped = exit_stage[closed_cases & ~won_cases].value_counts()
    known_outcome = loaded.outcome is not None
    flows = []
    for s in order:
        if s not in reach.index:
            continue
        closed_n = int(closed_reached.get(s, 0))
        won_n = int(won_after.get(s, 0))
        flows.append(
            StageFlow(
                stage=s,
                cases_reached=int(reach[s]),
                cases_continued=int(reach[s]) - int(last.get(s, 0)),
                cases_ended_here=int(ended.get(s, 0)),
                dropped_here=int(dropped.get(s, 0)) if known_outcome else None,
                reached_outcome=won_n if known_outcome else None,
                outcome_rate=(won_n / closed_n if closed_n else None) if known_outcome else None,
            )
        )
    return tuple(flows)


def stage_conversion(loaded: LoadedJourney, from_stage: str, to_stage: str) -> StageConversion:
    """From one stage to another, over the cases with an event in the window ("of the deals
    that reached Demo, how many went on to Proposal?"). Names match case-insensitively."""
    known = {str(s).lower(): str(s) for s in loaded.steps["to_stage"].cat.categories}
    stages = []
    for name in (from_stage, to_stage):
        if name.strip().lower() not in known:
            raise UnknownNameError("stage", name, sorted(known.values()))
        stages.append(known[name.strip().lower()])
    steps = loaded.steps[loaded.active_rows]
    stage = steps["to_stage"].astype(object).to_numpy()
    case_no, t = steps["case_no"].to_numpy(), steps["t"].to_numpy()
    at_from, at_to = stage == stages[0], stage == stages[1]
    entered = pd.Series(t[at_from], index=case_no[at_from]).groupby(level=0).min()
    # Reached the second stage after first reaching the first one.
    after = pd.Series(t[at_to], index=case_no[at_to])
    after = after[after.index.isin(entered.index)]
    moved = entered.index.isin(
        after.index[after.to_numpy() > entered.reindex(after.index).to_numpy()])
    closed = loaded.cases.set_index("case_no")["closed"].reindex(entered.index).fillna(
        False).to_numpy(dtype=bool)
    return StageConversion(stages[0], stages[1], reached=len(entered), went_on=int(moved.sum()),
                           closed_without=int((closed & ~moved).sum()),
                           still_open=int((~closed & ~moved).sum()))


def stalled_items(loaded: LoadedJourney, idle_days: float) -> Stalled:
    """Open cases whose last event or activity is at least `idle_days` before `as_of`."""
    cases = loaded.cases
    open_cases = cases[~cases["closed"].to_numpy().astype(bool)]
    idle = to_epoch(loaded.window.as_of) - open_cases["idle_from"].to_numpy(dtype=np.float64)
    stalled = open_cases[idle >= idle_days * DAY].assign(idle=idle[idle >= idle_days * DAY] / DAY)
    by_stage = stalled.groupby("last_stage").size().sort_values(ascending=False, kind="stable")
    by_owner = stalled.groupby("owner").size().sort_values(ascending=False, kind="stable")
    groups = stalled.groupby(["last_stage", "owner"])["idle"].agg(["size", "max"])
    return Stalled(
        idle_days=idle_days,
        open_items=len(open_cases),
        stalled_items=len(stalled),
        by_stage=tuple((str(k), int(v)) for k, v in by_stage.items()),
        by_owner=tuple((str(k), int(v)) for k, v in by_owner.items()),
        groups=tuple(
            StalledGroup(str(stage), str(owner), int(row["size"]), float(row["max"]))
            for (stage, owner), row in groups.sort_values("size", ascending=False).iterrows()
        ),
    )


def _rework(loaded: LoadedJourney) -> tuple[ReworkLoop, ...]:
    steps = loaded.steps
    repeats = steps[loaded.active_rows & steps["repeat"].to_numpy()]
    grouped = repeats.groupby("to_stage")["case"].agg(["nunique", "size"])
    loops = [
        ReworkLoop(str(stage), int(row["nunique"]), int(row["size"]))
        for stage, row in grouped.iterrows()
    ]
    return tuple(sorted(loops, key=lambda loop: (-loop.cases, loop.stage)))


def _paths(loaded: LoadedJourney) -> tuple[PathOutcome, ...]:
    cases = loaded.active_cases
    known_outcome = loaded.outcome is not None
    paths = []
    for name, members in (("with rework", cases[cases["rework"]]),
                          ("no rework", cases[~cases["rework"].astype(bool)])):
        closed = members[members["closed"].astype(bool)]
        won = int(closed["won"].sum())
        paths.append(
            PathOutcome(
                path=name,
                cases=len(members),
                closed=len(closed),
                reached_outcome=won if known_outcome else None,
                outcome_rate=won / len(closed) if known_outcome and len(closed) else None,
                duration=duration_stats((closed["last_t"] - closed["first_t"]).to_numpy()),
            )
        )
    return tuple(paths)
