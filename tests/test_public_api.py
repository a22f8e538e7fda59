"""The engine's public surface is explicit, complete, and free of Slack and LLM types."""

from __future__ import annotations

import subprocess
import sys

import kpi_engine


def test_every_exported_name_resolves() -> None:
    for name in kpi_engine.__all__:
        assert getattr(kpi_engine, name) is not None, name


def test_engine_imports_no_slack_or_llm_code() -> None:
    """Imports point down only: loading the whole engine pulls in no bot or agent layer."""
    names = ", ".join(kpi_engine.__all__)
    code = (f"import sys; from kpi_engine import {names}; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "{'slack_bolt', 'slack_sdk', 'langchain', 'langchain_core', 'openai', 'bot', 'tools'}]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_tools_import_no_slack_code() -> None:
    code = ("import sys, tools.router, tools.context; "
            "print(','.join(m for m in sys.modules if m.split('.')[0] in {'slack_bolt', 'slack_sdk', 'bot'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
