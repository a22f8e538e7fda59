"""The leakage guard: which fields the scoring model must never learn from, and why.

A lead score is only useful *before* sales has worked the lead. Fields that sales fills in
after contacting a lead (a status tag, a quality judgement, a profile level) describe the
outcome instead of predicting it: a model trained on them looks excellent on history and
is worthless to a rep deciding whom to call. So they are excluded by default.

The default list (names match canonical lead columns or source columns kept verbatim in
`leads.attributes`, case-insensitively):

- ``Converted`` and other outcome copies (``status``, ``won_date`` ...): the label itself.
- X Education (see shared/data/xeducation_leads/README.md, "Leakage warning"):
  ``Tags`` is "the current status of the lead" ("Closed by Horizzon", "Lost to EINS");
  ``Lead Quality`` is the assigned employee's judgement; ``Lead Profile`` and the four
  ``Asymmetrique`` index/score fields are levels assigned to the lead while it is
  processed.
- Olist (closed-deals file): every field there exists only for won deals (segment, lead
  type, behaviour profile, catalogue size, declared revenue, SDR/SR ids), so its mere
  presence is the label.
- Outbound activity counts (calls, emails, meetings by reps): reps work hot leads harder,
  so these count the rep's opinion rather than the lead's interest.

``Last Activity`` / ``Last Notable Activity`` are kept: they are the lead's last observed
touch, which a rep sees for an open lead at scoring time too, and the issue lists "last
activity" as a behavioural feature. They are snapshots taken at export time, so the stricter
list `STRICT_EXTRA` removes them as well; `kpibot train --strict` uses it and the scoring
note reports both figures.

Behaviour columns of a CRM export (`EXPORT_TIME`: visits, time on site, email opens,
downloads, last activity ...) are read when the file was exported. When the data has an
activity log, each closed lead is learnt from at several ages while it was open
(moments.py), and such a column would describe the lead at export, after its decision,
instead of at the row's age: on the demo, leads seen as they were on arrival (one visit, no
opens or downloads yet) were then scored 8.1 % on average where 30.6 % converted. So with an
activity log they are left out and the log's time-stamped counts stand for them; without
one (X Education, Olist), every row is measured at export and they are kept.

On top of the names, `find_label_proxies` drops any single feature that predicts the
outcome almost perfectly on its own (including by being filled in only for one outcome),
and the model version records what it dropped and why. With leads of several CRMs in one
database it looks within each CRM as well (features.py, `_systems`), where a field filled
in for one CRM's won deals cannot hide among the other CRM's leads.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

DEFAULT_EXCLUDED: dict[str, str] = {
    # The outcome itself, verbatim or derived.
    "converted": "the outcome itself",
    "status": "the outcome itself",
    "converted_at": "the outcome itself",
    "won_date": "the outcome itself (Olist)",
    "is_won": "the outcome itself",
    # X Education: entered by sales during or after processing.
    "tags": "sales-entered status of the lead (X Education)",
    "lead quality": "the assigned employee's judgement (X Education)",
    "lead profile": "a level assigned while the lead is processed (X Education)",
    "asymmetrique activity index": "an index assigned while processing (X Education)",
    "asymmetrique profile index": "an index assigned while processing (X Education)",
    "asymmetrique activity score": "a score assigned while processing (X Education)",
    "asymmetrique profile score": "a score assigned while processing (X Education)",
    # Olist closed deals: present only for won deals.
    "seller_id": "exists only for won deals (Olist)",
    "sdr_id": "exists only for won deals (Olist)",
    "sr_id": "exists only for won deals (Olist)",
    "business_segment": "filled in by the sales rep for won deals only (Olist)",
    "lead_behaviour_profile": "filled in by the sales rep for won deals only (Olist)",
    "has_company": "filled in by the sales rep for won deals only (Olist)",
    "has_gtin": "filled in by the sales rep for won deals only (Olist)",
    "average_stock": "filled in by the sales rep for won deals only (Olist)",
    "business_type": "filled in by the sales rep for won deals only (Olist)",
    "declared_product_catalog_size": "filled in by the sales rep for won deals only (Olist)",
    "declared_monthly_revenue": "filled in by the sales rep for won deals only (Olist)",
    # Rep effort, not lead interest.
    "outbound_touches": "rep effort: reps work the leads they already like",
}

STRICT_EXTRA: dict[str, str] = {
    "last activity": "a snapshot taken at export time, may postdate the decision",
    "last notable activity": "a snapshot taken at export time, may postdate the decision",
    "last_activity": "a snapshot taken at export time, may postdate the decision",
}

# Name patterns (case-insensitive) of behaviour read at export time.
EXPORT_TIME: dict[str, str] = {
    pattern: "read when the CRM was exported, after the lead's decision; with an activity log "
             "the log's counts at each age stand for it"
    for pattern in ("*visit*", "*time*on*site*", "*time*spent*", "*page*view*",
                    "*email*open*", "*click*", "*download*", "*attend*", "*last*activity*",
                    "*session*")
}

# One feature alone ranking leads this well means it encodes the outcome, not the lead.
LABEL_PROXY_AUC = 0.97
# A value held by this share of labelled leads that (almost) all share one outcome is an
# outcome marker ("last activity: Meeting" when meetings follow conversions).
MARKER_SHARE = 0.05
MARKER_PURITY = 0.995


def _key(name: str) -> str:
    return name.strip().lower()


@dataclass(frozen=True)
class LeakageGuard:
    """Names excluded from the model, each with the reason, plus the automatic proxy check."""

    excluded: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EXCLUDED))
    detect_proxies: bool = True
    export_time: dict[str, str] = field(default_factory=lambda: dict(EXPORT_TIME))

    @classmethod
    def default(cls) -> LeakageGuard:
        return cls()

    @classmethod
    def strict(cls) -> LeakageGuard:
        return cls(excluded={**DEFAULT_EXCLUDED, **STRICT_EXTRA})

    @classmethod
    def off(cls) -> LeakageGuard:
        """No guard at all: only for measuring how much the leaked fields inflate quality."""
        return cls(excluded={"converted": "the outcome itself", "status": "the outcome itself",
                             "converted_at": "the outcome itself", "won_date": "the outcome",
                             "is_won": "the outcome itself"}, detect_proxies=False,
                   export_time={})

    @property
    def enabled(self) -> bool:
        return self.detect_proxies or len(self.excluded) > len(LeakageGuard.off().excluded)

    def with_extra(self, names: Iterable[str]) -> LeakageGuard:
        extra = {_key(n): "excluded by configuration" for n in names}
        return replace(self, excluded={**self.excluded, **extra})

    def blocks(self, *names: str | None) -> str | None:
        """The reason any of `names` (a feature and the source columns it came from) is excluded."""
        for name in names:
            if name is not None and _key(name) in self.excluded:
                return self.excluded[_key(name)]
        return None

    def read_at_export(self, *names: str | None) -> str | None:
        """Why any of `names` cannot stand for a lead at an earlier age (None: it can)."""
        for name in names:
            for pattern, reason in self.export_time.items():
                if name is not None and fnmatch.fnmatch(_key(name), pattern):
                    return reason
        return None

    def describe(self) -> dict[str, object]:
        return {"excluded": dict(sorted(self.excluded.items())),
                "detect_label_proxies": self.detect_proxies,
                "read_at_export": sorted(self.export_time),
                "label_proxy_auc": LABEL_PROXY_AUC}


def find_label_proxies(frame: pd.DataFrame, label: np.ndarray) -> dict[str, float]:
    """Features that, alone, rank the labelled leads with AUC ≥ LABEL_PROXY_AUC.

    Each feature is scored by its best single view: the conversion rate of its value
    (categories, or numeric deciles), or whether it is filled in at all.
    """
    found: dict[str, float] = {}
    if label.min() == label.max():
        return found
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind in "fi":
            ranks = pd.qcut(values.rank(method="first"), 10, labels=False, duplicates="drop")
            keys = ranks.astype("float").fillna(-1.0)
        else:
            keys = values.astype("object").where(values.notna(), "\0missing")
        groups = pd.Series(label, index=frame.index).groupby(keys.to_numpy())
        rate = groups.transform("mean")
        auc = max(roc_auc_score(label, rate.to_numpy()),
                  roc_auc_score(label, values.notna().to_numpy().astype(float)))
        stats = groups.agg(["mean", "size"])
        marker = stats[(stats["size"] >= MARKER_SHARE * len(label))
                       & ((stats["mean"] >= MARKER_PURITY) | (stats["mean"] <= 1 - MARKER_PURITY))]
        # Only a pure value among mixed ones marks the outcome (not a rare constant).
        if auc >= LABEL_PROXY_AUC or (len(marker) and keys.nunique() > 1
                                       and values.dtype.kind not in "fi"):
            found[str(column)] = round(float(auc), 4)
    return found
