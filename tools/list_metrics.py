"""Tool: the metrics kpibot can answer about."""

from __future__ import annotations

from tools.answer import Answer
from tools.context import ToolContext


def list_metrics(ctx: ToolContext) -> Answer:
    public = [m for m in ctx.catalog.metrics if m.public]
    lines = [f"I can answer about {len(public)} metrics:"]
    lines += [f"• *{m.label}* (`{m.name}`): {m.description}" for m in public]
    lines.append('Ask e.g. "win rate last quarter by team" or "leads this week vs last week".')
    return Answer(
        kind="list_metrics", text="\n".join(lines), data={"metrics": [m.name for m in public]}
    )
