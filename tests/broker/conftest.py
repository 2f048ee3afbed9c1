"""The fake Alpaca on loopback, and alpaca-py's trading client pointed at it, for the broker tests."""

from __future__ import annotations

import pytest
from alpaca.trading.client import TradingClient

from tests.fakes.alpaca_server import FakeAlpaca


@pytest.fixture
def fake():
    with FakeAlpaca() as server:
        yield server


@pytest.fixture
def client(fake):
    return TradingClient(fake.key_id, fake.secret_key, url_override=fake.url)
