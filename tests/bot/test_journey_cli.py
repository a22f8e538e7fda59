"""`kpibot journey` and `kpibot bottlenecks` end to end: a fresh SQLite file, an event log
imported through the CLI, then both commands in text and JSON, and clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import app
from kpi_engine.config import get_settings
from tests.conftest import DATA_DIR

HELPDESK = DATA_DIR / "helpdesk_tickets" / "helpdesk_events.csv.gz"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'journey.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KPIBOT_DATABASE_URL", url)
        get_settings.cache_clear()
        runner = CliRunner()
        assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
        result = runner.invoke(app, [
            "import", "event-log", str(HELPDESK), "--case", "case:concept:name",
            "--activity", "concept:name", "--timestamp", "time:timestamp",
            "--resource", "org:resource", "--name", "helpdesk",
        ])
        assert result.exit_code == 0, result.output
    get_settings.cache_clear()
    yield url


@pytest.fixture
def cli(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KPIBOT_DATABASE_URL", database)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_journey_json_carries_the_measures(cli: CliRunner) -> None:
    result = cli.invoke(app, ["journey", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    source = pd.read_csv(HELPDESK, usecols=["case:concept:name"])
    assert payload["process"] == "helpdesk" and payload["entity"] == "case"
    assert payload["cases"] == source["case:concept:name"].nunique()
    assert payload["steps"] == len(source) - payload["cases"]
    assert sum(t["wait"]["count"] for t in payload["transitions"]) == payload["steps"]
    assert payload["window"]["label"] == "all data"


def test_journey_text_and_outcome(cli: CliRunner) -> None:
    result = cli.invoke(app, ["journey", "--process", "helpdesk", "--outcome", "Closed"])
    assert result.exit_code == 0, result.output
    assert "Journey of 'helpdesk' (event_log)" in result.output
    assert "Resolve ticket → Closed" in result.output


def test_bottlenecks_text_and_json(cli: CliRunner) -> None:
    result = cli.invoke(app, ["bottlenecks", "--by", "resource", "--top", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Bottlenecks in 'helpdesk', all data")
    assert "1. " in result.output and "h of excess wait" in result.output
    payload = json.loads(cli.invoke(app, ["bottlenecks", "--json", "--top", "3"]).output)
    assert len(payload["bottlenecks"]) == 3
    impacts = [b["impact_hours"] for b in payload["bottlenecks"]]
    assert impacts == sorted(impacts, reverse=True)
    assert all(b["explanation"].startswith(b["step"]) for b in payload["bottlenecks"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["journey", "--process", "helpdsk"], "Did you mean: helpdesk"),
        (["bottlenecks", "--by", "team"], "segment it by resource"),
        (["bottlenecks", "--period", "next blue moon"], "period"),
        (["bottlenecks", "--baseline", "last month"], "--baseline needs --period"),
        (["journey", "--outcome", "Closd"], "Did you mean: Closed"),
    ],
)
def test_bad_input_is_a_clear_error(cli: CliRunner, args: list[str], message: str) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_empty_database_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPIBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["bottlenecks"])
    assert result.exit_code != 0 and "No process in the database yet" in result.stderr
    get_settings.cache_clear()
