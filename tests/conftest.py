"""Shared fixtures: a real app on a temporary data dir, and the fake Alpaca on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from novalgo.settings import Settings
from tests.fakes.alpaca_server import FakeAlpaca
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram
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


@pytest.fixture
def fake():
    """The fake Alpaca (trading API, market data, trade stream) on loopback; tests that need another
    fake under this name define their own."""
    with FakeAlpaca() as server:
        yield server


@pytest.fixture
def discord():
    """A local fake of Discord's webhook API (tests/fakes/discord_server.py)."""
    with FakeDiscord() as server:
        yield server


@pytest.fixture
def telegram():
    """A local fake of Telegram's Bot API (tests/fakes/telegram_server.py)."""
    with FakeTelegram() as server:
        yield server
