"""The analytics tests' fixture: a clean environment with the data dir in a scratch folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.analytics import PREFIXES
from tests.support.clock import TEST_NOW_VARIABLE, pinned_start


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    """A clean environment: no stray settings, no .env, the data dir in tmp_path."""
    for name in list(os.environ):
        if name.startswith(PREFIXES) and name != TEST_NOW_VARIABLE:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NOVALGO_DATA_DIR", str(tmp_path / "data"))
    # The commands' "now": the tests' pinned instant (each run starts there and ticks on).
    monkeypatch.setenv("NOVALGO_CLOCK_START", pinned_start().isoformat())
    return tmp_path
