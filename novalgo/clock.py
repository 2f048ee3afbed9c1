"""One clock for the time of day: the wall clock in production, a pinned one for rehearsals and tests.

Everything that asks "what time is it" (journal stamps, Trading Hours, Flatten At, daily
loss limits, Last Updated, /health) takes a ``Clock``. A clock is called like ``time.time``
(epoch seconds), so it drops into every ``clock=`` parameter that expects one, and
``now(zone)`` gives an aware datetime.

``SYSTEM_CLOCK`` is the only place product code reads the wall clock. ``PinnedClock`` starts at
a given instant and keeps ticking from there (``NOVALGO_CLOCK_START``, the test fixtures).

Elapsed-time reads (``time.monotonic()`` for timeouts, throttles and TTLs) are not time-of-day
reads: they measure how long something took and stay as they are.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone, tzinfo


class Clock:
    """Epoch seconds when called; ``now(zone)`` for an aware datetime."""

    def __call__(self) -> float:
        raise NotImplementedError

    def now(self, zone: tzinfo = timezone.utc) -> datetime:
        """The current instant in ``zone`` (UTC unless told)."""
        return datetime.fromtimestamp(self(), zone)


class SystemClock(Clock):
    """The wall clock."""

    def __call__(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class PinnedClock(Clock):
    """Starts at an instant and ticks on at the real pace; ``advance``/``set`` move it (tests).

    Each process starts its own when it is made: gunicorn workers given NOVALGO_CLOCK_START
    differ by their start-up times (a second or so), as good as a rehearsal needs."""

    def __init__(self, start: datetime | float):
        self._lock = threading.Lock()
        self.set(start)

    def __call__(self) -> float:
        with self._lock:
            return self._start + (time.monotonic() - self._since)

    def set(self, when: datetime | float) -> None:
        """Jump to ``when`` (an aware datetime or epoch seconds) and tick on from there."""
        if isinstance(when, datetime):
            if when.tzinfo is None:
                raise ValueError("a clock needs an aware time (with an offset or zone)")
            when = when.timestamp()
        with self._lock:
            self._start, self._since = float(when), time.monotonic()

    def advance(self, seconds: float) -> None:
        """Move forward (or back, if negative) by ``seconds``."""
        with self._lock:
            self._start += seconds

    def __repr__(self) -> str:
        return f"PinnedClock({self.now().isoformat(timespec='seconds')})"


SYSTEM_CLOCK: Clock = SystemClock()


def parse_instant(text: str) -> datetime:
    """An ISO 8601 time with an offset (``2026-03-11T11:00:00-04:00``); a naive time is refused."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError("expected an ISO time with an offset, e.g. 2026-03-11T11:00:00-04:00")
    return moment


def clock_starting_at(start: datetime | None) -> Clock:
    """A clock pinned to ``start`` and ticking on, or the wall clock when there is no start."""
    return SYSTEM_CLOCK if start is None else PinnedClock(start)
