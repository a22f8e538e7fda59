"""Lead frames straight from the public sample files, shaped like `load_leads` output.

For measuring model quality and speed without a database round trip (tests, benchmarks).
The mapping mirrors the importers (kpi_engine/importers/xeducation.py, olist.py): mapped
canonical columns plus every source column verbatim under ``attr:<name>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kpi_engine.scoring.features import LeadFrame

XEDUCATION_COLUMNS = {
    "channel": "Lead Origin",
    "source": "Lead Source",
    "last_activity": "Last Activity",
    "country": "Country",
    "city": "City",
    "industry": "Specialization",
    "title": "What is your current occupation",
    "total_visits": "TotalVisits",
    "time_on_site_seconds": "Total Time Spent on Website",
    "pages_per_visit": "Page Views Per Visit",
}


def xeducation_frame(path: Path) -> LeadFrame:
    """Leads.csv as a LeadFrame: converted/lost leads, no dates (the file has none)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw = raw.replace("", None)
    data = pd.DataFrame({
        "lead_id": np.arange(1, len(raw) + 1),
        "external_id": raw["Prospect ID"],
        "source_system": "xeducation",
        "owner_id": None,
        "created_at": pd.NaT,
        "status": np.where(raw["Converted"] == "1", "converted", "lost"),
        "converted_at": pd.NaT,
    })
    for column, source in XEDUCATION_COLUMNS.items():
        values = raw[source].where(raw[source] != "Select", None)
        data[column] = (pd.to_numeric(values) if column in ("total_visits",
                        "time_on_site_seconds", "pages_per_visit") else values)
    for column in raw.columns:
        data[f"attr:{column}"] = raw[column]
    return LeadFrame(data, tuple(raw.columns))


def olist_frame(directory: Path) -> LeadFrame:
    """The Olist MQLs as a LeadFrame: won (a closed deal) vs not won, dated by first contact."""
    mqls = pd.read_csv(directory / "olist_marketing_qualified_leads_dataset.csv", dtype=str)
    deals = pd.read_csv(directory / "olist_closed_deals_dataset.csv", dtype=str)
    merged = mqls.merge(deals, on="mql_id", how="left")
    won = merged["won_date"].notna()
    data = pd.DataFrame({
        "lead_id": np.arange(1, len(merged) + 1),
        "external_id": merged["mql_id"],
        "source_system": "olist",
        "owner_id": None,
        "created_at": pd.to_datetime(merged["first_contact_date"]),
        "status": np.where(won, "converted", "lost"),
        "converted_at": pd.to_datetime(merged["won_date"]),
        "source": merged["origin"],
        "landing_page": merged["landing_page_id"],
        "segment": merged["business_segment"],
        "lead_type": merged["lead_type"],
        "behaviour_profile": merged["lead_behaviour_profile"],
    })
    extra = [c for c in deals.columns if c not in ("mql_id", "won_date", "business_segment",
                                                   "lead_type", "lead_behaviour_profile")]
    for column in extra:
        data[f"attr:{column}"] = merged[column]
    return LeadFrame(data, tuple(extra))
