"""`kpibot ask` and `kpibot chat`: questions in plain words, answered by the offline router."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

from bot.cli.common import print_json, settings

if TYPE_CHECKING:
    from tools.context import Viewer


def ask(
    question: str = typer.Argument(..., help='e.g. "how many leads did we get this week?"'),
    as_user: str | None = typer.Option(None, "--as", help="Ask as this Slack user id or email."),
    json_out: bool = typer.Option(
        False, "--json", help="Print the answer and its figures as JSON."
    ),
) -> None:
    """Answer one question and exit (status 1 when it could not be answered)."""
    from bot.console import safe_answer
    from tools.context import ToolContext

    ctx = ToolContext.from_settings(settings(), _viewer(as_user))
    result = safe_answer(ctx, question)
    if json_out:
        print_json({"question": question, **asdict(result)})
    else:
        typer.echo(result.render_plain())
    if not result.ok:
        raise typer.Exit(1)


def chat(
    as_user: str | None = typer.Option(None, "--as", help="Chat as this Slack user id or email."),
) -> None:
    """Open the local chat on the configured database."""
    from bot.console import run_chat

    run_chat(_viewer(as_user))


def _viewer(as_user: str | None) -> Viewer:
    from tools.context import Viewer

    if as_user is None:
        return Viewer()
    return Viewer(email=as_user) if "@" in as_user else Viewer(slack_user_id=as_user)


def register(app: typer.Typer) -> None:
    app.command()(ask)
    app.command()(chat)
