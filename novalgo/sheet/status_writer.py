"""Order Status writes, coalesced: many status changes become one batch write per flush.

Only the newest status of each row matters to the trader, so updates to one row replace
each other while they wait. A failed flush keeps them (unless a newer one arrived) and
tries again later with backoff, so a Sheets outage delays statuses but loses none.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from novalgo.clock import SYSTEM_CLOCK, Clock
from novalgo.domain.config_rows import RowKey
from novalgo.errors import SheetUnavailable
from novalgo.sheet.base import SheetBackend
from novalgo.sheet.layout import sheet_time

log = logging.getLogger(__name__)
MAX_BACKOFF = 60.0


class StatusWriter:
    def __init__(self, backend: SheetBackend, timezone: ZoneInfo, clock=time.monotonic, wall_clock: Clock = SYSTEM_CLOCK):
        self.backend = backend
        self.timezone = timezone
        self.clock = clock  # elapsed time: the flush throttle
        self.wall_clock = wall_clock  # time of day: the Last Updated stamps
        self._pending: dict[RowKey, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._next_flush = 0.0
        self._failures = 0
        self.writes = 0

    def set(self, key: RowKey, status: str, when: datetime | None = None) -> None:
        stamp = sheet_time(when or self.wall_clock.now(self.timezone), self.timezone)
        with self._lock:
            self._pending[key] = (status, stamp)
        self._wake.set()

    def set_if_idle(self, key: RowKey, status: str) -> None:
        """Set a housekeeping status (READY, INACTIVE) unless a trading status is waiting for the row."""
        with self._lock:
            if key in self._pending:
                return
        self.set(key, status)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> bool:
        """Write what is waiting in one batch; False if the sheet refused (kept for later)."""
        with self._lock:
            batch = dict(self._pending)
            self._pending.clear()
        if not batch:
            return True
        try:
            missing = self.backend.write_statuses([(key, status, stamp) for key, (status, stamp) in batch.items()])
        except SheetUnavailable as e:
            with self._lock:
                for key, value in batch.items():
                    self._pending.setdefault(key, value)  # a newer status wins over the failed one
            self._failures += 1
            delay = min(MAX_BACKOFF, self.backend.min_flush_interval * 2 ** self._failures)
            self._next_flush = self.clock() + delay
            log.warning("status write failed (%s); %d rows kept, retrying in %.0fs", e, len(batch), delay)
            return False
        self.writes += 1
        self._failures = 0
        self._next_flush = self.clock() + self.backend.min_flush_interval
        for key in missing:
            log.warning("no Config row for %s %s any more; its status was not written", *key)
        return True

    def run(self, stop: threading.Event) -> None:
        """Flush whenever something waits and the backend's interval allows, until stopped."""
        while not stop.is_set():
            self._wake.wait(timeout=1.0)
            wait = self._next_flush - self.clock()
            if wait > 0:
                stop.wait(wait)
            self._wake.clear()
            if self.pending():
                self.flush()
        self.flush()
