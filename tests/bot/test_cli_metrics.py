"""`kpibot metrics` and `kpibot metric` through typer's CliRunner on the Maven data (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import app
from kpi_engine.config import get_settings
from tests.conftest import DATA_DIR
from tests.databases import migrated_engine


@pytest.fixture(scope="module")
def maven_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from kpi_engine.importers import import_maven_crm

    with migrated_engine("sqlite", tmp_path_factory.mktemp("cli")) as engine:
        import_maven_crm(engine, DATA_DIR / "maven_crm_sales")
        yield engine.url.render_as_string(hide_password=False)


@pytest.fixture
def cli(maven_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("KPIBOT_DATABASE_URL", maven_url)
    monkeypatch.setenv("KPIBOT_NOW", "2018-01-01T00:00:00")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_metrics_lists_public_metrics(cli: CliRunner) -> None:
    result = cli.invoke(app, ["metrics"])
    assert result.exit_code == 0, result.output
    assert "win_rate" in result.output and "deals_closed" not in result.output
    listed = json.loads(cli.invoke(app, ["metrics", "--json", "--all"]).output)
    assert {"deals_closed", "speed_to_lead_hours"} <= {m["name"] for m in listed}


def test_metric_json_has_raw_numbers_bounds_and_provenance(cli: CliRunner) -> None:
    result = cli.invoke(app, ["metric", "win_rate", "--period", "Q3 2017", "--compare",
                              "previous", "--by", "region", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    pipeline = pd.read_csv(DATA_DIR / "maven_crm_sales" / "sales_pipeline.csv",
                           parse_dates=["close_date"])
    q3 = pipeline[(pipeline.close_date >= "2017-07-01") & (pipeline.close_date < "2017-10-01")]
    assert payload["value"] == pytest.approx((q3.deal_stage == "Won").mean())  # a fraction
    assert payload["denominator"] == len(q3)
    assert payload["period"]["start"] == "2017-07-01T00:00:00+00:00"
    assert payload["comparison"]["change_unit"] == "percentage_points"
    assert {row["group"]["region"] for row in payload["rows"]} == {"Central", "East", "West"}
    assert payload["provenance"]["rows_counted"] == len(q3)
    assert len(payload["provenance"]["query_id"]) == 10


def test_metric_human_output_is_formatted_by_unit(cli: CliRunner) -> None:
    rate = cli.invoke(app, ["metric", "close rate", "--period", "2017"])
    assert rate.exit_code == 0, rate.output
    assert "63.2 %" in rate.output and "4,238 / 6,711" in rate.output
    revenue = cli.invoke(app, ["metric", "revenue_won", "--period", "2017", "--grain", "month",
                               "--filter", "region=West,East"])
    assert revenue.exit_code == 0, revenue.output
    assert "2017-03-01" in revenue.output and "region = West, East" in revenue.output
    lines = [line for line in revenue.output.splitlines() if line.startswith("    2017-")]
    assert len(lines) == 12 and len({len(line) for line in lines}) == 1  # aligned


def test_grouped_comparison_shows_each_groups_previous_value(cli: CliRunner) -> None:
    result = cli.invoke(app, ["metric", "deals_won", "--period", "Q3 2017", "--by", "region",
                              "--compare", "previous"])
    assert result.exit_code == 0, result.output
    pipeline = pd.read_csv(DATA_DIR / "maven_crm_sales" / "sales_pipeline.csv",
                           parse_dates=["close_date"])
    teams = pd.read_csv(DATA_DIR / "maven_crm_sales" / "sales_teams.csv")
    won = pipeline[pipeline.deal_stage == "Won"].merge(teams, on="sales_agent")
    q2 = won[(won.close_date >= "2017-04-01") & (won.close_date < "2017-07-01")]
    q3 = won[(won.close_date >= "2017-07-01") & (won.close_date < "2017-10-01")]
    west = next(line for line in result.output.splitlines() if line.strip().startswith("West"))
    assert f"{(q3.regional_office == 'West').sum():,}" in west
    assert west.endswith(f"was {(q2.regional_office == 'West').sum():,}")


@pytest.mark.parametrize(("args", "message"), [
    (["metric", "winrate", "--period", "2017"], "Did you mean: win_rate"),
    (["metric", "win_rate", "--period", "Q9 2017"], "Try for example"),
    (["metric", "win_rate", "--period", "2017", "--by", "regoin"], "Did you mean: region"),
    (["metric", "win_rate", "--period", "2017", "--filter", "regoin=West"], "region"),
    (["metric", "win_rate", "--period", "2017", "--filter", "West"], "DIM=VALUE"),
    (["metric", "win_rate", "--period", "2017", "--grain", "hour"], "day, week or month"),
    (["metric", "win_rate", "--period", "2017", "--compare", "ever"], "previous or last-year"),
])
def test_bad_input_gets_a_clear_message_and_non_zero_exit(cli: CliRunner, args: list[str],
                                                          message: str) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output



def test_months_and_baselines_before_the_data_say_no_data(cli: CliRunner) -> None:
    pipeline = pd.read_csv(DATA_DIR / "maven_crm_sales" / "sales_pipeline.csv",
                           parse_dates=["engage_date", "close_date"])
    first = pipeline.engage_date.min()  # the deals table starts with its first engagement
    series = cli.invoke(app, ["metric", "deals_created", "--period", "2016", "--grain", "month"])
    assert series.exit_code == 0, series.output
    months = [line.split() for line in series.output.splitlines() if line.startswith("    2016")]
    assert len(months) == 12
    for month, *value in months:
        before = pd.Timestamp(month) + pd.offsets.MonthBegin(1) <= first
        assert (" ".join(value) == "no data") == before, (month, value)
    compared = cli.invoke(app, ["metric", "deals_won", "--period", "Q4 2016", "--compare",
                                "previous"])
    assert f"no data (the data starts on {first:%Y-%m-%d})" in compared.output


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("KPIBOT_LEAD_MODEL", "everything", "should be 'additive' or 'interactions'"),
    ("KPIBOT_WEEK_START", "funday", "week_start must be one of monday"),
])
def test_a_bad_setting_is_named_not_a_traceback(variable: str, value: str, said: str,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Through the real entry point (`main`), since a setting is read before any command's
    own error handling."""
    from bot.cli import main

    monkeypatch.setenv(variable, value)
    monkeypatch.setattr("sys.argv", ["kpibot", "metrics"])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        get_settings.cache_clear()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"Error: {variable}='{value}': {said}" in err and "Traceback" not in err
