"""`kpibot kpis`: every KPI against its target; `kpibot target set`: write one target."""

from __future__ import annotations

from typing import Any

import typer

from bot.cli.common import calendar, catalog, clock, engine, print_json, settings, user_errors

target_app = typer.Typer(help="KPI targets.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `kpis` and the `target` group to the `kpibot` app."""
    app.command("kpis")(kpis)
    app.add_typer(target_app, name="target")


def kpis(
    period: str | None = typer.Option(
        None, "--period", "-p", help="e.g. 'last month', 'Q3'; default: each KPI's own period."
    ),
    as_json: bool = typer.Option(False, "--json", help="Raw numbers, period bounds, basis."),
) -> None:
    """Each KPI with its actual, target, status and projected end-of-period value."""
    # Engine imports stay inside the command so `kpibot --help` starts fast.
    from kpi_engine.targets import kpi_board, load_kpis

    with user_errors():
        metrics = catalog()
        definitions = load_kpis(metrics, settings().targets_dir)
        board = kpi_board(engine(), metrics, definitions, clock(), calendar(), period)
        formats = {m.name: m for m in metrics.metrics}
    if as_json:
        print_json({"kpis": [_status_json(s, board.periods[s.metric]) for s in board.statuses]})
        return
    if not board.statuses:
        typer.echo("No KPIs defined. Set a target: kpibot target set revenue_won 250000")
        return
    from tools.check_targets import status_line

    for status in board.statuses:
        typer.echo(status_line(status, formats[status.metric]))


@target_app.command("set")
def set_target(
    metric: str = typer.Argument(..., help="Metric name or synonym, e.g. revenue_won."),
    value: str = typer.Argument(..., help="The target, e.g. 250000, or 0.3 / 30% for a rate."),
    period: str | None = typer.Option(
        None, "--period", "-p", help="A whole week, month, quarter or year; default: the KPI's "
        "current period (this month)."
    ),
    team: str | None = typer.Option(None, "--team", help="A target for this team only."),
    rep: str | None = typer.Option(None, "--rep", help="A target for this rep only."),
    at_risk_band: float | None = typer.Option(
        None, "--at-risk-band", help="Fraction of the target below which it is at risk (0.1)."
    ),
    owner: str | None = typer.Option(None, "--owner", help="Who answers for this KPI."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored target as JSON."),
) -> None:
    """Set (insert or replace) the target of a metric for one period, overall or per team/rep."""
    from kpi_engine.errors import InvalidInputError
    from kpi_engine.periods import parse_period
    from kpi_engine.targets import load_kpis
    from kpi_engine.targets import set_target as write_target

    with user_errors():
        if team is not None and rep is not None:
            raise InvalidInputError("Give --team or --rep, not both.")
        metrics = catalog()
        definitions = load_kpis(metrics, settings().targets_dir)
        name = metrics.metric(metric).name
        kpi = next((k for k in definitions if k.metric == name), None)
        resolved = parse_period(period or f"this {kpi.period if kpi else 'month'}", clock(),
                                calendar())
        target = write_target(
            engine(), metrics, name, value, resolved, team=team, rep=rep,
            at_risk_band=at_risk_band, owner=owner, kpis=definitions,
        )
        definition = metrics.metric(name)
    if as_json:
        print_json({
            "metric": target.metric, "value": target.value, "scope": _scope_json(target.scope),
            "period": {"label": resolved.label, "grain": resolved.grain,
                       "start": target.period_start.isoformat(),
                       "end": target.period_end.isoformat()},
            "at_risk_band": target.at_risk_band, "owner": target.owner,
        })
        return
    typer.echo(
        f"Target set: {definition.label} {definition.format_value(target.value)} for "
        f"{resolved.label}, {target.scope}; at risk within {target.at_risk_band:.0%} "
        f"{'above' if definition.direction == 'lower_is_better' else 'below'} it"
        + (f"; owner {target.owner}." if target.owner else ".")
    )


def _scope_json(scope: Any) -> dict[str, Any]:
    return {"kind": scope.kind, "name": scope.name}


def _status_json(status: Any, period: Any) -> dict[str, Any]:
    return {
        "metric": status.metric,
        "label": status.label,
        "owner": status.owner,
        "scope": _scope_json(status.scope),
        "unit": status.unit,
        "direction": status.direction,
        "period": {
            "label": period.label, "grain": period.grain, "start": period.start.isoformat(),
            "end": period.end.isoformat(), "query_end": period.query_end.isoformat(),
            "timezone": period.timezone, "elapsed_fraction": period.elapsed_fraction,
        },
        "actual": status.actual,
        "target": status.target,
        "prorated_target": status.prorated_target,
        "projected": status.projected,
        "gap": status.gap,
        "status": status.status,
        "method": status.method,
        "at_risk_band": status.at_risk_band,
        "target_source": status.target_source,
        "explanation": status.explanation(),
    }
