"""Keep one process under Alpaca's request budget, and give every HTTP call a timeout.

Alpaca allows 200 requests a minute per account; going over earns 429s that alpaca-py
answers by sleeping. A sliding window of the last minute's request times, shared by every
client of the process, makes a caller wait briefly instead. The limiter sits in the HTTP
session, so alpaca-py's own retries are counted too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

import requests

ALPACA_BUDGET = 190  # of Alpaca's 200 a minute: headroom for a human at the dashboard
WINDOW_SECONDS = 60.0
DEFAULT_TIMEOUT = (3.05, 10.0)  # (connect, read) seconds


class RequestBudget:
    """At most ``limit`` requests in any ``window`` seconds; ``acquire`` waits, never raises."""

    def __init__(self, limit: int = ALPACA_BUDGET, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if limit < 1:
            raise ValueError("the budget needs at least one request per window")
        self.limit, self.window = limit, window
        self._clock, self._sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one request from the budget, waiting until the window has room; returns the wait."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return waited
                pause = self._sent[0] + self.window - now
            # Sleep outside the lock so other callers can see the window too.
            self._sleep(pause)
            waited += pause

    def used(self) -> int:
        """Requests sent within the current window."""
        with self._lock:
            now = self._clock()
            return sum(1 for t in self._sent if t > now - self.window)


# One budget per process: every Alpaca client in it spends from the same minute.
PROCESS_BUDGET = RequestBudget()


class BudgetedSession(requests.Session):
    """A requests session that spends from a budget and always has a timeout."""

    def __init__(self, budget: RequestBudget = PROCESS_BUDGET,
                 timeout: float | tuple[float, float] = DEFAULT_TIMEOUT):
        super().__init__()
        self.budget = budget
        self.timeout = timeout

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        if kwargs["timeout"] is None:  # nobody may switch the timeout off
            kwargs["timeout"] = self.timeout
        self.budget.acquire()
        return super().request(method, url, *args, **kwargs)
