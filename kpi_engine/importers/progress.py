"""A progress bar for long imports: on stderr, only when asked for and stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

# Below this many rows an import is instant and a bar would only flicker.
LARGE = 20_000


def track(items: Iterable[T], *, enabled: bool, total: int, label: str) -> Iterator[T]:
    show = enabled and total >= LARGE and sys.stderr.isatty()
    if not show:
        yield from items
        return
    yield from tqdm(items, total=total, desc=label, unit="row", file=sys.stderr, leave=False)
