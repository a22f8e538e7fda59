"""`kpibot journey` and `kpibot bottlenecks`: the customer-journey analyzer on the command line."""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from bot.cli.common import calendar, clock, engine, print_json, user_errors

PROCESS_HELP = "Process: deals, leads or an imported event log (default: deals, or the only one)."
PERIOD_HELP = "e.g. 'last 30 days', 'Q1 2012', 'since March 1' (default: all data)."
OUTCOME_HELP = "For an event log: the stage that means success (e.g. A_APPROVED)."


def register(app: typer.Typer) -> None:
    app.command("journey")(journey)
    app.command("bottlenecks")(bottlenecks)


def _context(period: str | None) -> tuple[Any, Any]:
    """The clock and the parsed period (None for all data)."""
    from kpi_engine.periods import parse_period

    workspace_clock = clock()
    return workspace_clock, parse_period(period, workspace_clock, calendar()) if period else None


def journey(
    process: str | None = typer.Option(None, "--process", help=PROCESS_HELP),
    period: str | None = typer.Option(None, "--period", "-p", help=PERIOD_HELP),
    outcome: str | None = typer.Option(None, "--outcome", help=OUTCOME_HELP),
    sla_hours: float = typer.Option(4.0, "--sla-hours", min=0, help="Speed-to-lead target."),
    idle_days: float = typer.Option(14.0, "--idle-days", min=0, help="Stalled after N idle days."),
    top: int = typer.Option(10, "--top", min=1, help="Rows shown per table (text output)."),
    as_json: bool = typer.Option(False, "--json", help="Every measure as JSON."),
) -> None:
    """The journey measures: time in stage, transitions, conversion and drop-off, speed to
    lead, handoffs, stalled items and rework loops."""
    from kpi_engine.journey import analyze_journey

    with user_errors():
        clock, resolved = _context(period)
        report = analyze_journey(
            engine(), process, resolved, clock=clock, outcome=outcome,
            sla_hours=sla_hours, idle_days=idle_days,
        )
    if as_json:
        print_json(dataclasses.asdict(report))
    else:
        typer.echo(journey_text(report, top))


def bottlenecks(
    process: str | None = typer.Option(None, "--process", help=PROCESS_HELP),
    period: str | None = typer.Option(None, "--period", "-p", help=PERIOD_HELP),
    by: str | None = typer.Option(
        None, "--by", help="Split the excess by team, rep, source, product (resource for logs)."
    ),
    baseline: str | None = typer.Option(
        None, "--baseline", help="Baseline period (default: the period before --period)."
    ),
    outcome: str | None = typer.Option(None, "--outcome", help=OUTCOME_HELP),
    sla_hours: float = typer.Option(4.0, "--sla-hours", min=0, help="Speed-to-lead target."),
    idle_days: float = typer.Option(14.0, "--idle-days", min=0, help="Stalled after N idle days."),
    top: int = typer.Option(5, "--top", min=1, help="How many bottlenecks."),
    as_json: bool = typer.Option(False, "--json", help="The ranking with its facts as JSON."),
) -> None:
    """Where the journey loses the most time, ranked by impact, each with the facts behind it."""
    from kpi_engine.errors import InvalidPeriodError
    from kpi_engine.journey import find_bottlenecks

    with user_errors():
        clock, resolved = _context(period)
        base = None
        if baseline is not None:
            if resolved is None:
                raise InvalidPeriodError("--baseline needs --period: compare a period with it.")
            _, base = _context(baseline)
        report = find_bottlenecks(
            engine(), process, resolved, clock=clock, dimension=by, baseline=base,
            sla_hours=sla_hours, idle_days=idle_days, outcome=outcome, limit=top,
        )
    if as_json:
        print_json(dataclasses.asdict(report))
    else:
        from tools.find_bottlenecks import bottlenecks_text

        typer.echo(bottlenecks_text(report))


def _hours(value: float | None) -> str:
    from kpi_engine.journey.explain import hours_text

    return hours_text(value)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def journey_text(report: Any, top: int) -> str:
    entity = report.entity
    lines = [
        f"Journey of '{report.process}' ({report.kind}), {report.window.label}: "
        f"{report.cases:,} {entity}s, {report.steps:,} steps"
        + (f", outcome: {report.outcome}" if report.outcome else ""),
        "",
        "Time in stage (median / p90 / mean, count):",
    ]
    for s in report.stage_times[:top]:
        t = s.time
        lines.append(f"  {s.stage}: {_hours(t.median_hours)} / {_hours(t.p90_hours)} / "
                     f"{_hours(t.mean_hours)} ({t.count:,})")
    lines += ["", "Busiest transitions (count, median / mean wait, handoffs):"]
    for tr in report.transitions[:top]:
        lines.append(f"  {tr.from_stage} → {tr.to_stage}: {tr.wait.count:,}, "
                     f"{_hours(tr.wait.median_hours)} / {_hours(tr.wait.mean_hours)}, "
                     f"{tr.handoffs:,}")
    lines += ["", "Conversion and drop-off (reached, ended here, dropped, outcome rate):"]
    for f in report.flow[:top]:
        dropped = "n/a" if f.dropped_here is None else f"{f.dropped_here:,}"
        lines.append(f"  {f.stage}: {f.cases_reached:,}, {f.cases_ended_here:,}, {dropped}, "
                     f"{_share(f.outcome_rate)}")
    if report.speed_to_lead is not None:
        s = report.speed_to_lead
        lines += ["", f"Speed to lead: median {_hours(s.time.median_hours)}, p90 "
                      f"{_hours(s.time.p90_hours)} over {s.leads:,} leads; "
                      f"{_share(s.breach_share)} breach the {_hours(s.sla_hours)} SLA"]
        for seg in s.by_segment:
            lines.append(f"  {seg.dimension} {seg.value}: median {_hours(seg.time.median_hours)}, "
                         f"{seg.breaches:,} breaches")
    h = report.handoffs
    lines += ["", f"Handoffs: {_share(h.share_of_steps)} of steps; median wait "
                  f"{_hours(h.handoffs.median_hours)} vs {_hours(h.same_owner.median_hours)} "
                  "without a handoff"]
    st = report.stalled
    lines += ["", f"Stalled (no activity for {st.idle_days:g}+ days): {st.stalled_items:,} of "
                  f"{st.open_items:,} open"]
    for stage, count in st.by_stage[:top]:
        lines.append(f"  in {stage}: {count:,}")
    lines += ["", "Rework loops (cases returning to a stage, extra visits):"]
    for loop in report.rework[:top]:
        lines.append(f"  {loop.stage}: {loop.cases:,}, {loop.extra_visits:,}")
    for p in report.paths:
        lines.append(f"  {p.path}: {p.cases:,} {entity}s, outcome rate {_share(p.outcome_rate)}, "
                     f"median duration {_hours(p.duration.median_hours)}")
    return "\n".join(lines)
