"""`kpibot why NAME --period TEXT`: what drove a metric's change from its baseline period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from bot.cli.common import calendar, catalog, clock, engine, print_json, user_errors

if TYPE_CHECKING:
    from kpi_engine.catalog import MetricDefinition
    from kpi_engine.drivers import ChangeExplanation
    from kpi_engine.periods import Period

COMPARE_OPTIONS = ("previous", "last-year")


def why(
    name: str = typer.Argument(..., help="Metric name or synonym, e.g. win_rate."),
    period: str = typer.Option("this month", "--period", "-p", help="e.g. 'last 2 weeks', 'Q3'."),
    by: list[str] = typer.Option(  # noqa: B008 - typer reads defaults at definition time
        [], "--by", help="Only these dimensions (repeatable); default: all the metric allows."
    ),
    compare: str = typer.Option("previous", "--compare", help="previous | last-year"),
    top: int = typer.Option(5, "--top", min=1, help="Contributors shown per dimension."),
    as_json: bool = typer.Option(False, "--json", help="Raw numbers, period bounds, all segments."),
) -> None:
    """Explain a change: contributions by dimension; mix vs rate effects for ratio metrics."""
    # Engine imports stay inside the command so `kpibot --help` starts fast.
    from kpi_engine.drivers import explain_change
    from kpi_engine.errors import InvalidInputError
    from kpi_engine.periods import parse_period

    with user_errors():
        if compare not in COMPARE_OPTIONS:
            raise InvalidInputError(
                f"Unknown --compare '{compare}': use one of {', '.join(COMPARE_OPTIONS)}."
            )
        resolved = parse_period(period, clock(), calendar())
        metrics = catalog()
        explanation = explain_change(
            engine(), metrics, name, resolved, compare=compare, dimensions=by or None
        )
        definition = metrics.metric(explanation.metric)
    if as_json:
        print_json(_as_json(explanation))
    else:
        typer.echo(_as_text(explanation, definition, top))


def _period_json(period: Period) -> dict[str, Any]:
    return {"label": period.label, "start": period.start.isoformat(),
            "end": period.end.isoformat(), "query_end": period.query_end.isoformat()}


def _as_json(explanation: ChangeExplanation) -> dict[str, Any]:
    return {
        "metric": explanation.metric,
        "unit": explanation.unit,
        "method": explanation.method,
        "period": _period_json(explanation.period),
        "baseline_period": _period_json(explanation.baseline_period),
        "current": explanation.current,
        "baseline": explanation.baseline,
        "change": explanation.change,
        "relative_change": explanation.relative_change,
        "dimensions": [
            {
                "dimension": b.dimension,
                "score": b.score,
                "chance": b.chance,
                "concentration": b.concentration,
                "rate_effect": b.total_rate_effect,
                "mix_effect": b.total_mix_effect,
                "contributors": [
                    {key: getattr(c, key) for key in (
                        "value", "current", "baseline", "contribution", "share",
                        "rate_effect", "mix_effect", "current_weight", "baseline_weight")}
                    for c in b.contributors
                ],
            }
            for b in explanation.breakdowns
        ],
    }


def _change_text(value: float | None, unit: str, definition: MetricDefinition) -> str:
    """A change: percentage points for rates, the metric's own format otherwise."""
    if value is None:
        return "n/a"
    if unit == "fraction":
        return f"{value * 100:+.1f} pp"
    text = definition.format_value(abs(value))
    return ("-" if value < 0 else "+") + text


def _as_text(explanation: ChangeExplanation, definition: MetricDefinition, top: int) -> str:
    fmt = definition.format_value
    unit = explanation.unit
    lines = [
        f"{explanation.label}: {fmt(explanation.current)} in {explanation.period.label}",
        f"  vs {fmt(explanation.baseline)} in {explanation.baseline_period.label}: "
        f"{_change_text(explanation.change, unit, definition)}",
    ]
    if not explanation.breakdowns:
        lines.append("No dimension to split this metric by.")
    for breakdown in explanation.breakdowns:
        chance = breakdown.chance
        heading = (f"By {breakdown.dimension} ({breakdown.concentration:.0%} of the change out of "
                   f"proportion to segment sizes; "
                   + ("could be chance" if chance > 0.05 else f"chance p={chance:.2g}") + ")")
        if explanation.method == "ratio":
            rate = _change_text(breakdown.total_rate_effect, unit, definition)
            mix = _change_text(breakdown.total_mix_effect, unit, definition)
            heading += f": rate effect {rate}, mix effect {mix}"
        lines.append("")
        lines.append(heading)
        shown = breakdown.contributors[:top]
        width = max((len(c.value) for c in shown), default=0)
        for c in shown:
            share = "" if c.share is None else f"{c.share:>6.0%} of change"
            row = (f"  {c.value:<{width}}  {_change_text(c.contribution, unit, definition):>12}"
                   f"  {share:>16}  {fmt(c.baseline)} → {fmt(c.current)}")
            if explanation.method == "ratio":
                row += (f"  (rate {_change_text(c.rate_effect, unit, definition)}, "
                        f"mix {_change_text(c.mix_effect, unit, definition)})")
            lines.append(row)
        hidden = len(breakdown.contributors) - len(shown)
        if hidden > 0:
            lines.append(f"  … {hidden} more (--top, --json)")
    return "\n".join(lines)
