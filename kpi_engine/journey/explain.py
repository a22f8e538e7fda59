"""Words for the facts: durations, shares and segment names as the user reads them."""

from __future__ import annotations

ENTITY_PLURAL = {"deal": "deals", "lead": "leads", "case": "cases"}
DIMENSION_NAMES = {
    "team": "Team {}",
    "rep": "rep {}",
    "source": "source {}",
    "product": "product {}",
    "resource": "resource {}",
}


def hours_text(hours: float | None) -> str:
    """A duration in the unit a person would use: minutes, hours or days."""
    if hours is None:
        return "n/a"
    # Compare the rounded figures, so 0.99999 h reads "1.0 h" rather than "60 min".
    if round(hours * 60) < 60:
        return f"{hours * 60:.0f} min"
    if round(hours, 1) < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def percent_text(share: float) -> str:
    return f"{share * 100:.0f}%"


def segment_text(dimension: str, value: str) -> str:
    return DIMENSION_NAMES.get(dimension, dimension + " {}").format(value)


def trend_text(median: float | None, baseline: float | None) -> str:
    """"up from 4.1 days" / "down from ..." / "as in the baseline" / "" without a baseline."""
    if median is None or baseline is None:
        return ""
    if baseline > 0 and abs(median - baseline) / baseline < 0.05:
        return f", about the same as before ({hours_text(baseline)})"
    direction = "up" if median > baseline else "down"
    return f", {direction} from {hours_text(baseline)}"


def plural(entity: str) -> str:
    return ENTITY_PLURAL.get(entity, entity + "s")
