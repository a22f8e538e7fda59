"""`kpibot import xeducation FILE`: the X Education lead-scoring file (Leads.csv).

Each row becomes a lead keyed by `Prospect ID` (source_system "xeducation"):
- channel = Lead Origin, source = Lead Source (kept as is, mixed case included),
  total_visits = TotalVisits, time_on_site_seconds = Total Time Spent on Website,
  pages_per_visit = Page Views Per Visit, last_activity = Last Activity, country = Country,
  city = City, industry = Specialization, title = What is your current occupation.
  In these typed columns the form placeholder "Select" means "not answered" and is stored
  as NULL.
- `attributes` holds every source column under its verbatim name with its verbatim text
  ("Select" included, blanks as null), so lead scoring can use any of them.
- `Converted` 1/0 → converted True/False, status converted/lost. A file without that
  column imports open leads (converted NULL, status open). The file has no dates, so
  created_at stays NULL.

Only `Prospect ID` is required; other known columns are optional. A row is rejected
individually for a blank or repeated Prospect ID, a non-numeric behavioural value or a
Converted value other than 0/1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table

from kpi_engine.db.models import Lead
from kpi_engine.importers import values as v
from kpi_engine.importers.progress import track
from kpi_engine.importers.reading import SourceRow, read_csv, refuse_if_mostly_rejected
from kpi_engine.importers.report import ImportReport, RejectedRow
from kpi_engine.importers.writing import record_run, upsert, utc_now

SOURCE = "xeducation"
LABEL = "xeducation"
KEY = "Prospect ID"
OUTCOME = "Converted"
PLACEHOLDER = "Select"
# Lead column ← source column, with the column's VARCHAR length.
TEXT_COLUMNS = {
    "channel": ("Lead Origin", 80),
    "source": ("Lead Source", 80),
    "last_activity": ("Last Activity", 80),
    "country": ("Country", 80),
    "city": ("City", 80),
    "industry": ("Specialization", 80),
    "title": ("What is your current occupation", 120),
}
NUMBER_COLUMNS = {
    "total_visits": "TotalVisits",
    "time_on_site_seconds": "Total Time Spent on Website",
    "pages_per_visit": "Page Views Per Visit",
}
LEADS: Table = Lead.__table__  # type: ignore[assignment]


def import_xeducation(
    engine: Engine, path: Path, *, progress: bool = False, timezone: str | None = None
) -> ImportReport:
    """Import X Education leads from `path` in one transaction (`timezone` is unused: no dates)."""
    started = utc_now()
    v.workspace_zone(timezone)  # an unknown zone is still a user error
    path = Path(path)
    file = read_csv(path, (KEY,), LABEL)
    has_outcome = OUTCOME in file.columns
    rejected: list[RejectedRow] = list(file.rejected)
    leads: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in track(file.rows, enabled=progress, total=len(file.rows), label=LABEL):
        try:
            lead = _lead(row, file.columns, has_outcome)
            if lead["external_id"] in seen:
                raise v.BadValue(f"{KEY} '{lead['external_id']}' appears twice")
        except v.BadValue as error:
            rejected.append(RejectedRow(path.name, row.line, str(error)))
            continue
        seen.add(lead["external_id"])
        leads.append(lead)
    refuse_if_mostly_rejected(path.name, len(file.rows) + len(file.rejected), rejected, LABEL)
    notes = () if has_outcome else (
        f"no '{OUTCOME}' column: leads imported as open with unknown outcome",
    )
    with engine.begin() as conn:
        result = upsert(conn, LEADS, leads, key=("source_system", "external_id"),
                        scope=LEADS.c.source_system == SOURCE)
        run_id = record_run(conn, source=LABEL, path=str(path), checksum=file.checksum,
                            started_at=started, counts=(result.counts,), rejected=len(rejected))
    return ImportReport(LABEL, str(path), file.checksum, (result.counts,), tuple(rejected),
                        notes, run_id)


def _lead(row: SourceRow, columns: tuple[str, ...], has_outcome: bool) -> dict[str, Any]:
    values = row.values
    lead: dict[str, Any] = {
        "source_system": SOURCE,
        "external_id": v.short_text(v.required(values, KEY), KEY, 120),
    }
    for target, (column, limit) in TEXT_COLUMNS.items():
        value = v.short_text(values.get(column), column, limit)
        lead[target] = None if value == PLACEHOLDER else value
    for target, column in NUMBER_COLUMNS.items():
        lead[target] = v.number(values.get(column), column)
    converted = v.flag(values[OUTCOME], OUTCOME) if has_outcome else None
    if has_outcome and converted is None:
        raise v.BadValue(f"{OUTCOME} is blank")
    lead["converted"] = converted
    lead["status"] = {True: "converted", False: "lost", None: "open"}[converted]
    lead["attributes"] = {column: v.text(values[column]) for column in columns}
    return lead
