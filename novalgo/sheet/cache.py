"""The Config tab, cached: the sheet is the control panel, not the hot path.

A snapshot is refreshed when older than the TTL (see tab_cache.py: one read at a time, the
last good cells on disk), and early when an alert names a (symbol, timeframe) the snapshot
lacks (at most every few seconds, so a burst of unknown symbols cannot spend the read quota).
A backend that can tell when its tab changed (the local CSV file's mtime) is read again as
soon as it has, so an edit reaches the server as soon as `novalgo try` sees it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.config_rows import ConfigRow, ConfigSnapshot, match_row, parse_config
from novalgo.sheet.base import SheetBackend
from novalgo.sheet.tab_cache import TabCache, saved_cells

log = logging.getLogger(__name__)


class ConfigCache(TabCache[ConfigSnapshot]):
    def __init__(self, backend: SheetBackend, ttl: float, snapshot_path: Path | None,
                 unknown_interval: float = 5.0, clock=time.monotonic, refresh_in_background: bool = False,
                 wall_clock=SYSTEM_CLOCK):
        super().__init__("Config tab", self._read_config, _parse, ttl, snapshot_path, clock, refresh_in_background,
                         wall_clock)
        self.backend = backend
        self._version_read: object = None  # the backend's config_version() when last read
        self.unknown_interval = unknown_interval
        self._last_unknown = float("-inf")

    def snapshot(self) -> ConfigSnapshot:
        """The current Config, refreshed if older than the TTL."""
        return self.current() or ConfigSnapshot(problems=("the Config tab could not be read yet",))

    def ttl_now(self) -> float:
        version = getattr(self.backend, "config_version", None)
        if version is not None and self._version_read is not None and version() != self._version_read:
            return 0.0  # the file changed since it was read: read it now, whatever its age
        return self.ttl

    def _read_config(self) -> list[list[str]]:
        version = getattr(self.backend, "config_version", None)
        self._version_read = version() if version is not None else None  # before the read: an edit during it is seen next time
        return self.backend.read_config()

    def lookup(self, symbol: str, minutes: int | None) -> tuple[ConfigRow | None, str]:
        """The row for an alert; an unknown key triggers one early refresh (rate-limited)."""
        row, reason = match_row(self.snapshot(), symbol, minutes)
        if row is None and self.clock() - self._last_unknown >= self.unknown_interval:
            self._last_unknown = self.clock()
            self.refresh()
            row, reason = match_row(self.snapshot(), symbol, minutes)
        return row, reason

    def keep_old(self, new: ConfigSnapshot, old: ConfigSnapshot | None) -> bool:
        # A tab read empty or headerless (mid-save, a bad edit) must not switch trading off.
        if not new.rows and new.problems and old and old.rows:
            log.warning("Config tab unreadable (%s); keeping the last good copy", "; ".join(new.problems))
            return True
        return False

    def noted(self, new: ConfigSnapshot) -> None:
        for problem in new.problems:
            log.warning("Config tab: %s", problem)


def _parse(cells: list[list[str]], read_at: float) -> ConfigSnapshot:
    return parse_config(cells, read_at=read_at)


def saved_snapshot(path: Path) -> ConfigSnapshot | None:
    """The last Config the leader read, for workers that answer /health and /config."""
    saved = saved_cells(path)
    return parse_config(saved[0], read_at=saved[1]) if saved else None
