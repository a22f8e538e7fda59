"""`kpibot import olist DIR`: the Olist marketing funnel (MQLs → closed deals).

Mapping (source_system "olist"):
- Every MQL → a lead keyed by mql_id: created_at = first_contact_date (a date, so
  midnight in the workspace time zone), source = origin, landing_page = landing_page_id.
- Every closed deal → that lead converted (status "converted", converted_at = won_date,
  segment = business_segment, lead_type, behaviour_profile = lead_behaviour_profile, owner
  = the SR; every other closed-deal column, sdr_id included, into attributes) and a won
  deal (external_id = mql_id, created_at = first contact, closed_at = won_date, owner = the
  SR, lead_id, stage "Won", is_won True, amount NULL: the data has no deal value).
- SDRs and SRs → reps (external_id = their id, name "Olist <first 8 hex>", role rep).
  13 ids act as SDR on some deals and SR on others; a rep has one team, so each goes to
  team "SR" or "SDR" by the role they hold on most deals (ties → SR, the deal owner).

The outcome of MQLs without a closed deal — our choice: converted = False, status
"lost". The data set holds every won deal of the sampled MQLs (won dates run until
2018-11-14, more than five months after the last first contact on 2018-05-31, while the
median time to win is 14 days), and lost deals are simply not recorded. So an MQL that
is not in the closed deals did not convert within the observed window; lead scoring
needs those negatives ("won vs not won") to learn anything. A lead imported later from a
fresher export that has a closed deal is updated to converted.

One deal was won two days before its lead's first contact; it is kept as in the source
and mentioned in the report's notes. Rows are rejected individually for a blank or
repeated mql_id, a bad date, or a closed deal whose mql_id is not among the MQLs. The
optional olist_sellers_dataset.csv is not read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table

from kpi_engine.db.models import Deal, Lead, Rep, Team
from kpi_engine.importers import values as v
from kpi_engine.importers.progress import track
from kpi_engine.importers.reading import (
    CsvFile,
    checksum_of,
    read_csv,
    refuse_if_mostly_rejected,
    require_file,
)
from kpi_engine.importers.report import ImportReport, RejectedRow
from kpi_engine.importers.writing import record_run, upsert, utc_now

SOURCE = "olist"
LABEL = "olist"
MQL_FILE = "olist_marketing_qualified_leads_dataset.csv"
DEALS_FILE = "olist_closed_deals_dataset.csv"
MQL_COLUMNS = ("mql_id", "first_contact_date", "landing_page_id", "origin")
DEAL_COLUMNS = ("mql_id", "sdr_id", "sr_id", "won_date", "business_segment", "lead_type",
                "lead_behaviour_profile")
# Closed-deal columns mapped to lead columns; the others go to attributes.
MAPPED = {"mql_id", "won_date", "business_segment", "lead_type", "lead_behaviour_profile"}

TEAMS: Table = Team.__table__  # type: ignore[assignment]
REPS: Table = Rep.__table__  # type: ignore[assignment]
LEADS: Table = Lead.__table__  # type: ignore[assignment]
DEALS: Table = Deal.__table__  # type: ignore[assignment]


def import_olist(
    engine: Engine, directory: Path, *, progress: bool = False, timezone: str | None = None
) -> ImportReport:
    """Import the Olist marketing funnel from `directory` in one transaction."""
    started = utc_now()
    zone = v.workspace_zone(timezone)
    directory = Path(directory)
    mql_file = read_csv(require_file(directory, MQL_FILE, LABEL), MQL_COLUMNS, LABEL)
    deal_file = read_csv(require_file(directory, DEALS_FILE, LABEL), DEAL_COLUMNS, LABEL)
    rejected: list[RejectedRow] = [*mql_file.rejected, *deal_file.rejected]
    leads = _mqls(mql_file, zone, rejected, progress)
    closed = _closed_deals(deal_file, leads, zone, rejected)
    for file in (mql_file, deal_file):
        refuse_if_mostly_rejected(file.path.name, len(file.rows) + len(file.rejected),
                                  [r for r in rejected if r.file == file.path.name], LABEL)
    teams, reps = _reps(closed)
    early = sum(1 for d in closed.values() if d["won_at"] < leads[d["mql_id"]]["created_at"])
    notes = [f"{len(leads) - len(closed):,} MQLs without a closed deal imported as not "
             f"converted (status lost): the data set records won deals only"]
    if early:
        notes.append(f"{early} deal(s) won before the lead's first contact date, kept as "
                     f"in the source")
    checksum = checksum_of((mql_file.checksum, deal_file.checksum))

    with engine.begin() as conn:
        team_result = upsert(conn, TEAMS, teams, key=("name",),
                             scope=TEAMS.c.name.in_([t["name"] for t in teams]))
        team_ids = {name: i for (name,), i in team_result.ids.items()}
        rep_rows = [{**{k: r[k] for k in r if k != "team"}, "team_id": team_ids[r["team"]]}
                    for r in reps]
        rep_result = upsert(conn, REPS, rep_rows, key=("source_system", "external_id"),
                            scope=REPS.c.source_system == SOURCE)
        rep_ids = {ext: i for (_, ext), i in rep_result.ids.items()}
        lead_rows = [_lead_row(mql, lead, closed.get(mql), rep_ids) for mql, lead in leads.items()]
        lead_result = upsert(conn, LEADS, lead_rows, key=("source_system", "external_id"),
                             scope=LEADS.c.source_system == SOURCE)
        lead_ids = {ext: i for (_, ext), i in lead_result.ids.items()}
        deal_rows = [
            {
                "source_system": SOURCE,
                "external_id": mql,
                "lead_id": lead_ids[mql],
                "owner_id": rep_ids[deal["sr_id"]],
                "stage": "Won",
                "is_won": True,
                "amount": None,
                "created_at": leads[mql]["created_at"],
                "closed_at": deal["won_at"],
            }
            for mql, deal in closed.items()
        ]
        deal_result = upsert(conn, DEALS, deal_rows, key=("source_system", "external_id"),
                             scope=DEALS.c.source_system == SOURCE)
        tables = (team_result.counts, rep_result.counts, lead_result.counts, deal_result.counts)
        run_id = record_run(conn, source=LABEL, path=str(directory), checksum=checksum,
                            started_at=started, counts=tables, rejected=len(rejected))
    return ImportReport(LABEL, str(directory), checksum, tables, tuple(rejected), tuple(notes),
                        run_id)


def _mqls(
    file: CsvFile, zone: Any, rejected: list[RejectedRow], progress: bool
) -> dict[str, dict[str, Any]]:
    leads: dict[str, dict[str, Any]] = {}
    for row in track(file.rows, enabled=progress, total=len(file.rows), label=LABEL):
        values = row.values
        try:
            mql = v.short_text(v.required(values, "mql_id"), "mql_id", 120) or ""
            if mql in leads:
                raise v.BadValue(f"mql_id '{mql}' appears twice")
            leads[mql] = {
                "created_at": v.instant(values["first_contact_date"], zone,
                                        "first_contact_date"),
                "source": v.short_text(values["origin"], "origin", 80),
                "landing_page": v.short_text(values["landing_page_id"], "landing_page_id", 120),
            }
        except v.BadValue as error:
            rejected.append(RejectedRow(file.path.name, row.line, str(error)))
    return leads


def _closed_deals(
    file: CsvFile, leads: dict[str, dict[str, Any]], zone: Any, rejected: list[RejectedRow]
) -> dict[str, dict[str, Any]]:
    closed: dict[str, dict[str, Any]] = {}
    for row in file.rows:
        values = row.values
        try:
            mql = v.required(values, "mql_id")
            if mql not in leads:
                raise v.BadValue(f"mql_id '{mql}' is not in {MQL_FILE}")
            if mql in closed:
                raise v.BadValue(f"mql_id '{mql}' has two closed deals")
            won_at = v.instant(v.required(values, "won_date"), zone, "won_date")
            closed[mql] = {
                "mql_id": mql,
                "won_at": won_at,
                "sdr_id": v.short_text(v.required(values, "sdr_id"), "sdr_id", 120),
                "sr_id": v.short_text(v.required(values, "sr_id"), "sr_id", 120),
                "segment": v.short_text(values["business_segment"], "business_segment", 80),
                "lead_type": v.short_text(values["lead_type"], "lead_type", 80),
                "behaviour_profile": v.short_text(values["lead_behaviour_profile"],
                                                  "lead_behaviour_profile", 80),
                "attributes": {c: v.text(values[c]) for c in file.columns if c not in MAPPED},
            }
        except v.BadValue as error:
            rejected.append(RejectedRow(file.path.name, row.line, str(error)))
    return closed


def _reps(
    closed: dict[str, dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Teams SDR and SR, and one rep per id in the team of the role it holds most."""
    roles: dict[str, dict[str, int]] = {}
    for deal in closed.values():
        for role, rep in (("SDR", deal["sdr_id"]), ("SR", deal["sr_id"])):
            roles.setdefault(rep, {"SDR": 0, "SR": 0})[role] += 1
    reps = [
        {
            "source_system": SOURCE,
            "external_id": rep,
            "name": f"Olist {rep[:8]}",
            "role": "rep",
            "team": "SDR" if counts["SDR"] > counts["SR"] else "SR",
        }
        for rep, counts in sorted(roles.items())
    ]
    teams = [{"name": "SDR", "region": None}, {"name": "SR", "region": None}]
    return teams, reps


def _lead_row(
    mql: str,
    lead: dict[str, Any], deal: dict[str, Any] | None, rep_ids: dict[str, int]
) -> dict[str, Any]:
    won = deal is not None
    return {
        "source_system": SOURCE,
        "external_id": mql,
        **lead,
        "status": "converted" if won else "lost",
        "converted": won,
        "converted_at": deal["won_at"] if deal else None,
        "owner_id": rep_ids[deal["sr_id"]] if deal else None,
        "segment": deal["segment"] if deal else None,
        "lead_type": deal["lead_type"] if deal else None,
        "behaviour_profile": deal["behaviour_profile"] if deal else None,
        "attributes": deal["attributes"] if deal else {},
    }
