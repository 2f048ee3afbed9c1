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


def services_on_fake(settings, fake, clock=None, **overrides: Any):
    """The app's services trading the fake through alpaca-py (the leader's loops not started). With
    ``clock`` (tests/support/clock.Clock) the journal and the executor read time from it, and a
    wait for a fill moves it on instead of the time passing."""
    from novalgo.web import create_app

    settings = settings.with_overrides(**{"fill_wait": 0.3, **overrides})
    services = create_app(settings, broker=fake_alpaca_broker(fake), start_background=False).extensions["novalgo"]
    if clock is not None:
        for part in (services.journal, services.work_journal, services.executor):
            part.clock = clock
        services.executor.sleep = clock.sleep
    return services


def follow_stream(services, fake):
    """Let the executor follow the fake's trade stream, as the leader does; returns the stream's handle
    (``services.updates`` too), live before this returns. Stop it with ``updates.stop()``."""
    from tests.support.gunicorn import wait_for

    executor = services.executor
    updates = services.broker.listen(executor.on_order_update, executor.reconcile_soon)
    updates._stream._reconnect_min_backoff = 0.1
    executor.stream_live = lambda: updates.live
    fake.stream.wait_listening()
    wait_for(lambda: updates.live, "the stream to be live")
    services.updates = updates
    return updates
