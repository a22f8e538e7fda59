"""The answer a tool gives: text rendered by code, and the figures behind it.

`facts` holds every figure the text shows, each with the exact rendering used, so the
number verifier can check a reply and `kpibot ask --json` can print the raw values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fact:
    """One figure shown to the user."""

    name: str  # "win_rate", "win_rate.change", "win_rate[team=West]"
    value: float | None  # raw: a rate as a fraction
    rendered: str  # exactly as it appears in the text
    unit: str = ""


@dataclass(frozen=True)
class Answer:
    kind: str
    text: str
    facts: tuple[Fact, ...] = ()
    sources: tuple[str, ...] = ()  # context lines: metric, period, filters, freshness, query id
    ok: bool = True  # False: the question could not be answered (the text says why)
    data: dict[str, Any] = field(default_factory=dict)  # structured result for --json

    def render_plain(self) -> str:
        lines = [self.text]
        if self.sources:
            lines.append("")
            lines.extend(f"  ↳ {source}" for source in self.sources)
        return "\n".join(lines)


def sorry(kind: str, text: str, **data: Any) -> Answer:
    return Answer(kind=kind, text=text, ok=False, data=data)
