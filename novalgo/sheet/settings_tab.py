"""The Settings tab, cached like Config: the account's guard rails as the trader set them.

Read at most once per TTL (the sheet is the control panel, not the hot path), the last good
cells kept on disk so a restart during a Sheets outage keeps the pause, and so web workers can
say on /health whether entries are paused without a read of their own.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.guards import AccountGuards, parse_settings_tab
from novalgo.sheet.base import SheetBackend
from novalgo.sheet.tab_cache import Cells, TabCache, saved_cells

log = logging.getLogger(__name__)
# A sheet without a Settings tab is asked again this rarely (`sheet init` creates it): each ask of a
# missing tab costs a read of the Sheets quota and answers 400.
MISSING_TAB_TTL = 300.0


class SettingsTabCache(TabCache[Cells]):
    def __init__(self, backend: SheetBackend, ttl: float, snapshot_path: Path | None, clock=time.monotonic,
                 refresh_in_background: bool = False, wall_clock=SYSTEM_CLOCK):
        super().__init__("Settings tab", backend.read_settings, lambda cells, _when: cells, ttl, snapshot_path, clock,
                         refresh_in_background, wall_clock)
        self.backend = backend

    def guards(self) -> tuple[AccountGuards, list[str]]:
        """The tab's guards and the problems of cells that could not be read, refreshed past the TTL."""
        return parse_settings_tab(self.current() or [])

    def ttl_now(self) -> float:
        # A sheet without the tab (or an empty one) is asked again only every few minutes.
        return self.ttl if self._current else max(self.ttl, MISSING_TAB_TTL)

    def noted(self, new: Cells) -> None:
        for problem in parse_settings_tab(new)[1]:
            log.warning("Settings tab: %s", problem)


def saved_settings_values(path: Path | None) -> Cells | None:
    """The Settings tab's cells as the leader last read them (None if never)."""
    saved = saved_cells(path)
    return saved[0] if saved else None


def saved_settings(path: Path) -> tuple[AccountGuards, list[str]]:
    """The guards of the last Settings tab the leader read, for workers answering /health."""
    return parse_settings_tab(saved_settings_values(path) or [])
