"""What the service needs from a spreadsheet: raw cells in, batched writes out.

Backends (local CSV, Google Sheets via gspread) only move cells. Finding rows by key and
columns by header happens in ``novalgo.domain.config_rows`` so both behave the same; caching
and write coalescing live above the backends (``cache.py``, ``status_writer.py``).
"""

from __future__ import annotations

from typing import Protocol, Sequence

from novalgo.domain.config_rows import RowKey

StatusUpdate = tuple[RowKey, str, str]  # (row key, Order Status, Last Updated text)


class SheetBackend(Protocol):
    kind: str  # "local" | "google"
    # Seconds between status flushes: how often this backend can afford a write.
    min_flush_interval: float

    def read_config(self) -> list[list[str]]:
        """The Config tab's cells, header row first, numbers unformatted. Raises SheetUnavailable."""

    def read_settings(self) -> list[list[str]]:
        """The Settings tab's cells as shown ("2%" stays "2%"); [] when there is no such tab.
        Raises SheetUnavailable."""

    def write_statuses(self, updates: Sequence[StatusUpdate]) -> list[RowKey]:
        """Write Order Status / Last Updated for each key in one batch, locating rows now.

        Returns the keys whose row was not found. Raises SheetUnavailable (nothing written).
        """

    def write_performance(self, values: Sequence[Sequence[str]]) -> None:
        """Replace the Performance tab with these cells in one write, clearing older rows."""

    def append_activity(self, rows: Sequence[Sequence[str]], keep: int) -> None:
        """Append rows to the Activity tab, keeping only the newest ``keep`` rows."""
