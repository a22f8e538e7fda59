"""Lead-scoring features: read from the canonical tables, typed, guarded and described.

Two steps. `load_leads` reads leads (their columns, `attributes` JSON and account) and
their activity features (counts, days since the last inbound activity, age, each read at
the instant the lead is judged: moments.py) from the database into a `LeadFrame`.
`select_features` decides, on training leads, which columns the model may use (the
leakage guard, placeholders, identifiers, constants, duplicates of mapped columns) and
returns `FeatureSpec`s; `feature_matrix` turns any `LeadFrame` into the model's input with
exactly those columns, so training and scoring see the same shapes.

Activities are counted only before a lead was decided, so a converted lead's history never
contains the meetings that followed its conversion.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, Subquery, and_, func, or_, select

from kpi_engine.db.models import Account, Activity, Lead, StageEvent
from kpi_engine.scoring.grid import MAX_TABLE_CELLS, slot_bound
from kpi_engine.scoring.guard import LeakageGuard, find_label_proxies
from kpi_engine.scoring.moments import (
    activities_at,
    age_days,
    days_since_inbound,
    decision_times,
    moments,
)

Kind = Literal["category", "number"]

# Canonical lead columns the model may read, with the words a rep would use for them.
CATEGORY_COLUMNS: dict[str, str] = {
    "source": "lead source",
    "channel": "lead origin",
    "landing_page": "landing page",
    "title": "job title",
    "industry": "industry",
    "company_size": "company size",
    "country": "country",
    "city": "city",
    "segment": "segment",
    "lead_type": "lead type",
    "behaviour_profile": "behaviour profile",
    "last_activity": "last activity",
    "account_size_band": "company size band",
    "account_sector": "sector",
}
NUMBER_COLUMNS: dict[str, tuple[str, str]] = {
    "total_visits": ("website visits", "visits"),
    "time_on_site_seconds": ("time on the website", "seconds"),
    "pages_per_visit": ("pages per visit", "pages"),
    "account_employees": ("company headcount", "people"),
    # Measured from activities at the instant the lead is judged (moments.py).
    "days_since_inbound": ("last inbound activity", "days ago"),
    "lead_age_days": ("lead age", "days"),
}
# Reason groups: features the model may combine, which a rep then reads as one reason. Every
# other feature acts alone, so a score stays an exact sum of per-reason parts (scorer.py).
# Members are in priority order: when a group's table would grow past MAX_TABLE_CELLS the
# later members act alone instead.
# - Web engagement measures interact: many short visits are not one long one.
# - A last activity means something else depending on who the lead is and where they came
#   from (an SMS reply from a working professional is not one from a student). The
#   last-activity snapshots themselves ("Last Activity", "Last Notable Activity") join it.
# - The channel a lead came in by combines with their industry or specialisation.
# On X Education the two profile groups lift 5-fold CV AUC from 0.902 to 0.908
# (benchmarks/RESULTS.md).
LAST_ACTIVITY_ATTRIBUTE = "attr:*last*activity*"
REASON_GROUPS: dict[str, tuple[str, ...]] = {
    "web engagement": ("total_visits", "time_on_site_seconds", "pages_per_visit"),
    "last activity and profile": ("last_activity", LAST_ACTIVITY_ATTRIBUTE, "title", "city",
                                  "source"),
    "origin and industry": ("channel", "industry"),
}

# Form answers that mean "not answered".
PLACEHOLDERS = frozenset({"", "select", "n/a", "na", "nan", "null", "none", "-"})
# Activity details common enough to be their own count ("pricing page" visits).
MAX_DETAIL_FEATURES = 8
MIN_DETAIL_SHARE = 0.02

META_COLUMNS = ("lead_id", "external_id", "source_system", "owner_id", "created_at", "status",
                "converted_at", "decided_at", "judged_at")


@dataclass(frozen=True)
class LeadFrame:
    """Leads as read from the database: meta columns plus raw feature columns, one row each."""

    data: pd.DataFrame
    attribute_names: tuple[str, ...]
    # Labelled leads are seen at several ages (moments.py), so export-time columns would
    # describe a row later than its instant (guard.py, EXPORT_TIME).
    snapshots: bool = False

    def __len__(self) -> int:
        return len(self.data)

    @property
    def labelled(self) -> pd.Series:
        return self.data["status"].isin(("converted", "lost"))

    @property
    def label(self) -> np.ndarray:
        return (self.data["status"] == "converted").to_numpy(dtype=np.int8)


@dataclass(frozen=True)
class FeatureSpec:
    """One model input: where it comes from, its type, and how to say it in words."""

    name: str
    kind: Kind
    label: str
    origin: str  # "column:source", "attribute:Do Not Email", "activity:inbound web_visit"
    unit: str | None = None
    group: str | None = None  # features of one group may interact and form one reason
    spellings: dict[str, str] = field(default_factory=dict)  # casefolded → display spelling


@dataclass(frozen=True)
class FeatureSelection:
    specs: tuple[FeatureSpec, ...]
    dropped: dict[str, str]  # feature or source column → why it is not used


def _last_event(table: Any, label: str) -> Subquery:
    """When each lead's recorded history in `table` ends."""
    return (select(table.c.lead_id, func.max(table.c.occurred_at).label(label))
            .where(table.c.lead_id.is_not(None))
            .group_by(table.c.lead_id)
            .subquery(label))


def _leads_query(where: Any) -> Select[Any]:
    leads = Lead.__table__
    accounts = Account.__table__
    closed = _last_event(StageEvent.__table__, "closed_at")
    columns = [leads.c[name] for name in CATEGORY_COLUMNS if name in leads.c]
    columns += [leads.c[name] for name in NUMBER_COLUMNS if name in leads.c]
    return (
        select(
            leads.c.id.label("lead_id"), leads.c.external_id, leads.c.source_system,
            leads.c.owner_id, leads.c.created_at, leads.c.status, leads.c.converted_at,
            closed.c.closed_at, *columns, leads.c.attributes,
            accounts.c.size_band.label("account_size_band"),
            accounts.c.sector.label("account_sector"),
            accounts.c.employees.label("account_employees"),
        )
        .select_from(leads.outerjoin(accounts, leads.c.account_id == accounts.c.id)
                     .outerjoin(closed, closed.c.lead_id == leads.c.id))
        .where(where)
        .order_by(leads.c.id)
    )


def load_leads(engine: Engine, where: Any, as_of: dt.datetime | None = None,
               history_until: dt.datetime | None = None) -> LeadFrame:
    """Leads matching `where` (a condition on the leads table), with activity features.

    Activity features are read at the instant each row is judged (moments.py): an open
    lead at `as_of` (the scoring time); a labelled lead, when there are activities, at
    several ages while it was still open, one row each. Nothing that happened after a lead
    was decided is ever counted.

    With `history_until` the CRM is read as it stood then (backtest.py): leads created
    before it, their activities before it, and a lead decided later (judged on its whole
    history) is open; its outcome today stays in the column `outcome_now`.
    """
    if history_until is not None:
        where = and_(where, Lead.__table__.c.created_at < history_until)
        as_of = history_until
    query = _leads_query(where)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
        data = pd.DataFrame([dict(r) for r in rows], columns=list(query.selected_columns.keys()))
        raw = _activity_rows(conn, where, None if history_until else as_of)
    for name in ("created_at", "converted_at", "closed_at"):
        data[name] = pd.to_datetime(data[name])
    # A lead that never converted has all its activities read: the last is its last sign of life.
    last_activity = raw.groupby("lead_id")["occurred_at"].max()
    data["touched_until"] = last_activity.reindex(data["lead_id"]).to_numpy()
    data.insert(data.columns.get_loc("closed_at"), "decided_at", decision_times(data))
    data = data.drop(columns=["closed_at", "touched_until"])
    if history_until is not None:
        data = _as_it_stood(data, pd.Timestamp(history_until))
        raw = raw[raw["occurred_at"] < pd.Timestamp(history_until)]
    judged = moments(data, as_of, snapshots=len(raw) > 0)
    data = data.iloc[judged["position"].to_numpy()].reset_index(drop=True)
    data["judged_at"] = judged["at"].to_numpy()
    attributes = pd.DataFrame.from_records(
        [a if isinstance(a, dict) else {} for a in data.pop("attributes")], index=data.index)
    attributes.columns = [f"attr:{c}" for c in attributes.columns]
    data = pd.concat([data, attributes], axis=1)
    if len(raw):
        groups = activities_at(raw, data["lead_id"], data["judged_at"])
        counts = activity_features(groups.rename(columns={"row": "lead_id"}))
        wide = counts.pivot_table(index="lead_id", columns="feature", values="n", aggfunc="sum")
        data = data.join(wide.reindex(data.index).fillna(0.0).astype(float))
        data["days_since_inbound"] = days_since_inbound(groups, data["judged_at"])
        data["lead_age_days"] = age_days(data["created_at"], data["judged_at"])
    return LeadFrame(data, tuple(c.removeprefix("attr:") for c in attributes.columns),
                     snapshots=len(raw) > 0)


def _as_it_stood(data: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Leads decided at or after `at` are open again; their outcome today is kept apart."""
    later = data["decided_at"].isna() | (data["decided_at"] >= at)
    return data.assign(
        outcome_now=data["status"],
        status=data["status"].where(~later, "open"),
        converted_at=data["converted_at"].where(~later),
        decided_at=data["decided_at"].where(~later))


def _activity_rows(conn: Any, where: Any, as_of: dt.datetime | None) -> pd.DataFrame:
    """Raw activities of the leads in `where`: before the lead converted and, with `as_of`,
    before that instant. The exact cut per row (a snapshot, a disqualification) is
    `activities_at`'s; this only keeps the bulk of later history out of the read."""
    leads = Lead.__table__
    acts = Activity.__table__
    conditions = [
        or_(leads.c.converted_at.is_(None), acts.c.occurred_at < leads.c.converted_at),
        where,
    ]
    if as_of is not None:
        conditions.append(acts.c.occurred_at < as_of)
    query = (
        select(acts.c.lead_id, acts.c.type, acts.c.direction, acts.c.detail,
               acts.c.occurred_at)
        .select_from(acts.join(leads, acts.c.lead_id == leads.c.id))
        .where(and_(*conditions))
    )
    out = pd.DataFrame(conn.execute(query).all(),
                       columns=["lead_id", "type", "direction", "detail", "occurred_at"])
    out["occurred_at"] = pd.to_datetime(out["occurred_at"])
    return out


def activity_features(rows: pd.DataFrame) -> pd.DataFrame:
    """Long (lead_id, feature, n) counts from (lead_id, type, direction, detail, n) groups."""
    if rows.empty:
        return pd.DataFrame(columns=["lead_id", "feature", "n"])
    rows = rows.assign(n=rows["n"].astype(float))
    inbound = rows[rows["direction"] == "inbound"]
    parts = [
        inbound.assign(feature="activity:inbound " + inbound["type"].astype(str)),
        rows[rows["direction"] != "inbound"].assign(feature="activity:outbound_touches"),
    ]
    details = inbound.dropna(subset=["detail"])
    leads_per_detail = details.groupby(["type", "detail"])["lead_id"].nunique()
    n_leads = max(rows["lead_id"].nunique(), 1)
    common = leads_per_detail[leads_per_detail >= MIN_DETAIL_SHARE * n_leads]
    for (kind, detail) in common.sort_values(ascending=False).index[:MAX_DETAIL_FEATURES]:
        hit = details[(details["type"] == kind) & (details["detail"] == detail)]
        parts.append(hit.assign(feature=f"activity:{kind}|{detail}"))
    return pd.concat(parts)[["lead_id", "feature", "n"]]


def _clean_text(values: pd.Series) -> pd.Series:
    """Text with placeholders ("Select", blanks) as missing (None), vectorised."""
    text = values.astype("string").str.strip()
    text = text.mask(text.str.casefold().isin(PLACEHOLDERS))
    return text.astype("object").where(text.notna(), None)


def _as_number(values: pd.Series) -> pd.Series | None:
    """The column as floats when every filled value is a number (booleans are not)."""
    text = values.astype("string").str.strip()
    filled = text.notna() & (text != "")
    numbers = pd.to_numeric(text.where(filled), errors="coerce").astype(float)
    if (numbers.isna() & filled).any():
        return None
    return numbers


def _attribute_label(name: str) -> str:
    return re.sub(r"[_]+", " ", name).strip()


def _spellings(values: pd.Series) -> dict[str, str]:
    """Most frequent spelling of each case-insensitive value ("google" → "Google")."""
    counts = values.dropna().value_counts()
    best: dict[str, str] = {}
    for value in counts.index:
        best.setdefault(str(value).casefold(), str(value))
    return best


def _group_rank(name: str) -> tuple[str, int] | None:
    """The reason group a feature is declared in, and its priority there."""
    for group, members in REASON_GROUPS.items():
        for rank, pattern in enumerate(members):
            if fnmatch.fnmatch(name.casefold(), pattern):
                return group, rank
    return None


def _declared_group(name: str) -> str | None:
    found = _group_rank(name)
    return found[0] if found else None


def _fit_groups(specs: list[FeatureSpec], train: dict[str, pd.Series]) -> list[FeatureSpec]:
    """Specs with groups trimmed so each group's table fits: members join in priority order
    while the product of their slot bounds stays ≤ MAX_TABLE_CELLS; a lone member acts alone."""
    members: dict[str, list[FeatureSpec]] = {}
    for spec in specs:
        if spec.group is not None:
            members.setdefault(spec.group, []).append(spec)
    keep: set[str] = set()
    for group in members.values():
        cells, joined = 1, []
        for spec in sorted(group, key=lambda s: (_group_rank(s.name) or ("", 0))[1]):
            bound = slot_bound(spec.kind, train[spec.name])
            if cells * bound <= MAX_TABLE_CELLS:
                cells *= bound
                joined.append(spec.name)
        if len(joined) > 1:
            keep.update(joined)
    return [s if s.group is None or s.name in keep else replace(s, group=None) for s in specs]


def _activity_label(column: str) -> str:
    """"inbound web visits", "web visits (pricing page)"; a detail that names its own kind
    stands alone: "opened marketing emails", "inbound calls"."""
    what = column.removeprefix("activity:")
    kind, _, detail = what.partition("|")
    if not detail:
        return f"{what.replace('_', ' ')}s"
    if kind.split("_")[-1] in detail.casefold().split():
        return f"{detail}s"
    return f"{kind.replace('_', ' ')}s ({detail})"


def _candidates(frame: LeadFrame) -> list[tuple[FeatureSpec, pd.Series]]:
    data = frame.data
    found: list[tuple[FeatureSpec, pd.Series]] = []
    for name, label in CATEGORY_COLUMNS.items():
        if name in data:
            values = _clean_text(data[name])
            found.append((FeatureSpec(name, "category", label, f"column:{name}",
                                      group=_declared_group(name),
                                      spellings=_spellings(values)), values))
    for name, (label, unit) in NUMBER_COLUMNS.items():
        if name in data:
            found.append((FeatureSpec(name, "number", label, f"column:{name}", unit,
                                      _declared_group(name)),
                          pd.to_numeric(data[name], errors="coerce").astype(float)))
    for column in data.columns:
        if column.startswith("activity:"):
            found.append((FeatureSpec(column, "number", _activity_label(column), column,
                                      "count"), data[column].astype(float)))
    for name in frame.attribute_names:
        raw = data[f"attr:{name}"]
        numbers = _as_number(raw)
        if numbers is not None:
            found.append((FeatureSpec(f"attr:{name}", "number", _attribute_label(name),
                                      f"attribute:{name}"), numbers))
        else:
            values = _clean_text(raw)
            found.append((FeatureSpec(f"attr:{name}", "category", _attribute_label(name),
                                      f"attribute:{name}", group=_declared_group(f"attr:{name}"),
                                      spellings=_spellings(values)), values))
    return found


def _normalised(spec: FeatureSpec, values: pd.Series) -> pd.Series:
    if spec.kind == "number" or not spec.spellings:
        return values
    folded = values.astype("string").str.casefold()
    spelled = folded.map(spec.spellings).astype("string").fillna(values.astype("string"))
    return spelled.astype("object").where(spelled.notna(), None)


def _comparable(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.casefold()
    return text.str.removesuffix(".0")


def _duplicate_of(values: pd.Series, kept: dict[str, pd.Series]) -> str | None:
    """The canonical column this attribute repeats (same value wherever both are set,
    including on the rows where it differs from its most common value)."""
    mine = _comparable(values)
    if mine.notna().sum() == 0:
        return None
    mode = mine.mode(dropna=True).iloc[0]
    for name, other in kept.items():
        theirs = _comparable(other)
        both = (mine.notna() & theirs.notna()).to_numpy()
        if both.sum() < 0.8 * mine.notna().sum():
            continue
        same = (mine[both] == theirs[both]).to_numpy(dtype=bool)
        rare = (mine[both] != mode).to_numpy(dtype=bool)
        if same.mean() >= 0.98 and (not rare.any() or same[rare].mean() >= 0.95):
            return name
    return None


def _repeated_totals(train: dict[str, pd.Series]) -> dict[str, str]:
    """Inbound totals ("activity:inbound email") that one of their details repeats on
    (almost) every lead: two reasons would say one thing, and the detail says it better."""
    out: dict[str, str] = {}
    for name, values in train.items():
        kind = name.removeprefix("activity:inbound ")
        if kind == name:
            continue
        for detail in (d for d in train if d.startswith(f"activity:{kind}|")):
            if (train[detail].to_numpy() == values.to_numpy()).mean() >= 0.98:
                out[name] = f"repeats {_activity_label(detail)}"
                break
    return out


# A source system is checked on its own (identifiers, label proxies) from this many
# labelled rows with both outcomes.
MIN_SYSTEM_ROWS = 200


def _systems(frame: LeadFrame, labelled: np.ndarray, label: np.ndarray) -> dict[str, np.ndarray]:
    """Labelled-row masks of each source system, when leads of several CRMs are pooled.

    A field that gives the outcome away inside one CRM (Olist fills its segment in for won
    deals only) is diluted by the other CRM's leads below every pooled threshold; on the
    pooled X Education and Olist leads it ranked Olist's outcomes at AUC 0.999.
    """
    systems = frame.data["source_system"].to_numpy()[labelled].astype(str)
    names = np.unique(systems)
    if len(names) < 2:
        return {}
    masks = {str(name): systems == name for name in names}
    return {name: at for name, at in masks.items()
            if at.sum() >= MIN_SYSTEM_ROWS and 0 < label[at].sum() < at.sum()}


def _identifier(spec: FeatureSpec, train: pd.Series) -> bool:
    """Almost every lead has its own value: it names the lead rather than describing it."""
    if spec.kind == "category":
        return train.nunique() > max(0.5 * len(train), 50)
    return spec.origin.startswith("attribute:") and train.nunique() >= 0.95 * len(train)


def select_features(frame: LeadFrame, guard: LeakageGuard) -> FeatureSelection:
    """The features a model trained on `frame` (its labelled leads) may use; the rest, with why.

    With leads of several CRMs, identifiers and label proxies are also looked for within
    each one (`_systems`)."""
    labelled = frame.labelled.to_numpy()
    label = frame.label[labelled]
    systems = _systems(frame, labelled, label)
    kept: dict[str, pd.Series] = {}
    specs: list[FeatureSpec] = []
    dropped: dict[str, str] = {}
    for spec, values in _candidates(frame):
        source_name = spec.origin.split(":", 1)[1]
        values = _normalised(spec, values)
        train = values[labelled]
        reason = guard.blocks(spec.name, source_name)
        if reason is None and frame.snapshots and not spec.origin.startswith("activity:"):
            reason = guard.read_at_export(spec.name.removeprefix("attr:"), source_name)
        if reason is None and train.nunique(dropna=True) <= 1:
            reason = "the same value on every lead" if train.notna().any() else "always empty"
        if reason is None and any(_identifier(spec, train[at]) for at in
                                  (np.ones(len(train), bool), *systems.values())):
            reason = "an identifier (almost every lead has its own value)"
        if reason is None:
            canonical = {k: v[labelled] for k, v in kept.items() if not k.startswith("attr:")}
            twin = (_duplicate_of(train, canonical) if spec.origin.startswith("attribute:")
                    else None)
            if twin is not None:
                blocked_twin = guard.blocks(source_name)
                reason = f"repeats {twin}" if blocked_twin is None else blocked_twin
        if reason is not None:
            dropped[spec.name] = reason
            continue
        kept[spec.name] = values
        specs.append(spec)
    repeated = _repeated_totals({s.name: kept[s.name][labelled] for s in specs})
    dropped.update(repeated)
    specs = [s for s in specs if s.name not in repeated]
    if guard.detect_proxies and specs:
        candidates = pd.DataFrame({s.name: kept[s.name][labelled] for s in specs})
        proxies = {name: f"AUC {auc}" for name, auc in
                   find_label_proxies(candidates, label).items()}
        for system, at in systems.items():
            found = find_label_proxies(candidates[at].reset_index(drop=True), label[at])
            for name, auc in found.items():
                proxies.setdefault(name, f"AUC {auc} within the {system} leads")
        for name, how in proxies.items():
            dropped[name] = (f"predicts the outcome almost perfectly on its own ({how}): "
                             f"it is probably filled in after the fact")
        specs = [s for s in specs if s.name not in proxies]
    specs = _fit_groups(specs, {s.name: kept[s.name][labelled] for s in specs})
    return FeatureSelection(tuple(specs), dropped)


def feature_matrix(frame: LeadFrame | pd.DataFrame, specs: Sequence[FeatureSpec]) -> pd.DataFrame:
    """The model input: one column per spec; floats for numbers, text (or None) for categories."""
    data = frame.data if isinstance(frame, LeadFrame) else frame
    out: dict[str, pd.Series] = {}
    for spec in specs:
        if spec.name not in data:
            raw = pd.Series([0.0 if spec.origin.startswith("activity:") else None] * len(data),
                            index=data.index, dtype="object")
        else:
            raw = data[spec.name]
        if spec.kind == "number":
            if spec.origin.startswith("attribute:"):
                numbers = _as_number(raw)
                values = numbers if numbers is not None else pd.to_numeric(raw, errors="coerce")
            else:
                values = pd.to_numeric(raw, errors="coerce")
            out[spec.name] = values.astype(float)
        else:
            out[spec.name] = _normalised(spec, _clean_text(raw))
    return pd.DataFrame(out, index=data.index)
