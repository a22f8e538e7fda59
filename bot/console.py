"""The local chat: the same answers as in Slack, in a terminal, with no network."""

from __future__ import annotations

import logging
import sys
import uuid
from typing import TextIO

from kpi_engine.config import get_settings
from tools.answer import Answer, sorry
from tools.context import ANONYMOUS, ToolContext, Viewer
from tools.router import answer

log = logging.getLogger(__name__)

BANNER = (
    'kpibot local chat — ask about your KPIs ("help" for examples, "quit" to leave).\n'
    "Answers come from the offline router over {url}."
)


def safe_answer(ctx: ToolContext, question: str) -> Answer:
    """An answer, or a short apology with a reference id: a user never sees a raw exception."""
    try:
        return answer(ctx, question)
    except Exception:  # the boundary: log everything, show a reference the logs can be searched for
        ref = uuid.uuid4().hex[:8]
        log.exception("answering %r failed (ref %s)", question, ref)
        return sorry("error", f"Sorry, I could not answer that (reference {ref}).", reference=ref)


def run_chat(
    viewer: Viewer = ANONYMOUS, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> None:
    stdin = stdin or sys.stdin  # looked up at call time: test runners swap the streams
    stdout = stdout or sys.stdout
    settings = get_settings()
    ctx = ToolContext.from_settings(settings, viewer)
    interactive = stdin.isatty()
    print(BANNER.format(url=settings.database_url), file=stdout)
    while True:
        if interactive:
            stdout.write("\nyou › ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        if question.lower() in {"quit", "exit", "bye", ":q"}:
            break
        print(f"\nkpibot › {safe_answer(ctx, question).render_plain()}", file=stdout, flush=True)
