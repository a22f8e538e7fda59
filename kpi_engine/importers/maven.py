"""`kpibot import maven-crm DIR`: the Maven Analytics "CRM + Sales + Opportunities" sample.

Mapping (source_system "maven"; names are the external ids, as the source has no others):
- sales_teams.csv → reps (role "rep") and their managers (reps with role "manager"); one
  team per manager, named after the manager, region = regional office; reps get the
  region, their team and manager_id.
- accounts.csv → accounts (country = office_location, parent_name = subsidiary_of, plus a
  size band from employees). products.csv → products (list_price = sales_price).
- sales_pipeline.csv → one deal per opportunity (created_at = engage_date, closed_at =
  close_date, amount = close_value, is_won from Won/Lost, None while open). The pipeline
  spells a product `GTXPro` where products.csv says `GTX Pro`: it is mapped, and the
  report's notes say on how many deals.
- Stage history in process "deals" (kind crm), case_id "maven:<opportunity_id>": Engaging
  at engage_date, then Won/Lost at close_date, owner = the agent. Deals without dates
  (Prospecting) get no events.

Rejected individually (reported with their line): unknown agent, product or account, an
unknown stage, a bad date or number, a repeated id.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table

from kpi_engine.db.models import Account, Deal, Product, Rep, Team
from kpi_engine.importers import values as v
from kpi_engine.importers.progress import track
from kpi_engine.importers.reading import (
    CsvFile,
    SourceRow,
    checksum_of,
    read_csv,
    refuse_if_mostly_rejected,
    require_file,
)
from kpi_engine.importers.report import ImportReport, RejectedRow, merge_counts
from kpi_engine.importers.stages import STAGE_EVENTS, process_id, sync_events
from kpi_engine.importers.writing import record_run, upsert, utc_now

SOURCE = "maven"
LABEL = "maven-crm"
DEALS_PROCESS = "deals"
# Pipeline spelling → products.csv spelling.
PRODUCT_ALIASES = {"GTXPro": "GTX Pro"}
STAGES = {"Prospecting": None, "Engaging": None, "Won": True, "Lost": False}
REQUIRED = {
    "sales_teams.csv": ("sales_agent", "manager", "regional_office"),
    "accounts.csv": ("account", "sector", "year_established", "revenue", "employees",
                     "office_location", "subsidiary_of"),
    "products.csv": ("product", "series", "sales_price"),
    "sales_pipeline.csv": ("opportunity_id", "sales_agent", "product", "account", "deal_stage",
                           "engage_date", "close_date", "close_value"),
}
# Upper bounds of the employee-count bands an account is put in.
SIZE_BANDS = ((50, "1-50"), (200, "51-200"), (1000, "201-1000"), (5000, "1001-5000"),
              (10000, "5001-10000"))

TEAMS: Table = Team.__table__  # type: ignore[assignment]
REPS: Table = Rep.__table__  # type: ignore[assignment]
ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
PRODUCTS: Table = Product.__table__  # type: ignore[assignment]
DEALS: Table = Deal.__table__  # type: ignore[assignment]


def size_band(employees: int | None) -> str | None:
    """The employee-count band of an account ("51-200"); None when unknown."""
    if employees is None:
        return None
    for upper, band in SIZE_BANDS:
        if employees <= upper:
            return band
    return "10000+"


def import_maven_crm(
    engine: Engine, directory: Path, *, progress: bool = False, timezone: str | None = None
) -> ImportReport:
    """Import the Maven CRM sample from `directory` (four CSV files) in one transaction."""
    started = utc_now()
    zone = v.workspace_zone(timezone)
    directory = Path(directory)
    files = {
        name: read_csv(require_file(directory, name, LABEL), required, LABEL)
        for name, required in REQUIRED.items()
    }
    rejected: list[RejectedRow] = [r for f in files.values() for r in f.rejected]
    teams, managers, agents = _people(files["sales_teams.csv"], rejected)
    accounts = _accounts(files["accounts.csv"], rejected)
    products = _products(files["products.csv"], rejected)
    pipeline = files["sales_pipeline.csv"]
    deals, aliased = _deals(pipeline, agents, products, accounts, zone, rejected, progress)
    refuse_if_mostly_rejected(
        pipeline.path.name, len(pipeline.rows) + len(pipeline.rejected),
        [r for r in rejected if r.file == pipeline.path.name], LABEL,
    )
    notes = []
    for alias, name in PRODUCT_ALIASES.items():
        if aliased.get(alias):
            notes.append(f"product '{alias}' in sales_pipeline.csv read as '{name}' "
                         f"(products.csv spelling) on {aliased[alias]:,} deals")
    checksum = checksum_of(f.checksum for f in files.values())

    with engine.begin() as conn:
        team_result = upsert(conn, TEAMS, teams, key=("name",),
                             scope=TEAMS.c.name.in_([t["name"] for t in teams]))
        team_ids = {name: i for (name,), i in team_result.ids.items()}
        rep_scope = REPS.c.source_system == SOURCE
        manager_rows = [
            {**{k: m[k] for k in m if k != "team"}, "team_id": team_ids[m["team"]]}
            for m in managers
        ]
        manager_result = upsert(conn, REPS, manager_rows, key=("source_system", "external_id"),
                                scope=rep_scope)
        manager_ids = {ext: i for (_, ext), i in manager_result.ids.items()}
        agent_rows = [
            {**{k: a[k] for k in a if k not in ("team", "manager")},
             "team_id": team_ids[a["team"]], "manager_id": manager_ids[a["manager"]]}
            for a in agents.values()
        ]
        agent_result = upsert(conn, REPS, agent_rows, key=("source_system", "external_id"),
                              scope=rep_scope)
        rep_ids = {ext: i for (_, ext), i in agent_result.ids.items()}
        account_result = upsert(conn, ACCOUNTS, list(accounts.values()),
                                key=("source_system", "external_id"),
                                scope=ACCOUNTS.c.source_system == SOURCE)
        product_result = upsert(conn, PRODUCTS, list(products.values()),
                                key=("source_system", "external_id"),
                                scope=PRODUCTS.c.source_system == SOURCE)
        account_ids = {ext: i for (_, ext), i in account_result.ids.items()}
        product_ids = {ext: i for (_, ext), i in product_result.ids.items()}
        deal_rows = [
            {
                **{k: d[k] for k in d if k not in ("agent", "product", "account")},
                "owner_id": rep_ids[d["agent"]],
                "product_id": product_ids[d["product"]],
                "account_id": account_ids[d["account"]] if d["account"] else None,
            }
            for d in deals
        ]
        deal_result = upsert(conn, DEALS, deal_rows, key=("source_system", "external_id"),
                             scope=DEALS.c.source_system == SOURCE)
        deal_ids = {ext: i for (_, ext), i in deal_result.ids.items()}
        process, _ = process_id(conn, DEALS_PROCESS, kind="crm",
                                description="CRM deal pipeline")
        events = _stage_events(deals, deal_ids, rep_ids)
        event_counts = sync_events(conn, process, events,
                                   scope=STAGE_EVENTS.c.case_id.startswith(f"{SOURCE}:",
                                                                           autoescape=True))
        rep_counts = merge_counts(manager_result.counts, agent_result.counts)
        tables = (team_result.counts, rep_counts, account_result.counts,
                  product_result.counts, deal_result.counts, event_counts)
        run_id = record_run(conn, source=LABEL, path=str(directory), checksum=checksum,
                            started_at=started, counts=tables, rejected=len(rejected))
    return ImportReport(LABEL, str(directory), checksum, tables, tuple(rejected), tuple(notes),
                        run_id)


def _people(
    file: CsvFile, rejected: list[RejectedRow]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Teams (one per manager), managers and agents (by name) from sales_teams.csv."""
    teams: dict[str, dict[str, Any]] = {}
    agents: dict[str, dict[str, Any]] = {}
    for row in file.rows:
        agent, manager = v.text(row.values["sales_agent"]), v.text(row.values["manager"])
        region = v.text(row.values["regional_office"])
        if agent is None or manager is None:
            rejected.append(RejectedRow(file.path.name, row.line,
                                        "sales_agent and manager are required"))
            continue
        if agent in agents:
            rejected.append(RejectedRow(file.path.name, row.line,
                                        f"sales_agent '{agent}' appears twice"))
            continue
        teams.setdefault(manager, {"name": manager, "region": region})
        agents[agent] = _rep(agent, "rep", region) | {"team": manager, "manager": manager}
    managers = [
        _rep(name, "manager", team["region"]) | {"team": name} for name, team in teams.items()
    ]
    return list(teams.values()), managers, agents


def _rep(name: str, role: str, region: str | None) -> dict[str, Any]:
    return {"source_system": SOURCE, "external_id": name, "name": name, "role": role,
            "region": region}


def _accounts(file: CsvFile, rejected: list[RejectedRow]) -> dict[str, dict[str, Any]]:
    accounts: dict[str, dict[str, Any]] = {}
    for row in file.rows:
        values = row.values
        try:
            name = v.required(values, "account")
            if name in accounts:
                raise v.BadValue(f"account '{name}' appears twice")
            employees = v.integer(values["employees"], "employees")
            accounts[name] = {
                "source_system": SOURCE,
                "external_id": name,
                "name": name,
                "sector": v.text(values["sector"]),
                "employees": employees,
                "size_band": size_band(employees),
                "revenue": v.number(values["revenue"], "revenue"),
                "country": v.text(values["office_location"]),
                "year_established": v.integer(values["year_established"], "year_established"),
                "parent_name": v.text(values["subsidiary_of"]),
            }
        except v.BadValue as error:
            rejected.append(RejectedRow(file.path.name, row.line, str(error)))
    return accounts


def _products(file: CsvFile, rejected: list[RejectedRow]) -> dict[str, dict[str, Any]]:
    products: dict[str, dict[str, Any]] = {}
    for row in file.rows:
        try:
            name = v.required(row.values, "product")
            if name in products:
                raise v.BadValue(f"product '{name}' appears twice")
            products[name] = {
                "source_system": SOURCE,
                "external_id": name,
                "name": name,
                "series": v.text(row.values["series"]),
                "list_price": v.number(row.values["sales_price"], "sales_price"),
            }
        except v.BadValue as error:
            rejected.append(RejectedRow(file.path.name, row.line, str(error)))
    return products


def _deals(
    file: CsvFile,
    agents: Mapping[str, Any],
    products: Mapping[str, Any],
    accounts: Mapping[str, Any],
    zone: Any,
    rejected: list[RejectedRow],
    progress: bool,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    deals: list[dict[str, Any]] = []
    seen: set[str] = set()
    aliased: dict[str, int] = {}
    for row in track(file.rows, enabled=progress, total=len(file.rows), label=LABEL):
        try:
            deal, alias = _deal(row, agents, products, accounts, zone, seen)
        except v.BadValue as error:
            rejected.append(RejectedRow(file.path.name, row.line, str(error)))
            continue
        seen.add(deal["external_id"])
        if alias:
            aliased[alias] = aliased.get(alias, 0) + 1
        deals.append(deal)
    return deals, aliased


def _deal(
    row: SourceRow,
    agents: Mapping[str, Any],
    products: Mapping[str, Any],
    accounts: Mapping[str, Any],
    zone: Any,
    seen: set[str],
) -> tuple[dict[str, Any], str | None]:
    values = row.values
    opportunity = v.required(values, "opportunity_id")
    if opportunity in seen:
        raise v.BadValue(f"opportunity_id '{opportunity}' appears twice")
    agent = v.required(values, "sales_agent")
    if agent not in agents:
        raise v.BadValue(f"sales_agent '{agent}' is not in sales_teams.csv")
    source_product = v.required(values, "product")
    product = PRODUCT_ALIASES.get(source_product, source_product)
    if product not in products:
        raise v.BadValue(f"product '{source_product}' is not in products.csv")
    account = v.text(values["account"])
    if account is not None and account not in accounts:
        raise v.BadValue(f"account '{account}' is not in accounts.csv")
    stage = v.required(values, "deal_stage")
    if stage not in STAGES:
        raise v.BadValue(f"deal_stage '{stage}' is not one of {', '.join(STAGES)}")
    deal = {
        "source_system": SOURCE,
        "external_id": opportunity,
        "agent": agent,
        "product": product,
        "account": account,
        "stage": stage,
        "amount": v.number(values["close_value"], "close_value"),
        "created_at": v.instant(values["engage_date"], zone, "engage_date"),
        "closed_at": v.instant(values["close_date"], zone, "close_date"),
        "is_won": STAGES[stage],
    }
    return deal, source_product if product != source_product else None


def _stage_events(
    deals: list[dict[str, Any]], deal_ids: Mapping[str, int], rep_ids: Mapping[str, int]
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for deal in deals:
        steps = []
        if deal["created_at"] is not None:
            steps.append(("Engaging", deal["created_at"]))
        if deal["is_won"] is not None and deal["closed_at"] is not None:
            steps.append((deal["stage"], deal["closed_at"]))
        previous = None
        for seq, (stage, at) in enumerate(steps, start=1):
            events.append({
                "case_id": f"{SOURCE}:{deal['external_id']}",
                "seq": seq,
                "entity_type": "deal",
                "lead_id": None,
                "deal_id": deal_ids[deal["external_id"]],
                "from_stage": previous,
                "to_stage": stage,
                "occurred_at": at,
                "owner_id": rep_ids[deal["agent"]],
                "resource": None,
                "attributes": None,
            })
            previous = stage
    return events

