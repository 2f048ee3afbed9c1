"""The Config tab read by header and key: what a trader may do to the sheet without breaking the bot."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from novalgo.domain.config_rows import (
    CONFIG_HEADERS,
    match_row,
    parse_bool,
    parse_config,
    parse_money,
    status_cells,
)

HEADER = list(CONFIG_HEADERS)  # symbol, position_size, active, Time Frame, Order Status, Last Updated
DEFAULT_ROWS = [
    ["AAPL", "5000", "TRUE", "15 Min", "", ""],
    ["TSLA", "30000", "TRUE", "30 Min", "", ""],
    ["HOOD", "40000", "TRUE", "45 Min", "", ""],
    ["MSFT", "1000", "FALSE", "5 Min", "", ""],
]


def sheet(*rows, header=HEADER):
    return [list(header)] + [list(r) for r in rows]


def summary(snapshot):
    return [(r.symbol, r.timeframe_minutes, r.position_size, r.active, r.row_number) for r in snapshot.rows]


# -- reading rows -----------------------------------------------------------------------------------

def test_the_default_sheet_reads_as_four_rows():
    snapshot = parse_config(sheet(*DEFAULT_ROWS))
    assert summary(snapshot) == [("AAPL", 15, 5000, True, 2), ("TSLA", 30, 30000, True, 3),
                                 ("HOOD", 45, 40000, True, 4), ("MSFT", 5, 1000, False, 5)]
    assert snapshot.problems == ()
    assert [r.label for r in snapshot.active_rows()] == ["AAPL 15 Min", "TSLA 30 Min", "HOOD 45 Min"]


@pytest.mark.parametrize("header", [
    pytest.param(["Time Frame", "active", "symbol", "position_size"], id="reordered"),
    pytest.param(["SYMBOL", "Position Size", "Active", "time frame"], id="any-case-and-spacing"),
    pytest.param(["Symbol", "POSITION_SIZE", "Active?", "TimeFrame", "Order Status"], id="punctuation"),
    pytest.param(["Notes", "symbol", "My Score", "position_size", "active", "Time Frame", "Sector"], id="extra-columns"),
])
def test_columns_are_found_by_header_in_any_order_and_case(header):
    values = {"symbol": "AAPL", "positionsize": "5000", "active": "TRUE", "timeframe": "15 Min"}
    fold = lambda text: "".join(ch for ch in text.lower() if ch.isalnum())  # noqa: E731
    cells = [values.get(fold(name), "something of mine") for name in header]
    snapshot = parse_config([header, cells])
    assert summary(snapshot) == [("AAPL", 15, 5000, True, 2)]
    assert snapshot.problems == ()


def test_a_missing_required_column_is_reported():
    snapshot = parse_config([["symbol", "active", "Time Frame"], ["AAPL", "TRUE", "15"]])
    assert snapshot.rows == ()
    assert snapshot.problems == ("the Config tab has no position_size column",)


def test_an_empty_tab_is_reported():
    assert parse_config([]).problems == ("the Config tab is empty: it needs a header row",)


@pytest.mark.parametrize("text, dollars", [
    ("5000", "5000"), ("$5,000", "5000"), ("5000.50", "5000.50"), ("$ 1,234.56", "1234.56"), (" 40000 ", "40000"),
    (5000, "5000"), (2500.5, "2500.5"),  # Google hands unformatted numbers over as numbers
])
def test_dollar_amounts_as_people_type_them(text, dollars):
    assert parse_money(text) == D(dollars)


@pytest.mark.parametrize("text", ["abc", "", "0", "-100", "$", "NaN", "Infinity"])
def test_bad_dollar_amounts_are_refused(text):
    with pytest.raises(ValueError, match="position_size"):
        parse_money(text)


@pytest.mark.parametrize("text, active", [
    ("TRUE", True), ("true", True), ("yes", True), ("Y", True), ("1", True), ("x", True), ("✓", True),
    (True, True),  # a checkbox cell read unformatted
    ("FALSE", False), ("no", False), ("0", False), ("", False), (False, False),
])
def test_active_reads_sensibly(text, active):
    assert parse_bool(text) is active


def test_a_bad_row_is_reported_with_its_row_number_and_skipped_or_failed():
    snapshot = parse_config(sheet(
        ["AAPL", "5000", "TRUE", "15 Min"],
        ["TSLA", "lots", "TRUE", "30 Min"],
        ["HOOD", "40000", "maybe", "45 Min"],
        ["", "1000", "TRUE", "5 Min"],
        ["NVDA", "1000", "TRUE", "fortnightly"],
        ["", "", "", ""],  # blank lines are simply skipped
        ["MSFT", "$1,000", "FALSE", "5 Min"],
    ))
    # A row whose key reads is kept, so its alerts FAIL with the reason instead of "not in the sheet".
    assert summary(snapshot) == [("AAPL", 15, 5000, True, 2), ("TSLA", 30, None, True, 3), ("MSFT", 5, 1000, False, 8)]
    assert snapshot.find("TSLA", 30).problem.startswith("position_size 'lots' is not a dollar amount")
    assert snapshot.problems == (
        "row 3: position_size 'lots' is not a dollar amount, shares (25 sh), a percent (10%) or alert; "
        "its alerts fail until it is fixed",
        "row 4: active must be TRUE or FALSE, not 'maybe'; skipped",
        "row 5: no symbol; skipped",
        "row 6: unknown interval unit in 'fortnightly'; skipped",
    )


def test_a_duplicate_row_is_reported_and_the_first_is_used():
    snapshot = parse_config(sheet(
        ["AAPL", "5000", "TRUE", "15 Min"],
        ["TSLA", "30000", "TRUE", "30 Min"],
        ["NASDAQ:AAPL", "9999", "TRUE", "15"],  # the same (symbol, minutes) written differently
    ))
    assert summary(snapshot) == [("AAPL", 15, 5000, True, 2), ("TSLA", 30, 30000, True, 3)]
    assert snapshot.problems == ("row 4: AAPL 15 appears twice; the first row is used",)


def test_symbols_in_the_sheet_are_normalised_like_alerts():
    snapshot = parse_config(sheet(["nasdaq:aapl", "5000", "TRUE", "15 Min"], ["BTCUSD", "100", "TRUE", "1h"]))
    assert [r.key for r in snapshot.rows] == [("AAPL", 15), ("BTC/USD", 60)]


# -- which row an alert trades on ------------------------------------------------------------------

MULTI = parse_config(sheet(
    ["AAPL", "5000", "TRUE", "15 Min"],
    ["AAPL", "8000", "TRUE", "1 Hour"],
    ["TSLA", "30000", "TRUE", "30 Min"],
    ["TSLA", "10000", "FALSE", "5 Min"],
    ["MSFT", "1000", "FALSE", "5 Min"],
))


@pytest.mark.parametrize("symbol, minutes, row_label, reason", [
    pytest.param("AAPL", 15, "AAPL 15 Min", "", id="exact"),
    pytest.param("AAPL", 60, "AAPL 1 Hour", "", id="60-finds-1-Hour"),
    pytest.param("MSFT", 5, "MSFT 5 Min", "", id="inactive-row-still-found"),
    pytest.param("AAPL", 30, None, "AAPL 30 Min is not in the Config tab", id="unknown-timeframe"),
    pytest.param("NVDA", 15, None, "NVDA 15 Min is not in the Config tab", id="unknown-symbol"),
    pytest.param("TSLA", None, "TSLA 30 Min", "", id="no-timeframe-only-active-row"),
    pytest.param("MSFT", None, None, "the alert has no timeframe and MSFT has no active row in the Config tab",
                 id="no-timeframe-none-active"),
    pytest.param("NVDA", None, None, "the alert has no timeframe and NVDA has no active row in the Config tab",
                 id="no-timeframe-unknown-symbol"),
    pytest.param("AAPL", None, None,
                 "the alert has no timeframe and AAPL has 2 active rows (15 Min, 1 Hour): add one to the alert",
                 id="no-timeframe-several"),
])
def test_match_row(symbol, minutes, row_label, reason):
    row, why = match_row(MULTI, symbol, minutes)
    assert (row.label if row else None, why) == (row_label, reason)


# -- where statuses are written --------------------------------------------------------------------

AAPL, TSLA, MSFT = ("AAPL", 15), ("TSLA", 30), ("MSFT", 5)
STAMP = "2025-03-03 06:30:00 PST"


def test_status_cells_on_the_default_sheet():
    cells, missing = status_cells(sheet(*DEFAULT_ROWS), [(TSLA, "FILLED", STAMP)])
    assert cells == [(2, 4, "FILLED"), (2, 5, STAMP)]
    assert missing == []


def test_status_cells_follow_a_row_inserted_above():
    values = sheet(["NVDA", "2000", "TRUE", "15 Min", "", ""], *DEFAULT_ROWS)
    cells, _ = status_cells(values, [(AAPL, "ALREADY LONG", STAMP)])
    assert cells == [(2, 4, "ALREADY LONG"), (2, 5, STAMP)]  # AAPL moved from line 1 to line 2


def test_status_cells_follow_reordered_columns():
    header = ["Last Updated", "Time Frame", "Order Status", "Notes", "symbol", "active", "position_size"]
    values = [header,
              ["", "30 Min", "", "my note", "TSLA", "TRUE", "30000"],
              ["", "15 Min", "", "", "AAPL", "TRUE", "5000"]]
    cells, missing = status_cells(values, [(AAPL, "FILLED", STAMP), (TSLA, "WAITING", STAMP), (MSFT, "READY", STAMP)])
    assert sorted(cells) == [(1, 0, STAMP), (1, 2, "WAITING"), (2, 0, STAMP), (2, 2, "FILLED")]
    assert missing == [MSFT]


def test_status_cells_without_a_last_updated_column_write_the_status_only():
    values = [["symbol", "position_size", "active", "Time Frame", "Order Status"], ["AAPL", "5000", "TRUE", "15"]]
    assert status_cells(values, [(AAPL, "FILLED", STAMP)]) == ([(1, 4, "FILLED")], [])


def test_status_cells_with_no_status_column_report_every_key_missing():
    values = [["symbol", "position_size", "active", "Time Frame"], ["AAPL", "5000", "TRUE", "15"]]
    assert status_cells(values, [(AAPL, "FILLED", STAMP)]) == ([], [AAPL])


def test_status_cells_skip_unreadable_rows_and_use_the_first_of_duplicates():
    values = sheet(["", "", "", "", "", ""], ["AAPL", "5000", "TRUE", "??", "", ""],
                   ["AAPL", "5000", "TRUE", "15", "", ""], ["AAPL", "1", "TRUE", "15 Min", "", ""])
    cells, _ = status_cells(values, [(AAPL, "FILLED", STAMP)])
    assert cells == [(3, 4, "FILLED"), (3, 5, STAMP)]
