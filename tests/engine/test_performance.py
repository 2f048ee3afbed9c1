"""The Performance tab's cells: layout, money and percent as the trader reads them, TOTAL, breakdown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from novalgo.broker.base import Fill
from novalgo.domain.fifo import match_fifo
from novalgo.engine.performance import money, percent, performance_cells, pnl_numbers, trades_by_row
from novalgo.sheet.layout import BREAKDOWN_HEADERS, PERFORMANCE_HEADERS

T0 = datetime(2025, 10, 10, 22, 30, tzinfo=timezone.utc)  # 15:30 in Los Angeles (PDT)
PACIFIC = ZoneInfo("America/Los_Angeles")


def fill(minute: int, symbol: str, side: str, qty: str, price: str, row: str) -> Fill:
    return Fill(T0 + timedelta(minutes=minute), symbol, side, D(qty), D(price), f"o{minute}", row)


@pytest.mark.parametrize("value, text", [
    (D("250.5"), "$250.50"), (D("-12.3"), "-$12.30"), (D("0"), "$0.00"), (D("1234567.891"), "$1234567.89"),
    (D("0.005"), "$0.01"), (D("-0.004"), "$0.00"), (None, "—"),
])
def test_money_reads_like_a_statement(value, text):
    assert money(value) == text


@pytest.mark.parametrize("value, text", [(D("55.55"), "55.6%"), (D(100), "100.0%"), (D(0), "0.0%"),
                                         (D(200) / 3, "66.7%"), (None, "—")])
def test_percent_has_one_decimal(value, text):
    assert percent(value) == text


def scenario():
    """AAPL: a 15 Min winner, a 1 Hour loser and a manual break-even; TSLA: a 5 Min short; HOOD only open."""
    fills = [
        fill(0, "AAPL", "buy", "10", "100", "15 Min"), fill(1, "AAPL", "sell", "10", "125.05", "15 Min"),
        fill(2, "AAPL", "buy", "2", "100", "1 Hour"), fill(3, "AAPL", "sell", "2", "93.85", "1 Hour"),
        fill(4, "AAPL", "buy", "1", "50", "manual"), fill(5, "AAPL", "sell", "1", "50", "manual"),
        fill(6, "TSLA", "sell", "3", "250", "5 Min"), fill(7, "TSLA", "buy", "3", "240", "5 Min"),
        fill(8, "HOOD", "buy", "7", "40", "45 Min"),
    ]
    by_symbol = match_fifo(fills, tag=lambda f: f"{f.symbol} {f.client_order_id}")
    return by_symbol, trades_by_row(by_symbol.values())


def test_one_row_per_symbol_then_total_then_the_breakdown():
    by_symbol, by_row = scenario()
    cells = performance_cells(by_symbol, by_row, T0, PACIFIC)
    stamp = "2025-10-10 15:30:00 PDT"
    assert cells[0] == list(PERFORMANCE_HEADERS)
    assert cells[1:5] == [
        ["AAPL", "3", "1", "1", "33.3%", "$238.20", "$79.40", "$250.50", "-$12.30", stamp],
        ["HOOD", "0", "0", "0", "—", "$0.00", "—", "—", "—", stamp],
        ["TSLA", "1", "1", "0", "100.0%", "$30.00", "$30.00", "$30.00", "$30.00", stamp],
        ["TOTAL", "4", "2", "1", "50.0%", "$268.20", "$67.05", "$250.50", "-$12.30", stamp],
    ]
    assert cells[5] == [""] * len(PERFORMANCE_HEADERS)
    assert cells[6] == list(BREAKDOWN_HEADERS)
    # Within a symbol: shorter charts first, fills we did not place last.
    assert cells[7:] == [
        ["AAPL", "15 Min", "1", "1", "0", "100.0%", "$250.50", "$250.50", "$250.50", "$250.50"],
        ["AAPL", "1 Hour", "1", "0", "1", "0.0%", "-$12.30", "-$12.30", "-$12.30", "-$12.30"],
        ["AAPL", "manual", "1", "0", "0", "0.0%", "$0.00", "$0.00", "$0.00", "$0.00"],
        ["TSLA", "5 Min", "1", "1", "0", "100.0%", "$30.00", "$30.00", "$30.00", "$30.00"],
    ]
    assert len({len(row) for row in cells}) == 1, "a rectangle: every row as wide as the header"


def test_breakdown_adds_up_to_the_symbol_rows():
    by_symbol, by_row = scenario()
    for symbol, result in by_symbol.items():
        parts = [r for (s, _), r in by_row.items() if s == symbol]
        assert sum((r.total_pnl for r in parts), D(0)) == result.total_pnl
        assert sum(r.total_trades for r in parts) == result.total_trades


def test_no_fills_still_gives_header_total_and_breakdown_header():
    cells = performance_cells({}, {}, T0, timezone.utc)
    assert cells == [list(PERFORMANCE_HEADERS), ["TOTAL", "0", "0", "0", "—", "$0.00", "—", "—", "—", "2025-10-10 22:30:00 UTC"],
                     [""] * len(PERFORMANCE_HEADERS), list(BREAKDOWN_HEADERS)]


def test_numbers_for_json_are_exact_strings():
    by_symbol, _ = scenario()
    assert pnl_numbers(by_symbol["AAPL"]) == {
        "total_trades": 3, "winning_trades": 1, "losing_trades": 1, "win_rate": "33.33", "total_pnl": "238.20",
        "avg_pnl_per_trade": "79.40", "best_trade": "250.50", "worst_trade": "-12.30", "open_qty": "0",
        "avg_cost": "0"}
    assert pnl_numbers(by_symbol["HOOD"])["open_qty"] == "7"
