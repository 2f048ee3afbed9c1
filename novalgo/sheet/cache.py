"""The Config tab, cached: the sheet is the control panel, not the hot path.

A snapshot is refreshed when older than the TTL, and early when an alert names a
(symbol, timeframe) the snapshot lacks (at most every few seconds, so a burst of unknown
symbols cannot spend the read quota). One refresh runs at a time. The last good cells are
kept on disk, so a restart during a Sheets outage still trades.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from novalgo.domain.config_rows import ConfigRow, ConfigSnapshot, match_row, parse_config
from novalgo.errors import SheetUnavailable
from novalgo.sheet.base import SheetBackend

log = logging.getLogger(__name__)


class ConfigCache:
    def __init__(self, backend: SheetBackend, ttl: float, snapshot_path: Path | None,
                 unknown_interval: float = 5.0, clock=time.monotonic, refresh_in_background: bool = False):
        self.backend = backend
        # With a remote sheet, a TTL refresh runs in its own thread once a snapshot exists: a read
        # that is slow or retrying through a Sheets outage must not hold the caller (the dispatcher).
        self.refresh_in_background = refresh_in_background
        self.ttl = ttl
        self.snapshot_path = snapshot_path
        self.unknown_interval = unknown_interval
        self.clock = clock
        self._snapshot: ConfigSnapshot | None = None
        self._fetched = float("-inf")
        self._last_unknown = float("-inf")
        self._refreshing = threading.Lock()
        self.reads = 0

    def snapshot(self) -> ConfigSnapshot:
        """The current Config, refreshed if older than the TTL."""
        if self.clock() - self._fetched >= self.ttl:
            if self.refresh_in_background and self._snapshot is not None:
                self._refresh_in_thread()
            else:
                self.refresh()
        return self._snapshot or ConfigSnapshot(problems=("the Config tab could not be read yet",))

    def lookup(self, symbol: str, minutes: int | None) -> tuple[ConfigRow | None, str]:
        """The row for an alert; an unknown key triggers one early refresh (rate-limited)."""
        row, reason = match_row(self.snapshot(), symbol, minutes)
        if row is None and self.clock() - self._last_unknown >= self.unknown_interval:
            self._last_unknown = self.clock()
            self.refresh()
            row, reason = match_row(self.snapshot(), symbol, minutes)
        return row, reason

    def refresh(self) -> None:
        """Read the tab once; if another thread is already reading, use what it gets."""
        if not self._refreshing.acquire(blocking=self._snapshot is None):
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
                log.exception("Config refresh failed")
                self._fetched = self.clock()
            finally:
                self._refreshing.release()

        threading.Thread(target=run, name="novalgo-config-refresh", daemon=True).start()

    def _read(self) -> None:
        """One read of the tab into the snapshot (the caller holds the refresh lock)."""
        started = self.clock()
        try:
            values = self.backend.read_config()
            self.reads += 1
        except SheetUnavailable as e:
            log.warning("Config tab unavailable, trading on the last good copy: %s", e)
            if self._snapshot is None:
                self._snapshot = self._from_disk()
            self._fetched = started  # do not hammer a failing API: wait a TTL
            return
        snapshot = parse_config(values, read_at=time.time())
        self._fetched = started
        if not snapshot.rows and snapshot.problems and self._snapshot and self._snapshot.rows:
            # A tab read empty or headerless (mid-save, a bad edit) must not switch trading off.
            log.warning("Config tab unreadable (%s); keeping the last good copy", "; ".join(snapshot.problems))
            return
        self._snapshot = snapshot
        for problem in snapshot.problems:
            log.warning("Config tab: %s", problem)
        self._to_disk(values)

    def _to_disk(self, values: list[list[str]]) -> None:
        if self.snapshot_path is None:
            return
        temp = self.snapshot_path.with_suffix(".tmp")
        temp.write_text(json.dumps({"saved_at": time.time(), "values": values}))
        os.replace(temp, self.snapshot_path)

    def _from_disk(self) -> ConfigSnapshot | None:
        if self.snapshot_path is None or not self.snapshot_path.exists():
            return None
        saved = json.loads(self.snapshot_path.read_text())
        log.warning("using the Config saved at %s", time.ctime(saved["saved_at"]))
        return parse_config(saved["values"], read_at=saved["saved_at"])


def saved_snapshot(path: Path) -> ConfigSnapshot | None:
    """The last Config the leader read, for workers that answer /health and /config."""
    try:
        saved = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return parse_config(saved["values"], read_at=saved["saved_at"])
