"""AlpacaBroker pointed at the fake Alpaca, set up the way the engine tests need it."""

from __future__ import annotations

from typing import Any

from novalgo.broker.alpaca import AlpacaBroker
from novalgo.broker.throttle import RequestBudget


def fake_alpaca_broker(fake, **options: Any) -> AlpacaBroker:
    """Its own request budget and no wait between alpaca-py's retries; every order read a fresh
    list (no sharing window) and the clock read each time (tests open and close the market at
    will). ``options`` override any of these."""
    settings = dict(base_url=fake.url, data_url=fake.url, wall_clock=fake.clock, budget=RequestBudget(), sdk_retry_wait=0,
                    share_window=0, clock_ttl=0)
    return AlpacaBroker(fake.key_id, fake.secret_key, **{**settings, **options})
