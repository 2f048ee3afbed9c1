"""Shared fixtures: a real app on a temporary data dir, and a way to run its queue in-line."""

from __future__ import annotations

from pathlib import Path

import pytest

from novalgo.settings import Settings
from tests.support.alerts import SECRET


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(webhook_secret=SECRET, data_dir=tmp_path / "data", run_background=False,
                    journal_sync="normal")


@pytest.fixture
def app(settings):
    from novalgo.web import create_app

    return create_app(settings, start_background=False)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    return app.extensions["novalgo"]
