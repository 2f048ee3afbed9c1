"""The Settings tab, cached like Config: the account's guard rails as the trader set them.

Read at most once per TTL (the sheet is the control panel, not the hot path), the last good
cells kept on disk so a restart during a Sheets outage keeps the pause, and so web workers can
say on /health whether entries are paused without a read of their own.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

from novalgo.domain.guards import AccountGuards, parse_settings_tab
from novalgo.errors import SheetUnavailable
from novalgo.sheet.base import SheetBackend

log = logging.getLogger(__name__)
# A sheet without a Settings tab is asked again this rarely (`sheet init` creates it): each ask of a
# missing tab costs a read of the Sheets quota and answers 400.
MISSING_TAB_TTL = 300.0


class SettingsTabCache:
    def __init__(self, backend: SheetBackend, ttl: float, snapshot_path: Path | None, clock=time.monotonic,
                 refresh_in_background: bool = False):
        self.backend = backend
        # With a remote sheet, a TTL refresh runs in its own thread once a copy exists: a slow
        # Sheets read must not hold the alert that asked.
        self.refresh_in_background = refresh_in_background
        self.ttl = ttl
        self.snapshot_path = snapshot_path
        self.clock = clock
        self._values: list[list[str]] | None = None
        self._fetched = float("-inf")
        self._lock = threading.Lock()
        self.reads = 0

    def guards(self) -> tuple[AccountGuards, list[str]]:
        """The tab's guards and the problems of cells that could not be read, refreshed past the TTL."""
        ttl = self.ttl if self._values else max(self.ttl, MISSING_TAB_TTL)
        if self.clock() - self._fetched >= ttl:
            if self.refresh_in_background and self._values is not None:
                if self._lock.acquire(blocking=False):
                    threading.Thread(target=self._refresh_held, name="novalgo-settings-refresh", daemon=True).start()
            else:
                self.refresh()
        return parse_settings_tab(self._values or [])

    def refresh(self) -> None:
        """Read the tab once; on failure keep the last good cells (from disk after a restart)."""
        if not self._lock.acquire(blocking=self._values is None):
            return  # another thread is reading: use what we have
        self._refresh_held()

    def _refresh_held(self) -> None:
        """One read, the caller holding the lock (released here)."""
        try:
            started = self.clock()
            try:
                values = self.backend.read_settings()
                self.reads += 1
            except SheetUnavailable as e:
                log.warning("Settings tab unavailable, keeping the last good copy: %s", e)
                if self._values is None:
                    self._values = saved_settings_values(self.snapshot_path)
                self._fetched = started
                return
            self._fetched = started
            self._values = values
            for problem in parse_settings_tab(values)[1]:
                log.warning("Settings tab: %s", problem)
            self._to_disk(values)
        finally:
            self._lock.release()

    def _to_disk(self, values: list[list[str]]) -> None:
        if self.snapshot_path is None:
            return
        temp = self.snapshot_path.with_suffix(".tmp")
        temp.write_text(json.dumps({"saved_at": time.time(), "values": values}))
        os.replace(temp, self.snapshot_path)


def saved_settings_values(path: Path | None) -> list[list[str]] | None:
    """The Settings tab's cells as the leader last read them (None if never)."""
    if path is None:
        return None
    try:
        return json.loads(path.read_text())["values"]
    except (FileNotFoundError, ValueError, KeyError):
        return None


def saved_settings(path: Path) -> tuple[AccountGuards, list[str]]:
    """The guards of the last Settings tab the leader read, for workers answering /health."""
    return parse_settings_tab(saved_settings_values(path) or [])
