"""Bad input: refused with a clear message and nothing written; bad rows reported by line."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Engine, MetaData, func, select
from typer.testing import CliRunner

from bot.cli import app
from kpi_engine.config import get_settings
from kpi_engine.errors import InvalidInputError
from kpi_engine.importers import import_event_log, import_maven_crm, import_xeducation

LOG = dict(case="case", activity="act", timestamp="ts")


def row_counts(engine: Engine) -> dict[str, int]:
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        return {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for name, t in meta.tables.items() if name != "alembic_version"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"case,act,ts\n", "no data rows"),
        (b"case;act;ts\nc1;A;2024-01-01\n", "looks like ';'-separated"),
        (b"\x00\x01\x02\xff" * 200, "binary"),
        (b"case,activity,ts\nc1,A,2024-01-01\n", "missing required column(s) 'act'; found: "
                                                 "'case', 'activity', 'ts'"),
        (b"case,act,ts\nc1,A,01/02/2024\nc1,B,03/02/2024\n", "cannot be read"),
    ],
)
def test_refused_files_write_nothing(db: Engine, tmp_path: Path, content: bytes,
                                     message: str) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(content)
    before = row_counts(db)
    with pytest.raises(InvalidInputError, match=None) as error:
        import_event_log(db, path, **LOG)
    assert message in str(error.value)
    assert row_counts(db) == before


def test_damaged_gzip_and_missing_file(db: Engine, tmp_path: Path, data_dir: Path) -> None:
    bad = tmp_path / "log.csv.gz"
    bad.write_bytes(gzip.compress(b"case,act,ts\nc1,A,2024-01-01\n")[:20])
    with pytest.raises(InvalidInputError, match="damaged gzip"):
        import_event_log(db, bad, **LOG)
    folder = tmp_path / "maven"
    folder.mkdir()
    for name in ("accounts.csv", "products.csv", "sales_teams.csv"):
        shutil.copy(data_dir / "maven_crm_sales" / name, folder / name)
    with pytest.raises(InvalidInputError, match=r"has no sales_pipeline.csv \(found: accounts"):
        import_maven_crm(db, folder)
    assert row_counts(db)["deals"] == 0 and row_counts(db)["accounts"] == 0


def test_bad_rows_rejected_by_line_and_changed_rows_updated(
    db: Engine, tmp_path: Path, data_dir: Path
) -> None:
    folder = tmp_path / "maven"
    shutil.copytree(data_dir / "maven_crm_sales", folder)
    pipeline = folder / "sales_pipeline.csv"
    lines = pipeline.read_bytes().split(b"\r\n")
    fields = lines[16].split(b",")
    fields[5] = b"2017-13-45"
    lines[16] = b",".join(fields)
    pipeline.chmod(0o644)
    pipeline.write_bytes(b"\r\n".join(lines))
    report = import_maven_crm(db, folder)
    assert [(r.file, r.line) for r in report.rejected_rows] == [("sales_pipeline.csv", 17)]
    assert "engage_date '2017-13-45'" in report.rejected_rows[0].reason
    assert row_counts(db)["deals"] == 8799

    leads = tmp_path / "Leads.csv"
    source = (data_dir / "xeducation_leads" / "Leads.csv").read_text().splitlines()
    leads.write_text("\n".join(source[:21]) + "\n")
    assert import_xeducation(db, leads).inserted == 20
    leads.write_text("\n".join([source[0], source[1].replace(",API,", ",Lead Import,"),
                                *source[2:21]]) + "\n")
    again = import_xeducation(db, leads)
    assert (again.inserted, again.updated, again.unchanged) == (0, 1, 19)
    header = source[0].split(",")
    drop = header.index("Converted")
    open_leads = tmp_path / "open.csv"
    open_leads.write_text("\n".join(",".join(c for i, c in enumerate(line.split(","))
                                             if i != drop) for line in source[:6]) + "\n")
    report = import_xeducation(db, open_leads)
    assert report.updated == 5 and "unknown outcome" in report.notes[0]


def test_cli(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        # A fresh database gets its schema from the import itself.
        args = ["import", "event-log", str(data_dir / "pm4py_examples" / "running-example.csv"),
                "--case", "case:concept:name", "--activity", "concept:name",
                "--timestamp", "time:timestamp", "--resource", "org:resource"]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        assert "inserted 42" in first.output and "running-example" in first.output
        second = runner.invoke(app, args)
        assert "unchanged: 42" in second.output and "nothing changed" in second.output
        bad = runner.invoke(app, [*args[:-2], "--resource", "nope"])
        assert bad.exit_code != 0 and "missing required column(s) 'nope'" in bad.output
        assert "Traceback" not in bad.output
    finally:
        get_settings.cache_clear()
