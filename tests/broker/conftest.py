"""alpaca-py's trading client pointed at the fake Alpaca (the ``fake`` fixture), for the broker tests."""

from __future__ import annotations

import pytest
from alpaca.trading.client import TradingClient


@pytest.fixture
def client(fake):
    return TradingClient(fake.key_id, fake.secret_key, url_override=fake.url)
