"""The metric catalog: the built-in pack loads, lookups work, and every validation rule bites."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from kpi_engine.catalog import CatalogError, load_catalog
from kpi_engine.catalog.loader import BUILTIN_DIR, KEY_ORDER
from kpi_engine.errors import UnknownNameError

REQUIRED_PACK = {
    "leads_created", "leads_converted", "lead_conversion_rate", "speed_to_lead_hours",
    "deals_created", "deals_won", "deals_lost", "win_rate", "revenue_won", "avg_deal_size",
    "sales_cycle_days", "open_deals", "activities_logged", "stalled_deals",
}


def test_builtin_pack_loads_with_the_issue_metrics() -> None:
    catalog = load_catalog()
    names = {m.name for m in catalog.metrics}
    assert REQUIRED_PACK <= names
    assert {m.type for m in catalog.metrics} == {"simple", "ratio", "derived", "conversion",
                                                 "duration"}
    win_rate = catalog.metric("win_rate")
    assert win_rate.table == "deals" and win_rate.unit == "fraction" and not win_rate.additive
    assert catalog.metric("deals_won").additive
    assert "region" in win_rate.dimensions and "product" in win_rate.dimensions
    assert "source" in catalog.metric("lead_conversion_rate").dimensions


def test_builtin_files_keep_the_fixed_key_order() -> None:
    for path in sorted(BUILTIN_DIR.glob("*.yml")):
        keys = list(yaml.safe_load(path.read_text()))
        assert keys == [k for k in KEY_ORDER if k in keys], path.name
        assert path.stem == yaml.safe_load(path.read_text())["name"]


def test_lookup_by_synonym_and_close_names() -> None:
    catalog = load_catalog()
    assert catalog.metric("Conversion rate").name == "lead_conversion_rate"
    assert catalog.metric("speed to lead").name == "speed_to_lead_hours"
    with pytest.raises(UnknownNameError) as error:
        catalog.metric("winrate")
    assert "win_rate" in error.value.suggestions
    with pytest.raises(UnknownNameError) as error:
        catalog.dimension("regoin", catalog.metric("win_rate"))
    assert error.value.suggestions[0] == "region"
    with pytest.raises(UnknownNameError):  # activities have no product
        catalog.dimension("product", catalog.metric("activities_logged"))


def _write(directory: Path, name: str, body: str) -> None:
    (directory / f"{name}.yml").write_text(textwrap.dedent(body))


GOOD = """\
    name: {name}
    label: Calls
    description: Outbound calls.
    synonyms: [{synonym}]
    type: simple
    type_params:
      table: activities
      agg: count
      filters:
        - {{column: type, op: eq, value: call}}
    unit: count
    format: ",.0f"
    direction: higher_is_better
    time_column: occurred_at
    dimensions: [rep, team]
    public: true
"""


def test_user_dir_adds_and_overrides(tmp_path: Path) -> None:
    _write(tmp_path, "phone_calls", GOOD.format(name="phone_calls", synonym="phone calls"))
    override = (BUILTIN_DIR / "deals_won.yml").read_text().replace("Deals won", "Won (mine)")
    (tmp_path / "deals_won.yml").write_text(override)
    catalog = load_catalog(tmp_path)
    assert catalog.metric("phone calls").name == "phone_calls"
    assert catalog.metric("deals_won").label == "Won (mine)"
    assert catalog.metric("win_rate").table == "deals"  # still resolves its parts


def _issues(tmp_path: Path) -> list[str]:
    with pytest.raises(CatalogError) as error:
        load_catalog(tmp_path)
    return [str(issue) for issue in error.value.issues]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("type: simple", "type: rolling"), "type: unknown type 'rolling'"),
        (lambda t: t.replace("    label: Calls\n", ""), "label: missing"),
        (lambda t: t.replace("[rep, team]", "[rep, colour]"), "unknown dimension 'colour'"),
        (lambda t: t.replace("[rep, team]", "[rep, product]"),
         "dimension 'product' does not apply to table 'activities'"),
        (lambda t: t.replace("table: activities", "table: calls"), "unknown table 'calls'"),
        (lambda t: t.replace("column: type", "column: kind"), "unknown column 'kind'"),
        (lambda t: t.replace("op: eq", "op: like"), "unknown op 'like'"),
        (lambda t: t.replace("agg: count", "agg: median"), "unknown aggregation 'median'"),
        (lambda t: t.replace("agg: count", "agg: sum"), "'sum' needs a column"),
        (lambda t: t.replace("unit: count", "unit: apples"), "unknown unit 'apples'"),
        (lambda t: t.replace("higher_is_better", "up"), "direction: must be one of"),
        (lambda t: t.replace('",.0f"', '"%d"'), "is not a Python number format"),
        (lambda t: t.replace("time_column: occurred_at", "time_column: detail"),
         "is not a timestamp"),
        (lambda t: t.replace("name: phone_calls", "name: PhoneCalls"), "use snake_case"),
        (lambda t: t.replace("name: phone_calls", "name: phone_calls_done"), "must match the file name"),
        (lambda t: t + "    owner: sales\n", "owner: unknown field"),
        (lambda t: t.replace("    public: true\n", "").replace(
            "    label: Calls\n", "    label: Calls\n    public: true\n"), "fields out of order"),
        (lambda t: t.replace("synonyms: [phone calls]", "synonyms: [wins]"),
         "'wins' is already used by deals_won"),
        (lambda t: t.replace("name: phone_calls", "name: phone_calls\n  - broken"), "not valid YAML"),
    ],
)
def test_each_rule_reports_file_and_field(tmp_path: Path, change, expected: str) -> None:
    _write(tmp_path, "phone_calls", change(GOOD.format(name="phone_calls", synonym="phone calls")))
    issues = _issues(tmp_path)
    assert any(expected in issue and issue.startswith("phone_calls.yml") for issue in issues), issues


DERIVED = """\
    name: {name}
    label: X
    description: X.
    type: derived
    type_params:
      expr: {expr}
    unit: count
    format: ",.2f"
    direction: higher_is_better
    dimensions: [team]
"""


def test_reference_rules_unknown_metric_cycle_bad_expr_and_dimensions(tmp_path: Path) -> None:
    _write(tmp_path, "a_metric", DERIVED.format(name="a_metric", expr="b_metric + 1"))
    _write(tmp_path, "b_metric", DERIVED.format(name="b_metric", expr="a_metric * 2"))
    _write(tmp_path, "c_metric", DERIVED.format(name="c_metric", expr="deals_wonn / 2"))
    _write(tmp_path, "d_metric", DERIVED.format(name="d_metric", expr="__import__('os')"))
    _write(tmp_path, "e_metric", DERIVED.format(name="e_metric", expr="deals_won / leads_created")
           .replace("[team]", "[product]"))
    issues = _issues(tmp_path)
    text = "\n".join(issues)
    assert "circular reference: a_metric -> b_metric -> a_metric" in text
    assert "c_metric.yml: type_params.expr: references unknown metric 'deals_wonn'" in text
    assert "Did you mean: deals_won" in text
    assert "d_metric.yml: type_params.expr:" in text
    # every problem at once, across files
    assert len({i.split(":")[0] for i in issues}) >= 4


def test_dimension_must_be_allowed_by_every_part(tmp_path: Path) -> None:
    _write(tmp_path, "e_metric", DERIVED.format(name="e_metric", expr="deals_won / leads_created")
           .replace("[team]", "[product]"))
    issues = _issues(tmp_path)
    assert any("e_metric.yml: dimensions: dimension 'product' is not allowed" in i for i in issues)


def test_duplicate_names_in_one_directory(tmp_path: Path) -> None:
    _write(tmp_path, "phone_calls", GOOD.format(name="phone_calls", synonym="phone calls"))
    (tmp_path / "phone_calls.yaml").write_text(
        textwrap.dedent(GOOD.format(name="phone_calls", synonym="phone calls")))
    assert any("duplicate metric 'phone_calls'" in i for i in _issues(tmp_path))


def test_type_specific_rules(tmp_path: Path) -> None:
    _write(tmp_path, "dur", """\
        name: dur
        label: D
        description: D.
        type: duration
        type_params:
          table: deals
          start: created_at
          statistic: p75
        unit: days
        format: ",.1f"
        direction: lower_is_better
        time_column: closed_at
        dimensions: [team]
    """)
    _write(tmp_path, "conv", """\
        name: conv
        label: C
        description: C.
        type: conversion
        type_params:
          table: leads
          converted_column: status
          window_days: -3
        unit: fraction
        format: ".1%"
        direction: higher_is_better
        time_column: created_at
        dimensions: [source]
    """)
    _write(tmp_path, "snap", """\
        name: snap
        label: S
        description: S.
        type: simple
        type_params:
          table: deals
          agg: count
          snapshot:
            open_until: closed_at
            idle_days: 14
        unit: count
        format: ",.0f"
        direction: lower_is_better
        time_column: created_at
        dimensions: [team]
    """)
    text = "\n".join(_issues(tmp_path))
    assert "dur.yml: type_params.statistic: must be one of median, p90, mean" in text
    assert ("conv.yml: type_params.converted_column: column 'leads.status' is not a timestamp"
            in text)
    assert "snap.yml: type_params.snapshot.activity: needed with idle_days" in text


def test_missing_user_dir_is_reported(tmp_path: Path) -> None:
    assert any("metrics directory not found" in i for i in _issues(tmp_path / "nope"))
