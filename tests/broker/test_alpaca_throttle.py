"""The request budget (190 a minute) with an injected clock, and the shared order-list read."""

from __future__ import annotations

import bisect
import threading
from decimal import Decimal

from novalgo.broker.alpaca import AlpacaBroker
from novalgo.broker.base import OrderRequest
from novalgo.broker.shared_call import SharedCall
from novalgo.broker.throttle import BudgetedSession, RequestBudget
from tests.fakes.alpaca_server import FakeAlpaca


class ManualClock:
    """Time that moves only when someone sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def busiest_window(stamps: list[float], window: float = 60.0) -> int:
    """Most requests inside any window of that length ending at a request."""
    stamps = sorted(stamps)
    return max(i - bisect.bisect_right(stamps, t - window) + 1 for i, t in enumerate(stamps))


def test_never_more_than_190_in_any_60_seconds_and_it_waits_instead_of_failing():
    clock = ManualClock()
    budget = RequestBudget(clock=clock, sleep=clock.sleep)
    stamps = []
    for n in range(1000):
        if n % 7 == 0:
            clock.now += 0.05  # callers arrive a little apart, far faster than 190/min
        budget.acquire()
        stamps.append(clock.now)

    assert busiest_window(stamps) == 190
    assert clock.slept and all(s > 0 for s in clock.slept)
    # it did not wait more than needed: 1000 requests take just over 5 windows
    assert stamps[-1] - stamps[0] < 60 * (1000 / 190) + 1


def test_quiet_traffic_never_waits():
    clock = ManualClock()
    budget = RequestBudget(clock=clock, sleep=clock.sleep)
    for _ in range(500):
        clock.now += 0.5  # 120 a minute
        assert budget.acquire() == 0.0
    assert clock.slept == [] and budget.used() == 120


def test_budget_is_shared_by_threads():
    clock = ManualClock()
    lock = threading.Lock()
    seen = threading.local()  # each thread's last reading of the clock

    def now() -> float:
        # The budget reads the clock under its lock and takes a request at the time it read last:
        # that time, not the clock after acquire returns (another thread's sleep may have moved it
        # on meanwhile, and a late stamp would crowd a window that the budget kept within 50).
        seen.last = clock.now
        return seen.last

    def sleep(seconds: float) -> None:
        with lock:
            clock.now += seconds

    budget = RequestBudget(limit=50, window=60, clock=now, sleep=sleep)
    stamps: list[float] = []

    def worker() -> None:
        for _ in range(40):
            budget.acquire()
            with lock:
                stamps.append(seen.last)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(stamps) == 200 and busiest_window(stamps) <= 50


def test_session_always_sets_a_timeout_and_counts_alpaca_py_retries():
    with FakeAlpaca() as fake:
        budget = RequestBudget()
        broker = AlpacaBroker(fake.key_id, fake.secret_key, base_url=fake.url, data_url=fake.url, wall_clock=fake.clock,
                              budget=budget, sdk_retry_wait=0)
        fake.fail("POST", "/v2/orders", 429, times=2)
        broker.submit(OrderRequest("t-1", "AAPL", "buy", qty=Decimal(1)))
        assert budget.used() == fake.total_calls() == 3  # alpaca-py's two retries were budgeted too

    session = BudgetedSession(RequestBudget(), timeout=(1, 2))
    seen = {}
    session.send = lambda prepared, **kw: seen.update(kw) or (_ for _ in ()).throw(RuntimeError("sent"))
    try:
        session.request("GET", "http://127.0.0.1:1/x", timeout=None)
    except RuntimeError:
        pass
    assert seen["timeout"] == (1, 2)


def test_shared_call_serves_callers_within_the_window_from_one_fetch():
    clock = ManualClock()
    fetched = []
    shared = SharedCall(lambda: fetched.append(clock.now) or len(fetched), window=0.2, clock=clock)
    assert shared() == 1
    clock.now += 0.1
    assert shared() == 1  # within 200 ms: the same answer
    clock.now += 0.2
    assert shared() == 2  # later: a fresh read
    assert len(fetched) == 2
