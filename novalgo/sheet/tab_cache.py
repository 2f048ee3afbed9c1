"""One tab of the sheet, cached: the sheet is the control panel, not the hot path.

The tab is read at most once per TTL (with a remote sheet, in a thread of its own once a copy
exists, so a slow or retrying read never holds the caller), one read at a time. The last good
cells are kept on disk: a restart during a Sheets outage still has them, and web workers can
answer from them without a read of their own. The Config tab and the Settings tab are both
kept this way; each says how its cells are read and when a new read must not replace the old.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Generic, TypeVar

from novalgo.clock import SYSTEM_CLOCK
from novalgo.errors import SheetUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
Cells = list[list[str]]


class TabCache(Generic[T]):
    def __init__(self, name: str, read: Callable[[], Cells], parse: Callable[[Cells, float], T], ttl: float,
                 snapshot_path: Path | None, clock=time.monotonic, refresh_in_background: bool = False,
                 wall_clock: Callable[[], float] = SYSTEM_CLOCK):
        self.name = name  # "Config tab", for the log
        self._read_cells = read
        self._parse = parse  # (cells, when read as epoch seconds) → what callers use
        self.ttl = ttl
        self.snapshot_path = snapshot_path
        self.clock = clock  # elapsed time: the TTL
        self.wall_clock = wall_clock  # time of day: when a copy was read and saved
        self.refresh_in_background = refresh_in_background
        self._current: T | None = None
        self._fetched = float("-inf")
        self._refreshing = threading.Lock()
        self.reads = 0

    def current(self) -> T | None:
        """What the tab says, refreshed if older than the TTL (None until a first read or copy)."""
        if self.clock() - self._fetched >= self.ttl_now():
            if self.refresh_in_background and self._current is not None:
                self._refresh_in_thread()
            else:
                self.refresh()
        return self._current

    def ttl_now(self) -> float:
        return self.ttl

    def keep_old(self, new: T, old: T | None) -> bool:
        """Whether a fresh read must not replace the copy in hand (a tab caught mid-edit, say)."""
        return False

    def noted(self, new: T) -> None:
        """A fresh read was taken: say what is wrong in it (the log is where a trader looks)."""

    def refresh(self) -> None:
        """Read the tab once; if another thread is already reading, use what it gets."""
        if not self._refreshing.acquire(blocking=self._current is None):
            return
        try:
            self._read()
        finally:
            self._refreshing.release()

    def _refresh_in_thread(self) -> None:
        """Start one refresh in the background unless one is already running; never waits."""
        if not self._refreshing.acquire(blocking=False):
            return

        def run() -> None:
            try:
                self._read()
            except Exception:  # a bug in a read must not kill the refresh for good: the next TTL retries
                log.exception("%s refresh failed", self.name)
                self._fetched = self.clock()
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name=f"novalgo-{self.name.split()[0].lower()}-refresh", daemon=True).start()

    def _read(self) -> None:
        """One read of the tab (the caller holds the refresh lock)."""
        started = self.clock()
        try:
            cells = self._read_cells()
            self.reads += 1
        except SheetUnavailable as e:
            log.warning("%s unavailable, keeping the last good copy: %s", self.name, e)
            if self._current is None:
                self._current = self._from_disk()
            self._fetched = started  # do not hammer a failing API: wait a TTL
            return
        new = self._parse(cells, self.wall_clock())
        self._fetched = started
        if self.keep_old(new, self._current):
            return
        self._current = new
        self.noted(new)
        self._to_disk(cells)

    def _to_disk(self, cells: Cells) -> None:
        if self.snapshot_path is None:
            return
        temp = self.snapshot_path.with_suffix(".tmp")
        temp.write_text(json.dumps({"saved_at": self.wall_clock(), "values": cells}))
        os.replace(temp, self.snapshot_path)

    def _from_disk(self) -> T | None:
        saved = saved_cells(self.snapshot_path)
        if saved is None:
            return None
        log.warning("using the %s saved at %s", self.name, time.ctime(saved[1]))
        return self._parse(*saved)


def saved_cells(path: Path | None) -> tuple[Cells, float] | None:
    """The cells the leader last read of a tab, and when (None if never)."""
    if path is None:
        return None
    try:
        saved = json.loads(path.read_text())
        return saved["values"], saved["saved_at"]
    except (FileNotFoundError, ValueError, KeyError):
        return None
