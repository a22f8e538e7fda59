"""Shared fixtures. Databases are real: SQLite files and the local PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.databases import BACKENDS, migrated_engine

REPO_ROOT = Path(__file__).resolve().parents[1]
# The public data sets sit beside the repository, never inside it (one is non-commercial).
DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _scrub_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read a developer's real configuration, reach a real service, or write
    into the working tree (trained models go to the test's own folder)."""
    monkeypatch.setenv("KPIBOT_MODEL_DIR", str(tmp_path / "models"))
    for name in ("KPIBOT_NOW", "KPIBOT_TIMEZONE", "KPIBOT_METRICS_DIR", "KPIBOT_LEAD_MODEL",
                 "OPENAI_API_KEY",
                 "OPENAI_BASE_URL", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA_DIR.is_dir(), f"shared data sets not found at {DATA_DIR}"
    return DATA_DIR


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database on each backend."""
    with migrated_engine(backend, tmp_path) as engine:
        yield engine
