"""Shared fixtures: a real app on a temporary data dir, and the fake Alpaca on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from novalgo.clock import Clock, PinnedClock
from novalgo.settings import Settings
from tests.fakes.alpaca_server import FakeAlpaca
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram
from tests.support.alerts import SECRET
from tests.support.clock import pinned_start, ticking_clock


@pytest.fixture(autouse=True)
def _commands_start_at_the_pinned_instant(monkeypatch):
    """What reads its settings from this process's environment (a command run through CliRunner, a
    subprocess) starts its clock at the tests' instant too, not at the machine's time."""
    monkeypatch.setenv("NOVALGO_CLOCK_START", pinned_start().isoformat())


@pytest.fixture
def clock() -> PinnedClock:
    """The time of day for the test: a pinned instant (NOVALGO_TEST_NOW overrides it) ticking on.
    A test about a particular time of day sets it (``clock.set(...)``) rather than trust this one."""
    return ticking_clock()


@pytest.fixture
def settings(tmp_path: Path, clock) -> Settings:
    # clock_start: anything built from these settings alone starts at the same instant. (A module
    # may override ``clock`` with a hand-set one: then the pinned start.)
    start = clock.now() if isinstance(clock, Clock) else pinned_start()
    return Settings(webhook_secret=SECRET, data_dir=tmp_path / "data", run_background=False,
                    journal_sync="normal", clock_start=start)


@pytest.fixture
def app(settings, clock):
    from novalgo.web import create_app

    return create_app(settings, start_background=False, clock=clock if isinstance(clock, Clock) else None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    return app.extensions["novalgo"]


@pytest.fixture
def fake(clock):
    """The fake Alpaca (trading API, market data, trade stream) on loopback; tests that need another
    fake under this name define their own."""
    with FakeAlpaca(clock=clock if isinstance(clock, Clock) else None) as server:
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
