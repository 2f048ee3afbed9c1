"""One broker read shared by every caller that asks for it within a short window.

The executor waits for orders in several symbol threads at once. Each wants "the current
state of my orders", and one order list answers all of them, so callers that arrive while a
list call is in flight, or within ``window`` seconds after it started, share its result
instead of spending Alpaca's request budget on their own.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    def __init__(self, started: float):
        self.started = started
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class SharedCall(Generic[T]):
    """Calls ``fetch`` at most once per ``window`` seconds; concurrent callers share the answer."""

    def __init__(self, fetch: Callable[[], T], window: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._last: _Flight[T] | None = None

    def __call__(self, wait_timeout: float = 60.0) -> T:
        with self._lock:
            flight = self._last
            if flight is None or self._clock() - flight.started >= self.window or flight.error is not None:
                flight = self._last = _Flight(self._clock())
                leader = True
            else:
                leader = False
        if leader:
            try:
                flight.result = self._fetch()
            except BaseException as e:
                flight.error = e
                raise
            finally:
                flight.done.set()
            return flight.result
        if not flight.done.wait(wait_timeout):
            raise TimeoutError("a shared broker read took too long")
        if flight.error is not None:
            raise flight.error
        return flight.result  # type: ignore[return-value]


class FreshCall(Generic[T]):
    """Calls ``fetch`` once for every caller waiting when it starts; no caller gets an older answer.

    Unlike ``SharedCall``, a call already in flight is not shared with callers that arrive
    during it: they wait for the next one, so whatever happened before a caller asked (a fill
    it just saw) is in its answer. Many symbols asking together still cost one request.
    """

    def __init__(self, fetch: Callable[[], T]):
        self._fetch = fetch
        self._changed = threading.Condition()
        self._running: _Flight[T] | None = None
        self._next: _Flight[T] | None = None

    def __call__(self, wait_timeout: float = 60.0) -> T:
        deadline = time.monotonic() + wait_timeout
        with self._changed:
            if self._running is None:
                flight, self._next = self._next or _Flight(0.0), None
                self._running, leader = flight, True
            else:
                flight = self._next = self._next or _Flight(0.0)
                leader = False
                # Wait for the call in flight (begun before we asked) to end; the first waiter
                # to see it end starts ours. A waiter woken late may find ours already done
                # (another waiter ran it): then it takes that answer instead of calling again.
                while self._running is not None and self._running is not flight and not flight.done.is_set():
                    if not self._changed.wait(deadline - time.monotonic()):
                        raise TimeoutError("a shared broker read took too long")
                if self._running is None and not flight.done.is_set():
                    self._running, self._next, leader = flight, None, True
        if leader:
            try:
                flight.result = self._fetch()
            except BaseException as e:
                flight.error = e
                raise
            finally:
                with self._changed:
                    self._running = None
                    flight.done.set()
                    self._changed.notify_all()
            return flight.result  # type: ignore[return-value]
        if not flight.done.wait(max(0.0, deadline - time.monotonic())):
            raise TimeoutError("a shared broker read took too long")
        if flight.error is not None:
            raise flight.error
        return flight.result  # type: ignore[return-value]
