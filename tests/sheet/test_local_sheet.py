"""The local sheet (CSV), the Config cache above it and the coalescing status writer.

The trader edits Config.csv in any spreadsheet program while the bot runs: rows found by
key, columns by header, edits seen within a TTL, statuses written in batches and never lost.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence
from zoneinfo import ZoneInfo

import pytest

from novalgo.domain import statuses as st
from novalgo.domain.config_rows import OPTIONAL_HEADERS, parse_config
from novalgo.errors import SheetUnavailable
from novalgo.sheet.cache import ConfigCache, saved_snapshot
from novalgo.sheet.local import LocalSheetBackend
from novalgo.sheet.status_writer import StatusWriter
from tests.support.clock import Clock

AAPL, TSLA, HOOD, MSFT, NVDA = ("AAPL", 15), ("TSLA", 30), ("HOOD", 45), ("MSFT", 5), ("NVDA", 15)
STAMP = "2025-03-03 06:30:00 PST"
PACIFIC = ZoneInfo("America/Los_Angeles")


class Flaky:
    """The real CSV backend behind a switch, counting calls, to play a Sheets outage."""

    kind = "local"
    min_flush_interval = 0.2

    def __init__(self, backend: LocalSheetBackend):
        self.backend = backend
        self.down = False
        self.reads = 0
        self.writes: list[list] = []
        self.during_failed_write = None  # called inside a failing write, as a concurrent thread would

    def read_config(self):
        self.reads += 1
        if self.down:
            raise SheetUnavailable("APIError: [503]: The service is currently unavailable.")
        return self.backend.read_config()

    def write_statuses(self, updates):
        self.writes.append(list(updates))
        if self.down:
            if self.during_failed_write:
                self.during_failed_write()
            raise SheetUnavailable("APIError: [429]: Quota exceeded for quota metric 'Write requests'")
        return self.backend.write_statuses(updates)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sheet"


@pytest.fixture
def sheet(folder) -> LocalSheetBackend:
    return LocalSheetBackend(folder)


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_csv(path: Path, rows: Sequence[Sequence[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def by_symbol(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    header = rows[0]
    return {line[header.index("symbol")]: dict(zip(header, line)) for line in rows[1:] if line}


# -- the CSV files ----------------------------------------------------------------------------------

def test_the_first_run_creates_the_default_config(sheet, folder):
    assert sheet.config_path == folder / "Config.csv"
    blank = [""] * (2 + len(OPTIONAL_HEADERS))  # the status columns and every optional column, empty
    assert read_csv(sheet.config_path) == [
        ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated", *OPTIONAL_HEADERS],
        ["AAPL", "5000", "TRUE", "15 Min", *blank],
        ["TSLA", "30000", "TRUE", "30 Min", *blank],
        ["HOOD", "40000", "TRUE", "45 Min", *blank],
        ["MSFT", "1000", "FALSE", "5 Min", *blank],
    ]
    snapshot = parse_config(sheet.read_config())
    assert [(r.label, r.position_size, r.active) for r in snapshot.rows] == [
        ("AAPL 15 Min", 5000, True), ("TSLA 30 Min", 30000, True), ("HOOD 45 Min", 40000, True),
        ("MSFT 5 Min", 1000, False)]


def test_an_existing_config_is_never_overwritten(folder):
    folder.mkdir(parents=True)
    write_csv(folder / "Config.csv", [["symbol", "position_size", "active", "Time Frame"], ["NVDA", "$2,000", "yes", "1h"]])
    LocalSheetBackend(folder)
    assert read_csv(folder / "Config.csv")[1] == ["NVDA", "$2,000", "yes", "1h"]


def test_statuses_are_written_by_key(sheet):
    missing = sheet.write_statuses([(AAPL, st.FILLED, STAMP), (MSFT, st.INACTIVE, STAMP), (NVDA, st.FILLED, STAMP)])
    assert missing == [NVDA]
    rows = by_symbol(read_csv(sheet.config_path))
    assert (rows["AAPL"]["Order Status"], rows["AAPL"]["Last Updated"]) == (st.FILLED, STAMP)
    assert rows["MSFT"]["Order Status"] == st.INACTIVE
    assert rows["TSLA"]["Order Status"] == ""


def test_statuses_find_rows_after_the_trader_reordered_added_and_inserted(sheet):
    write_csv(sheet.config_path, [
        ["Notes", "Time Frame", "symbol", "Order Status", "active", "Last Updated", "position_size", "Sector"],
        ["watch earnings", "15 Min", "NVDA", "", "TRUE", "", "2000", "chips"],  # inserted above AAPL
        ["", "15 Min", "AAPL", "READY", "TRUE", "", "$5,000", "tech"],
        ["cars", "30 Min", "TSLA", "", "TRUE", "", "30000", "auto"],
    ])
    assert sheet.write_statuses([(AAPL, st.ALREADY_LONG, STAMP)]) == []
    assert read_csv(sheet.config_path) == [
        ["Notes", "Time Frame", "symbol", "Order Status", "active", "Last Updated", "position_size", "Sector"],
        ["watch earnings", "15 Min", "NVDA", "", "TRUE", "", "2000", "chips"],
        ["", "15 Min", "AAPL", st.ALREADY_LONG, "TRUE", STAMP, "$5,000", "tech"],
        ["cars", "30 Min", "TSLA", "", "TRUE", "", "30000", "auto"],
    ]


def test_a_missing_order_status_column_is_added(sheet):
    write_csv(sheet.config_path, [["symbol", "position_size", "active", "Time Frame", "My Notes"],
                                  ["AAPL", "5000", "TRUE", "15 Min", "keep me"],
                                  ["TSLA", "30000", "TRUE", "30 Min"]])
    sheet.write_statuses([(TSLA, st.FILLED, STAMP)])
    rows = read_csv(sheet.config_path)
    assert rows[0] == ["symbol", "position_size", "active", "Time Frame", "My Notes", "Order Status", "Last Updated"]
    assert rows[1] == ["AAPL", "5000", "TRUE", "15 Min", "keep me"]
    assert rows[2] == ["TSLA", "30000", "TRUE", "30 Min", "", st.FILLED, STAMP]
    assert parse_config(sheet.read_config()).find("TSLA", 30).order_status == st.FILLED


def test_an_unknown_key_changes_nothing_on_disk(sheet):
    before = sheet.config_path.read_bytes()
    assert sheet.write_statuses([(NVDA, st.FILLED, STAMP)]) == [NVDA]
    assert sheet.config_path.read_bytes() == before


def test_writes_leave_no_temporary_files(sheet, folder):
    for n in range(5):
        sheet.write_statuses([(AAPL, f"{st.FILLED}", f"stamp {n}")])
    sheet.write_performance([["symbol", "total_pnl"], ["AAPL", "$250.00"]])
    assert sorted(p.name for p in folder.iterdir()) == ["Config.csv", "Performance.csv", "Settings.csv"]
    assert read_csv(folder / "Performance.csv") == [["symbol", "total_pnl"], ["AAPL", "$250.00"]]


def test_the_performance_file_is_replaced_not_appended(sheet, folder):
    sheet.write_performance([["symbol"], ["AAPL"], ["TSLA"]])
    sheet.write_performance([["symbol"], ["HOOD"]])
    assert read_csv(folder / "Performance.csv") == [["symbol"], ["HOOD"]]


def test_a_config_saved_in_another_encoding_is_a_sheet_outage_not_a_crash(sheet):
    sheet.config_path.write_bytes("symbol,position_size,active,Time Frame\nCAF\xc9,5000,TRUE,15\n".encode("latin-1"))
    with pytest.raises(SheetUnavailable, match="Config.csv"):
        sheet.read_config()


# -- the Config cache -------------------------------------------------------------------------------

@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture
def flaky(sheet) -> Flaky:
    return Flaky(sheet)


@pytest.fixture
def snapshot_path(tmp_path) -> Path:
    return tmp_path / "data" / "config_snapshot.json"


def edit_size(sheet: LocalSheetBackend, symbol: str, size: str) -> None:
    rows = read_csv(sheet.config_path)
    for line in rows[1:]:
        if line[0] == symbol:
            line[1] = size
    write_csv(sheet.config_path, rows)


def add_row(sheet: LocalSheetBackend, *cells: str) -> None:
    write_csv(sheet.config_path, read_csv(sheet.config_path) + [list(cells)])


def test_an_edit_is_picked_up_after_the_ttl(flaky, sheet, clock, snapshot_path):
    cache = ConfigCache(flaky, ttl=15, snapshot_path=snapshot_path, clock=clock)
    assert cache.snapshot().find("AAPL", 15).position_size == 5000
    edit_size(sheet, "AAPL", "$7,500")
    clock.now += 14
    assert cache.snapshot().find("AAPL", 15).position_size == 5000  # the sheet is not the hot path
    assert flaky.reads == 1
    clock.now += 1
    assert cache.snapshot().find("AAPL", 15).position_size == 7500
    assert flaky.reads == 2


def test_an_unknown_key_refreshes_early_at_most_every_5_seconds(flaky, sheet, clock, snapshot_path):
    cache = ConfigCache(flaky, ttl=600, snapshot_path=snapshot_path, clock=clock)
    cache.snapshot()
    reads = flaky.reads
    add_row(sheet, "NVDA", "2000", "TRUE", "15 Min")
    clock.now += 1
    row, reason = cache.lookup("NVDA", 15)  # just added by the trader: found without waiting a TTL
    assert (row.label, reason) == ("NVDA 15 Min", "")
    assert flaky.reads == reads + 1

    clock.now += 1
    assert cache.lookup("AMD", 15) == (None, "AMD 15 Min is not in the Config tab")
    add_row(sheet, "AMD", "1000", "TRUE", "15")
    for _ in range(50):  # a burst of unknown alerts spends no reads
        clock.now += 0.05
        assert cache.lookup("AMD", 15)[0] is None
    assert flaky.reads == reads + 1
    clock.now = 1000 + 1 + 5  # five seconds after the last early refresh
    assert cache.lookup("AMD", 15)[0].label == "AMD 15"
    assert flaky.reads == reads + 2
    # A known key never triggers a read.
    clock.now += 10
    cache.lookup("AAPL", 15)
    assert flaky.reads == reads + 2


def test_the_last_good_copy_is_kept_on_disk_and_used_when_the_sheet_is_down(flaky, clock, snapshot_path):
    ConfigCache(flaky, ttl=15, snapshot_path=snapshot_path, clock=clock).snapshot()
    saved = json.loads(snapshot_path.read_text())
    assert saved["values"][1][:4] == ["AAPL", "5000", "TRUE", "15 Min"]
    assert [r.label for r in saved_snapshot(snapshot_path).rows][:1] == ["AAPL 15 Min"]

    flaky.down = True  # a restart during a Sheets outage
    fresh = ConfigCache(flaky, ttl=15, snapshot_path=snapshot_path, clock=clock)
    row, reason = fresh.lookup("AAPL", 15)
    assert (row.label, row.position_size, reason) == ("AAPL 15 Min", 5000, "")
    assert len(fresh.snapshot().active_rows()) == 3


def test_a_cache_that_read_once_keeps_trading_through_an_outage(flaky, clock, snapshot_path):
    cache = ConfigCache(flaky, ttl=15, snapshot_path=snapshot_path, clock=clock)
    cache.snapshot()
    flaky.down = True
    clock.now += 20
    assert cache.snapshot().find("AAPL", 15) is not None
    reads = flaky.reads
    clock.now += 5
    cache.snapshot()
    assert flaky.reads == reads  # a failing API is not hammered: the next try waits a TTL
    flaky.down = False
    clock.now += 15
    cache.snapshot()
    assert flaky.reads == reads + 1


def test_with_no_copy_anywhere_the_reason_says_so(flaky, clock, tmp_path):
    flaky.down = True
    cache = ConfigCache(flaky, ttl=15, snapshot_path=tmp_path / "nothing.json", clock=clock)
    assert cache.snapshot().rows == ()
    assert cache.snapshot().problems == ("the Config tab could not be read yet",)


# -- the status writer ------------------------------------------------------------------------------

@pytest.fixture
def writer(flaky, clock) -> StatusWriter:
    return StatusWriter(flaky, PACIFIC, clock=clock)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, 3, hour, minute, tzinfo=timezone.utc)


def test_many_updates_become_one_write_with_the_newest_status_per_row(writer, flaky, sheet):
    for status in (st.ORDER_SUBMITTED, st.FILLED):
        writer.set(AAPL, status, at(14, 30))
    for status in (st.ORDER_SUBMITTED, st.FILLED, st.ORDER_SUBMITTED, st.WAITING):
        writer.set(TSLA, status, at(14, 31))
    writer.set(HOOD, st.ALREADY_SHORT, at(14, 32))
    assert writer.pending() == 3
    assert writer.flush() is True
    assert len(flaky.writes) == 1 and len(flaky.writes[0]) == 3
    assert writer.pending() == 0 and writer.writes == 1
    rows = by_symbol(read_csv(sheet.config_path))
    assert {s: rows[s]["Order Status"] for s in ("AAPL", "TSLA", "HOOD", "MSFT")} == {
        "AAPL": st.FILLED, "TSLA": st.WAITING, "HOOD": st.ALREADY_SHORT, "MSFT": ""}
    # Last Updated is in the configured zone (Pacific), whatever zone the event came in.
    assert rows["AAPL"]["Last Updated"] == "2025-03-03 06:30:00 PST"


def test_nothing_waiting_means_no_write(writer, flaky):
    assert writer.flush() is True
    assert flaky.writes == []


def test_a_failed_write_keeps_the_statuses_and_writes_them_later(writer, flaky, sheet):
    before = sheet.config_path.read_bytes()
    writer.set(AAPL, st.FILLED, at(14, 30))
    writer.set(TSLA, st.FAILED, at(14, 30))
    flaky.down = True
    assert writer.flush() is False
    assert writer.pending() == 2 and writer.writes == 0
    assert sheet.config_path.read_bytes() == before  # nothing half-written

    flaky.down = False
    assert writer.flush() is True
    rows = by_symbol(read_csv(sheet.config_path))
    assert (rows["AAPL"]["Order Status"], rows["TSLA"]["Order Status"]) == (st.FILLED, st.FAILED)
    assert writer.pending() == 0


def test_a_newer_status_wins_over_a_failed_older_one(writer, flaky, sheet):
    writer.set(AAPL, st.ORDER_SUBMITTED, at(14, 30))
    flaky.down = True
    # While the failing write is in flight, the executor learns the order filled.
    flaky.during_failed_write = lambda: writer.set(AAPL, st.FILLED, at(14, 31))
    assert writer.flush() is False
    flaky.down = False
    assert writer.flush() is True
    row = by_symbol(read_csv(sheet.config_path))["AAPL"]
    assert (row["Order Status"], row["Last Updated"]) == (st.FILLED, "2025-03-03 06:31:00 PST")
    assert [status for _, status, _ in flaky.writes[-1]] == [st.FILLED]


def test_a_housekeeping_status_never_hides_a_trading_status(writer, sheet):
    writer.set(AAPL, st.FILLED, at(14, 30))
    writer.set_if_idle(AAPL, st.READY)
    writer.set_if_idle(TSLA, st.READY)
    writer.flush()
    rows = by_symbol(read_csv(sheet.config_path))
    assert (rows["AAPL"]["Order Status"], rows["TSLA"]["Order Status"]) == (st.FILLED, st.READY)


def test_a_status_for_a_deleted_row_is_dropped_not_retried_forever(writer, flaky, sheet):
    writer.set(NVDA, st.FILLED, at(14, 30))
    assert writer.flush() is True
    assert writer.pending() == 0


def test_an_empty_read_does_not_replace_a_good_config(tmp_path):
    from novalgo.sheet.cache import ConfigCache
    from novalgo.sheet.local import LocalSheetBackend

    backend = LocalSheetBackend(tmp_path / "sheet")
    now = [0.0]
    cache = ConfigCache(backend, ttl=1, snapshot_path=tmp_path / "snap.json", clock=lambda: now[0])
    assert len(cache.snapshot().rows) == 4
    backend.config_path.write_text("")  # a spreadsheet program mid-save
    now[0] += 2
    assert len(cache.snapshot().rows) == 4
    backend.config_path.write_text("symbol,position_size,active,Time Frame\n")  # the trader emptied it
    now[0] += 2
    assert cache.snapshot().rows == ()
