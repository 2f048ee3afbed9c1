"""Telling the trader when Alpaca or the sheet has been unreachable for a while, and when it is back.

A failed call is retried quietly (the journal keeps every alert); only an outage that lasts
``AFTER`` seconds is worth a message, once, and its end another. Callers say what failed and
what worked; this keeps the clock.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from novalgo.errors import AmbiguousOrderError, RetryableError, SheetUnavailable

AFTER = 120.0  # seconds of failing before a notice (issue 14: "unreachable for over 2 minutes")
ALPACA, SHEET = "Alpaca", "the Google Sheet"


def source_of(error: BaseException) -> str | None:
    """Which outside system an error says is unreachable (None: not an outage)."""
    if isinstance(error, SheetUnavailable):
        return SHEET
    if isinstance(error, (RetryableError, AmbiguousOrderError)):
        return ALPACA
    return None


class OutageWatch:
    def __init__(self, report: Callable[[str, str], None], after: float = AFTER,
                 clock: Callable[[], float] = time.monotonic):
        self.report = report  # (kind, text): "outage" or "recovered"
        self.after = after
        self.clock = clock
        self._since: dict[str, float] = {}  # source → when it started failing
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def failed(self, source: str, why: str) -> None:
        now = self.clock()
        with self._lock:
            since = self._since.setdefault(source, now)
            tell = now - since >= self.after and source not in self._told
            if tell:
                self._told.add(source)
        if tell:
            self.report("outage", f"{source} unreachable for {(now - since) / 60:.0f} min: {why}. "
                                  "Alerts are kept and retried.")

    def ok(self, source: str) -> None:
        now = self.clock()
        with self._lock:
            since = self._since.pop(source, None)
            told = source in self._told
            self._told.discard(source)
        if told and since is not None:
            self.report("recovered", f"{source} reachable again after {(now - since) / 60:.0f} min")
