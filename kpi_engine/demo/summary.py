"""What `seed_demo` reports: row counts and the patterns planted in the demo CRM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PlantedPattern:
    """A finding a good analyst (or kpibot) should make in the demo data.

    `facts` are the figures behind it, measured on the generated rows (rates are
    fractions, durations in hours or days as the key says).
    """

    name: str
    description: str
    facts: Mapping[str, float]


@dataclass(frozen=True)
class DemoSummary:
    """The outcome of one seeding: when the history ends, how many rows, which patterns."""

    today: dt.date
    seed: int
    timezone: str
    # The history covers [history_start, today): nothing happens on or after today.
    history_start: dt.date
    counts: Mapping[str, int]
    patterns: tuple[PlantedPattern, ...]
    # Demo rows removed before seeding (a re-run replaces the previous demo).
    replaced_rows: int = 0

    def lines(self) -> list[str]:
        """A short human summary, one line each."""
        out = [
            f"Demo CRM seeded (seed {self.seed}): {self.history_start} to {self.today} "
            f"({self.timezone}).",
            ", ".join(f"{count:,} {name.replace('_', ' ')}" for name, count in self.counts.items()),
            "Planted patterns:",
        ]
        out += [f"  {i}. {p.description}" for i, p in enumerate(self.patterns, start=1)]
        return out
