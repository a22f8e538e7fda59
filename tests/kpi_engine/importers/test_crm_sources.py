"""The three CRM sample data sets, imported once per backend and checked against pandas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from kpi_engine.db.models import Account, Deal, ImportRun, Lead, Product, Rep, StageEvent, Team
from kpi_engine.importers import (
    ImportReport,
    import_maven_crm,
    import_olist,
    import_xeducation,
)
from tests.databases import BACKENDS, migrated_engine


@pytest.fixture(scope="module", params=BACKENDS)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[tuple[Engine, dict[str, ImportReport]]]:
    with migrated_engine(str(request.param), tmp_path_factory.mktemp("crm")) as engine:
        reports = {
            "maven": import_maven_crm(engine, data_dir / "maven_crm_sales"),
            "xeducation": import_xeducation(engine, data_dir / "xeducation_leads" / "Leads.csv"),
            "olist": import_olist(engine, data_dir / "olist_marketing_funnel"),
        }
        yield engine, reports


def scalar(engine: Engine, statement: object) -> object:
    with Session(engine) as conn:
        return conn.execute(statement).scalar_one()  # type: ignore[call-overload]


def test_maven_counts(loaded: tuple[Engine, dict[str, ImportReport]], data_dir: Path) -> None:
    engine, reports = loaded
    pipeline = pd.read_csv(data_dir / "maven_crm_sales" / "sales_pipeline.csv")
    teams = pd.read_csv(data_dir / "maven_crm_sales" / "sales_teams.csv")
    maven = Deal.source_system == "maven"
    assert scalar(engine, select(func.count()).where(maven)) == len(pipeline) == 8800
    assert scalar(engine, select(func.count()).where(maven, Deal.is_won.is_(True))) == 4238
    assert scalar(engine, select(func.count()).where(maven, Deal.is_won.is_(False))) == 2473
    assert scalar(engine, select(func.count()).where(maven, Deal.is_won.is_(None))) == 2089
    assert scalar(engine, select(func.count()).select_from(Account)) == 85
    assert scalar(engine, select(func.count()).select_from(Product)) == 7
    reps = Rep.source_system == "maven"
    assert scalar(engine, select(func.count()).where(reps, Rep.role == "rep")) == 35
    assert scalar(engine, select(func.count()).where(reps, Rep.role == "manager")) == \
        teams.manager.nunique() == 6
    won_sum = pipeline.loc[pipeline.deal_stage == "Won", "close_value"].sum()
    assert scalar(engine, select(func.sum(Deal.amount)).where(maven, Deal.is_won.is_(True))) \
        == pytest.approx(won_sum) == 10005534
    # Stage history: one Engaging event per engaged deal, one Won/Lost per closed deal.
    events = StageEvent.case_id.like("maven:%")
    expected = pipeline.engage_date.notna().sum() + pipeline.close_date.notna().sum()
    assert scalar(engine, select(func.count()).where(events)) == expected
    assert reports["maven"].rejected == 0
    assert any("GTXPro" in note and "1,480" in note for note in reports["maven"].notes)


def test_maven_values(loaded: tuple[Engine, dict[str, ImportReport]], data_dir: Path) -> None:
    engine, _ = loaded
    pipeline = pd.read_csv(data_dir / "maven_crm_sales" / "sales_pipeline.csv")
    row = pipeline[pipeline.opportunity_id == "Z063OYW0"].iloc[0]
    with Session(engine) as conn:
        deal = conn.execute(text(
            "SELECT d.stage, d.amount, p.name AS product, "
            "r.name AS owner, a.name AS account, m.name AS manager, t.region "
            "FROM deals d JOIN products p ON p.id = d.product_id JOIN reps r ON r.id = "
            "d.owner_id JOIN accounts a ON a.id = d.account_id JOIN reps m ON m.id = "
            "r.manager_id JOIN teams t ON t.id = r.team_id WHERE d.external_id = 'Z063OYW0'"
        )).mappings().one()
        history = conn.execute(text(
            "SELECT seq, from_stage, to_stage, occurred_at FROM stage_events "
            "WHERE case_id = 'maven:Z063OYW0' ORDER BY seq"
        )).all()
        typed = conn.execute(select(Deal.is_won, Deal.created_at, Deal.closed_at).where(
            Deal.external_id == "Z063OYW0")).one()
        acme = conn.execute(select(Account).where(Account.name == "Acme Corporation")) \
            .scalar_one()
    assert row["product"] == "GTXPro" and deal["product"] == "GTX Pro"
    assert (deal["stage"], deal["amount"], deal["owner"], deal["account"]) == \
        (row["deal_stage"], row["close_value"], row["sales_agent"], row["account"])
    assert typed.is_won is True
    assert str(typed.created_at) == f"{row['engage_date']} 00:00:00"
    assert str(typed.closed_at) == f"{row['close_date']} 00:00:00"
    assert (deal["manager"], deal["region"]) == ("Melvin Marxen", "Central")
    assert [(s, f, t) for s, f, t, _ in history] == [(1, None, "Engaging"), (2, "Engaging", "Won")]
    assert (acme.sector, acme.employees, acme.size_band, acme.revenue, acme.country) == \
        ("technolgy", 2822, "1001-5000", 1100.04, "United States")


def test_xeducation(loaded: tuple[Engine, dict[str, ImportReport]], data_dir: Path) -> None:
    engine, reports = loaded
    source = pd.read_csv(data_dir / "xeducation_leads" / "Leads.csv", dtype=str,
                         keep_default_na=False)
    xed = Lead.source_system == "xeducation"
    assert scalar(engine, select(func.count()).where(xed)) == len(source) == 9240
    assert scalar(engine, select(func.count()).where(xed, Lead.converted.is_(True))) == 3561
    assert scalar(engine, select(func.count()).where(xed, Lead.status == "lost")) == 5679
    assert scalar(engine, select(func.count()).where(xed, Lead.created_at.is_not(None))) == 0
    assert scalar(engine, select(func.sum(Lead.time_on_site_seconds)).where(xed)) == \
        source["Total Time Spent on Website"].astype(int).sum()
    google = (source["Lead Source"] == "Google").sum()
    assert scalar(engine, select(func.count()).where(xed, Lead.source == "Google")) == google
    # "Select" is null in typed columns, verbatim in attributes.
    selects = (source["Specialization"] == "Select").sum()
    assert scalar(engine, select(func.count()).where(xed, Lead.industry == "Select")) == 0
    sample = source.iloc[1234]
    with Session(engine) as conn:
        lead = conn.execute(select(Lead).where(Lead.external_id == sample["Prospect ID"])) \
            .scalar_one()
    assert lead.attributes == {k: (v or None) for k, v in sample.items()}
    assert len(lead.attributes) == 37
    assert lead.channel == sample["Lead Origin"]
    assert lead.total_visits == (float(sample["TotalVisits"]) if sample["TotalVisits"] else None)
    assert selects == 1942
    assert reports["xeducation"].rejected == 0


def test_olist(loaded: tuple[Engine, dict[str, ImportReport]], data_dir: Path) -> None:
    engine, _ = loaded
    folder = data_dir / "olist_marketing_funnel"
    mqls = pd.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv")
    closed = pd.read_csv(folder / "olist_closed_deals_dataset.csv")
    olist = Lead.source_system == "olist"
    assert scalar(engine, select(func.count()).where(olist)) == len(mqls) == 8000
    assert scalar(engine, select(func.count()).where(olist, Lead.converted.is_(True))) == 842
    assert scalar(engine, select(func.count()).where(olist, Lead.converted.is_(False))) == 7158
    assert scalar(engine, select(func.count()).where(Deal.source_system == "olist",
                                                     Deal.is_won.is_(True))) == 842
    reps = set(closed.sdr_id) | set(closed.sr_id)
    assert scalar(engine, select(func.count()).where(Rep.source_system == "olist")) == len(reps)
    assert scalar(engine, select(func.count()).where(
        olist, Lead.source == "paid_search", Lead.converted.is_(True))) == 195
    row = closed.iloc[0]
    with Session(engine) as conn:
        lead = conn.execute(select(Lead).where(Lead.external_id == row["mql_id"])).scalar_one()
        owner = conn.execute(select(Rep.external_id, Team.name).join(Team).where(
            Rep.id == lead.owner_id)).one()
        deal = conn.execute(select(Deal).where(Deal.source_system == "olist",
                                               Deal.external_id == row["mql_id"])).scalar_one()
    first = mqls.set_index("mql_id").loc[row["mql_id"], "first_contact_date"]
    assert str(lead.created_at) == f"{first} 00:00:00"
    assert str(lead.converted_at) == row["won_date"] == str(deal.closed_at)
    assert (lead.segment, lead.lead_type, lead.behaviour_profile) == \
        (row["business_segment"], row["lead_type"], row["lead_behaviour_profile"])
    assert lead.attributes["sdr_id"] == row["sdr_id"]
    assert lead.attributes["business_type"] == row["business_type"]
    assert owner.external_id == row["sr_id"]
    assert (deal.lead_id, deal.owner_id, deal.stage) == (lead.id, lead.owner_id, "Won")


def test_reimport_changes_nothing(
    loaded: tuple[Engine, dict[str, ImportReport]], data_dir: Path
) -> None:
    engine, first = loaded
    again = [
        import_maven_crm(engine, data_dir / "maven_crm_sales"),
        import_xeducation(engine, data_dir / "xeducation_leads" / "Leads.csv"),
        import_olist(engine, data_dir / "olist_marketing_funnel"),
    ]
    for report, before in zip(again, first.values(), strict=True):
        assert report.changed_nothing
        assert report.unchanged == before.inserted
        assert "nothing changed" in report.summary() and "unchanged:" in report.summary()
    assert scalar(engine, select(func.count()).select_from(ImportRun)) == 6
