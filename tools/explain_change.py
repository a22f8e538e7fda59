"""Tool: why did a metric change? The dimensions and segments that drove it."""

from __future__ import annotations

from kpi_engine.catalog.model import MetricDefinition
from kpi_engine.drivers import ChangeExplanation, Contributor, explain_change
from tools.answer import Answer
from tools.context import ToolContext
from tools.render import FactSheet

DEFAULT_WHY_PERIOD = "last 30 days"
SEGMENTS_SHOWN = 3
CHANCE_LEVEL = 0.05


def explain_metric_change(
    ctx: ToolContext, metric: str, period: str | None = None, *, compare: str = "previous"
) -> Answer:
    definition = ctx.catalog.metric(metric)
    resolved = ctx.period(period, default=DEFAULT_WHY_PERIOD)
    explanation = explain_change(
        ctx.engine, ctx.catalog, definition.name, resolved, compare=compare
    )
    return render_explanation(explanation, definition)


def render_explanation(explanation: ChangeExplanation, metric: MetricDefinition) -> Answer:
    sheet = FactSheet()
    name = metric.name
    now = sheet.value(name, metric, explanation.current)
    before = sheet.value(name + ".baseline", metric, explanation.baseline)
    change = explanation.change or 0.0
    verb = "rose" if change > 0 else "fell" if change < 0 else "held"
    lines = [
        f"*{metric.label}* {verb} from {before} in {explanation.baseline_period.label} to "
        f"*{now}* in {explanation.period.label}: {_delta(sheet, name + '.change', change, metric)}."
    ]
    telling = [b for b in explanation.breakdowns if b.chance <= CHANCE_LEVEL]
    if change == 0 or not explanation.breakdowns:
        lines.append("Nothing to explain: the figure did not move.")
    elif not telling:
        lines.append(
            "No dimension explains it better than chance: the change is spread evenly "
            "across teams, reps, sources and products."
        )
    for breakdown in telling[:2]:
        parts = [
            _segment(sheet, f"{name}[{breakdown.dimension}={c.value}]", c, metric)
            for c in breakdown.contributors[:SEGMENTS_SHOWN]
        ]
        lines.append(f"• By *{breakdown.dimension}*: " + "; ".join(parts))
    if explanation.method == "ratio" and telling:
        top = telling[0]
        rate = _delta(
            sheet, f"{name}[{top.dimension}].rate_effect", top.total_rate_effect or 0.0, metric
        )
        mix = _delta(
            sheet, f"{name}[{top.dimension}].mix_effect", top.total_mix_effect or 0.0, metric
        )
        lines.append(f"_Within {top.dimension}: rates moved {rate}, the mix of segments {mix}._")
    return Answer(
        kind="why",
        text="\n".join(lines),
        facts=sheet.facts,
        data={
            "metric": name,
            "current": explanation.current,
            "baseline": explanation.baseline,
            "change": explanation.change,
            "drivers": [
                {
                    "dimension": b.dimension,
                    "chance": b.chance,
                    "top": [c.value for c in b.contributors[:SEGMENTS_SHOWN]],
                }
                for b in explanation.breakdowns
            ],
        },
    )


def _segment(sheet: FactSheet, key: str, c: Contributor, metric: MetricDefinition) -> str:
    text = f"{c.value} {_delta(sheet, key, c.contribution, metric)}"
    if c.share is not None:
        text += f" ({sheet.number(key + '.share', c.share, '.0%', 'fraction')} of the change"
        text += f", {sheet.value(key + '.baseline', metric, c.baseline)} → "
        text += f"{sheet.value(key + '.current', metric, c.current)})"
    return text


def _delta(sheet: FactSheet, key: str, value: float, metric: MetricDefinition) -> str:
    """Signed change: percentage points for rates, the metric's own format otherwise."""
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    if metric.unit == "fraction":
        return sign + sheet.number(key, abs(value) * 100, ".1f", "pp") + " pp"
    return sign + sheet.value(key, metric, abs(value))
