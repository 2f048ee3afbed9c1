"""Test clocks: a hand-set one, and the suite's ticking one that starts at a pinned instant.

``Clock``: set ``.now`` by hand; pass it where the code takes a ``clock=`` of epoch seconds.

``pinned_start()``: the instant the suite's ``clock`` fixture, the fakes and the real service
under gunicorn start at. By default a regular Wednesday mid-session, so no test depends on when
it runs; ``NOVALGO_TEST_NOW`` (an ISO time with offset, or ``now`` for the real time) runs the
suite at another instant: after the close, a weekend, an early-close afternoon.
"""

from __future__ import annotations

import os
from datetime import datetime

from novalgo.clock import SYSTEM_CLOCK, PinnedClock, parse_instant

# Wednesday 11 March 2026, 11:00 New York: the market is open and far from the open and the close,
# no holiday or early close is near, and it is the same date in New York, UTC and Los Angeles.
DEFAULT_TEST_NOW = "2026-03-11T11:00:00-04:00"
TEST_NOW_VARIABLE = "NOVALGO_TEST_NOW"


class Clock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        """Pass as ``sleep=``: waiting moves this clock on instead of the wall clock's time passing."""
        self.now += seconds

def pinned_start() -> datetime:
    """Where a test's clock starts: NOVALGO_TEST_NOW, the real time if it says ``now``, else the default."""
    raw = os.environ.get(TEST_NOW_VARIABLE, "").strip() or DEFAULT_TEST_NOW
    if raw.lower() == "now":
        return SYSTEM_CLOCK.now()
    return parse_instant(raw)


def ticking_clock() -> PinnedClock:
    """A clock at ``pinned_start()`` that ticks on at the real pace (``advance``/``set`` move it)."""
    return PinnedClock(pinned_start())
