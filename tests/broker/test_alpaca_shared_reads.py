"""Alpaca reads shared between symbols (the burst budget): one positions list for every symbol
asking together, never an answer begun before the caller asked, and the account read once per TTL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from novalgo.broker.alpaca import AlpacaBroker
from novalgo.broker.shared_call import FreshCall
from novalgo.broker.throttle import RequestBudget
from tests.fakes.alpaca_server import FakeAlpaca


class GatedFetch:
    """A fetch that returns its call number and holds each call until the test lets it go."""

    def __init__(self):
        self.calls = 0
        self.gates: list[threading.Event] = []
        self.lock = threading.Lock()

    def __call__(self) -> int:
        with self.lock:
            self.calls += 1
            number = self.calls
            gate = threading.Event()
            self.gates.append(gate)
        assert gate.wait(5)
        return number

    def release(self, number: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.gates) < number:
            assert time.monotonic() < deadline, f"call {number} never started"
            time.sleep(0.01)
        self.gates[number - 1].set()


def test_callers_arriving_during_a_call_share_the_next_one_not_the_stale_answer():
    fetch = GatedFetch()
    fresh = FreshCall(fetch)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(fresh)
        while fetch.calls < 1:  # call 1 is in flight
            time.sleep(0.01)
        late = [pool.submit(fresh), pool.submit(fresh)]
        time.sleep(0.2)  # both late callers are now waiting behind call 1
        fetch.release(1)
        assert first.result(5) == 1
        fetch.release(2)
        assert [f.result(5) for f in late] == [2, 2], "both asked after call 1 began: they share call 2"
    assert fetch.calls == 2


def test_a_failed_call_fails_its_callers_and_the_next_caller_tries_again():
    outcomes = iter([RuntimeError("Alpaca 503"), {"AAPL": 1}])

    def fetch():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    fresh = FreshCall(fetch)
    with pytest.raises(RuntimeError, match="503"):
        fresh()
    assert fresh() == {"AAPL": 1}


@pytest.fixture
def fake():
    with FakeAlpaca(latency=0.05) as server:
        yield server


@pytest.fixture
def broker(fake):
    return AlpacaBroker(fake.key_id, fake.secret_key, base_url=fake.url, data_url=fake.url, wall_clock=fake.clock,
                        budget=RequestBudget(), sdk_retry_wait=0)


def test_many_symbols_reading_positions_together_cost_few_requests_and_see_every_fill(fake, broker):
    fake.set_position("AAPL", 10)
    fake.set_position("TSLA", -5)
    symbols = ["AAPL", "TSLA", "MSFT", "SPY"] * 4
    with ThreadPoolExecutor(16) as pool:
        held = list(pool.map(lambda s: broker.position(s).qty, symbols))
    assert held == [Decimal(10), Decimal(-5), 0, 0] * 4
    assert fake.count("GET", "/v2/positions") < len(symbols) / 2
    assert not any(path.startswith("/v2/positions/") for _, _, path in fake.request_log)

    fake.set_position("MSFT", 3)  # a fill the next reader must see, however recently others read
    assert broker.position("MSFT").qty == 3


def test_the_account_is_read_once_per_ttl_for_every_short(fake, broker):
    for _ in range(5):
        assert broker.account().shorting_enabled
    assert fake.count("GET", "/v2/account") == 1
