"""Errors raised by the engine.

    KpiError
    ├── KpiUserError            the question or the input is wrong; say so to the user
    │   ├── UnknownNameError    a metric, dimension, rep... that does not exist (with close matches)
    │   ├── InvalidPeriodError  a period we cannot read
    │   ├── InvalidInputError   a file or value that cannot be imported or used
    │   └── NotEnoughDataError  the data cannot support the answer (e.g. training)
    └── KpiInternalError        our bug
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class KpiError(Exception):
    """Base of every engine error."""


class KpiUserError(KpiError):
    """Something the user can fix; the message is written for them."""


class UnknownNameError(KpiUserError):
    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = closest(name, known)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"Unknown {kind} '{name}'.{hint}")


class InvalidPeriodError(KpiUserError):
    pass


class InvalidInputError(KpiUserError):
    pass


class NotEnoughDataError(KpiUserError):
    pass


class KpiInternalError(KpiError):
    pass


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The known names nearest to `name`, best first (substring matches count too)."""
    pool = list(known)
    lowered = name.lower()
    hits = difflib.get_close_matches(lowered, pool, n=n, cutoff=0.5)
    for candidate in pool:
        if len(hits) >= n:
            break
        if candidate not in hits and (lowered in candidate or candidate in lowered):
            hits.append(candidate)
    return hits
