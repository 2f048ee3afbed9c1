"""The sheet as CSV files in the data dir, for running with no Google account.

``Config.csv`` has the Google tab's headers; edit it in any spreadsheet program and the bot
reads it again at the next alert (the cache asks ``config_version`` whether the file changed). Writes go to a temporary file and are renamed over the
old one, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import threading
from pathlib import Path
from typing import Sequence

from novalgo.domain.config_rows import (
    CONFIG_HEADERS,
    OPTIONAL_HEADERS,
    STATUS,
    UPDATED,
    RowKey,
    header_index,
    status_cells,
)
from novalgo.errors import SheetUnavailable
from novalgo.sheet.base import StatusUpdate
from novalgo.sheet.layout import ACTIVITY_HEADERS, SETTINGS_HEADERS, SETTINGS_ROWS

DEFAULT_CONFIG = (
    ("AAPL", "5000", "TRUE", "15 Min"),
    ("TSLA", "30000", "TRUE", "30 Min"),
    ("HOOD", "40000", "TRUE", "45 Min"),
    ("MSFT", "1000", "FALSE", "5 Min"),
)


class LocalSheetBackend:
    kind = "local"
    min_flush_interval = 0.2

    def __init__(self, folder: Path, config_tab: str = "Config", performance_tab: str = "Performance",
                 activity_tab: str = "Activity", settings_tab: str = "Settings"):
        self.folder = Path(folder)
        self.config_path = self.folder / f"{config_tab}.csv"
        self.performance_path = self.folder / f"{performance_tab}.csv"
        self.activity_path = self.folder / f"{activity_tab}.csv"
        self.settings_path = self.folder / f"{settings_tab}.csv"
        self._lock = threading.Lock()
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            # Every column, the optional ones empty: the trader sees at once what a row can say.
            header = list(CONFIG_HEADERS + OPTIONAL_HEADERS)
            rows = [header] + [list(row) + [""] * (len(header) - len(row)) for row in DEFAULT_CONFIG]
            _write_atomic(self.config_path, rows)
        if not self.settings_path.exists():
            _write_atomic(self.settings_path, [list(SETTINGS_HEADERS)] + [list(row) for row in SETTINGS_ROWS])

    def add_missing_columns(self) -> list[str]:
        """Give an existing Config.csv the columns it lacks, at the end; rows keep their cells."""
        with self._lock:
            values = _read(self.config_path)
            if not values:
                return []
            before = len(values[0])
            _ensure_columns(values[0], CONFIG_HEADERS + OPTIONAL_HEADERS)
            added = values[0][before:]
            if added:
                _write_atomic(self.config_path, values)
            return added

    @classmethod
    def from_settings(cls, settings) -> "LocalSheetBackend":
        """The CSV sheet in ``data_dir/sheet``, with the configured tab names."""
        return cls(settings.data_dir / "sheet", settings.config_tab, settings.performance_tab, settings.activity_tab,
                   settings.settings_tab)

    def read_config(self) -> list[list[str]]:
        return _read(self.config_path)

    def config_version(self) -> tuple[int, int] | None:
        """When Config.csv last changed and its size: a new value means it must be read again."""
        try:
            stat = os.stat(self.config_path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def read_settings(self) -> list[list[str]]:
        return _read(self.settings_path)

    def write_statuses(self, updates: Sequence[StatusUpdate]) -> list[RowKey]:
        with self._lock:
            values = _read(self.config_path)
            if values:
                _ensure_columns(values[0], (STATUS, UPDATED))
            cells, missing = status_cells(values, updates)
            for row, column, text in cells:
                line = values[row]
                line.extend([""] * (column + 1 - len(line)))
                line[column] = text
            if cells:
                _write_atomic(self.config_path, values)
        return missing

    def write_performance(self, values: Sequence[Sequence[str]]) -> None:
        _write_atomic(self.performance_path, values)

    def append_activity(self, rows: Sequence[Sequence[str]], keep: int) -> None:
        with self._lock:
            existing = _read(self.activity_path) if self.activity_path.exists() else []
            body = existing[1:] + [list(r) for r in rows]
            _write_atomic(self.activity_path, [list(ACTIVITY_HEADERS)] + body[-keep:])


def _ensure_columns(header: list[str], names: Sequence[str]) -> None:
    present = header_index(header)
    header.extend(name for name in names if name not in present)


def _read(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return [row for row in csv.reader(handle)]
    except FileNotFoundError:
        return []
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise SheetUnavailable(f"cannot read {path.name}: {e}") from e


def _write_atomic(path: Path, rows: Sequence[Sequence[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
