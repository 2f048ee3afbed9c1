"""FIFO P&L, worked by hand: what a trader would check with a calculator."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from novalgo.broker.base import Fill
from novalgo.domain.fifo import LONG, SHORT, match_fifo, total

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=timezone.utc)


def fill(minute: int, side: str, qty: str, price: str, order: str | None = None, symbol: str = "AAPL",
         client: str | None = None) -> Fill:
    return Fill(T0 + timedelta(minutes=minute), symbol, side, D(qty), D(price), order or f"o{minute}", client)


def test_simple_round_trip_is_one_winning_long():
    aapl = match_fifo([fill(0, "buy", "10", "100"), fill(5, "sell", "10", "110")])["AAPL"]
    [trade] = aapl.trades
    assert (trade.side, trade.qty, trade.entry_price, trade.exit_price, trade.pnl) == (LONG, 10, 100, 110, 100)
    assert (trade.opened_at, trade.closed_at, trade.order_id) == (T0, T0 + timedelta(minutes=5), "o5")
    assert (aapl.total_trades, aapl.winning_trades, aapl.losing_trades) == (1, 1, 0)
    assert aapl.win_rate == 100 and aapl.total_pnl == 100 and aapl.avg_pnl_per_trade == 100
    assert (aapl.open_qty, aapl.avg_cost) == (0, 0)


def test_partial_fills_of_one_order_are_one_trade():
    aapl = match_fifo([
        fill(0, "buy", "6", "100", "b1"), fill(1, "buy", "4", "105", "b1"),  # one buy order, two fills
        fill(2, "sell", "4", "110", "s1"), fill(3, "sell", "6", "111", "s1"),  # one sell order, two fills
    ])["AAPL"]
    [trade] = aapl.trades
    assert trade.qty == 10
    assert trade.entry_price == D("102")  # (6×100 + 4×105) / 10
    assert trade.exit_price == D("110.6")  # (4×110 + 6×111) / 10
    assert trade.pnl == D("86")  # 1106 − 1020
    assert trade.closed_at == T0 + timedelta(minutes=3)


def test_oldest_lot_is_closed_first():
    aapl = match_fifo([fill(0, "buy", "1", "100"), fill(1, "buy", "1", "200"), fill(2, "sell", "1", "150")])["AAPL"]
    assert aapl.trades[0].pnl == 50  # against the 100 lot, not the 200 one
    assert (aapl.open_qty, aapl.avg_cost) == (1, 200)


def test_short_then_cover():
    aapl = match_fifo([fill(0, "sell", "5", "50"), fill(1, "buy", "5", "45")])["AAPL"]
    [trade] = aapl.trades
    assert (trade.side, trade.entry_price, trade.exit_price, trade.pnl) == (SHORT, 50, 45, 25)
    assert aapl.open_qty == 0


def test_flip_long_10_sell_15_closes_10_and_opens_short_5():
    aapl = match_fifo([fill(0, "buy", "10", "100"), fill(1, "sell", "15", "110")])["AAPL"]
    [trade] = aapl.trades
    assert (trade.side, trade.qty, trade.pnl) == (LONG, 10, 100)
    assert (aapl.open_qty, aapl.avg_cost, aapl.open_cost) == (-5, 110, -550)

    later = match_fifo([fill(0, "buy", "10", "100"), fill(1, "sell", "15", "110"), fill(2, "buy", "5", "120")])["AAPL"]
    assert [(t.side, t.qty, t.pnl) for t in later.trades] == [(LONG, 10, 100), (SHORT, 5, -50)]
    assert later.trades[1].opened_at == T0 + timedelta(minutes=1)
    assert later.open_qty == 0


def test_fractional_quantities():
    aapl = match_fifo([fill(0, "buy", "0.5", "200"), fill(1, "buy", "0.25", "220"), fill(2, "sell", "0.6", "210")])["AAPL"]
    [trade] = aapl.trades
    assert trade.qty == D("0.6")
    assert trade.pnl == D("4")  # 126 − (0.5×200 + 0.1×220)
    assert (aapl.open_qty, aapl.avg_cost) == (D("0.15"), 220)


def test_interleaved_symbols_keep_their_own_lots_and_orders():
    results = match_fifo([
        fill(0, "buy", "10", "100", symbol="AAPL"),
        fill(1, "sell", "3", "200", symbol="TSLA"),
        fill(2, "sell", "4", "101", "s1", symbol="AAPL"),
        fill(3, "buy", "3", "190", symbol="TSLA"),
        fill(4, "sell", "6", "102", "s1", symbol="AAPL"),  # same order as minute 2: still one trade
    ])
    assert set(results) == {"AAPL", "TSLA"}
    assert [(t.order_id, t.qty, t.pnl) for t in results["AAPL"].trades] == [("s1", 10, 16)]
    assert [(t.side, t.pnl) for t in results["TSLA"].trades] == [(SHORT, 30)]


def test_break_even_trade_is_neither_win_nor_loss():
    aapl = match_fifo([
        fill(0, "buy", "10", "100"), fill(1, "sell", "10", "100"),
        fill(2, "buy", "1", "100"), fill(3, "sell", "1", "90"),
    ])["AAPL"]
    assert (aapl.total_trades, aapl.winning_trades, aapl.losing_trades) == (2, 0, 1)
    assert aapl.win_rate == 0
    assert (aapl.best_trade, aapl.worst_trade) == (0, -10)


def test_only_open_lots_means_no_trades_and_undefined_rates():
    aapl = match_fifo([fill(0, "buy", "2", "100"), fill(1, "buy", "2", "110")])["AAPL"]
    assert aapl.total_trades == 0
    assert (aapl.win_rate, aapl.avg_pnl_per_trade, aapl.best_trade, aapl.worst_trade) == (None, None, None, None)
    assert (aapl.total_pnl, aapl.open_qty, aapl.avg_cost) == (0, 4, 105)


def test_win_rate_is_a_percent_of_closed_trades():
    aapl = match_fifo([
        fill(0, "buy", "3", "100"),
        fill(1, "sell", "1", "110"), fill(2, "sell", "1", "90"), fill(3, "sell", "1", "101"),
    ])["AAPL"]
    assert aapl.total_trades == 3 and aapl.winning_trades == 2
    assert round(aapl.win_rate, 2) == D("66.67")
    assert aapl.best.order_id == "o1" and aapl.worst.order_id == "o2"


def test_total_row_adds_up_every_symbol():
    results = match_fifo([
        fill(0, "buy", "1", "100", symbol="AAPL"), fill(1, "sell", "1", "150", symbol="AAPL"),
        fill(2, "sell", "2", "10", symbol="F"), fill(3, "buy", "1", "12", symbol="F"),
    ])
    row = total(results.values())
    assert row.symbol == "TOTAL"
    assert (row.total_trades, row.winning_trades, row.losing_trades, row.total_pnl) == (2, 1, 1, 48)
    assert (row.best_trade, row.worst_trade, row.avg_pnl_per_trade) == (50, -2, 24)
    assert (row.open_qty, row.open_cost) == (-1, -10)


def test_key_groups_by_row_and_tag_labels_trades():
    fills = [
        fill(0, "buy", "1", "100", client="15"), fill(1, "buy", "1", "200", client="30"),
        fill(2, "sell", "1", "210", client="30"),
    ]
    by_row = match_fifo(fills, key=lambda f: (f.symbol, f.client_order_id))
    assert by_row[("AAPL", "30")].trades[0].pnl == 10  # the 30 row's own lot, not the older one
    assert by_row[("AAPL", "15")].open_qty == 1
    by_symbol = match_fifo(fills, tag=lambda f: f"{f.symbol} {f.client_order_id}")
    assert [(t.tag, t.pnl) for t in by_symbol["AAPL"].trades] == [("AAPL 30", 110)]


def test_fills_out_of_order_are_sorted_by_time():
    aapl = match_fifo([fill(5, "sell", "1", "110"), fill(0, "buy", "1", "100")])["AAPL"]
    assert [(t.side, t.pnl) for t in aapl.trades] == [(LONG, 10)]


def test_alpacas_sell_short_is_a_sell():
    aapl = match_fifo([fill(0, "sell_short", "5", "50"), fill(1, "BUY", "5", "45")])["AAPL"]
    assert [(t.side, t.pnl) for t in aapl.trades] == [(SHORT, 25)]


@pytest.mark.parametrize("bad", [fill(0, "hold", "1", "1"), fill(0, "buy", "0", "1")])
def test_a_fill_without_a_side_or_size_is_refused(bad):
    with pytest.raises(ValueError):
        match_fifo([bad])


# -- Alpaca's labels: "sell" closes longs, "sell_short" opens shorts -------------------------


def alpaca(*fills: Fill):
    return match_fifo(fills, alpaca_sides=True)["AAPL"]


def test_alpacas_sell_then_sell_short_close_the_long_then_open_a_short():
    # Alpaca will not take a position across zero in one order: the flip is two orders.
    aapl = alpaca(fill(0, "buy", "10", "100"), fill(1, "sell", "10", "110"), fill(2, "sell_short", "5", "110"),
                  fill(3, "buy", "5", "100"))
    assert [(t.side, t.qty, t.pnl) for t in aapl.trades] == [(LONG, 10, 100), (SHORT, 5, 50)]
    assert (aapl.open_qty, aapl.unmatched_qty) == (0, 0)


def test_a_sell_with_no_long_we_saw_bought_is_no_short_and_no_trade():
    # The buy happened before the fills we have: Alpaca says "sell", so it closed a long.
    aapl = alpaca(fill(0, "sell", "10", "110"))
    assert (aapl.trades, aapl.open_qty, aapl.unmatched_qty) == ([], 0, 10)


def test_a_sell_bigger_than_the_long_we_saw_closes_what_we_saw_and_opens_no_short():
    aapl = alpaca(fill(0, "buy", "4", "100"), fill(1, "sell", "10", "110"))
    assert [(t.side, t.qty, t.pnl) for t in aapl.trades] == [(LONG, 4, 40)]
    assert (aapl.open_qty, aapl.unmatched_qty) == (0, 6)


def test_a_sell_short_while_we_think_a_long_is_open_opens_a_short_and_closes_nothing():
    # A sell_short means Alpaca saw no long (it was moved out another way): the long lots are
    # not there, so they make no trade; the short is opened at the sale's price.
    aapl = alpaca(fill(0, "buy", "10", "100"), fill(1, "sell_short", "5", "90"), fill(2, "buy", "5", "80"))
    assert [(t.side, t.qty, t.entry_price, t.pnl) for t in aapl.trades] == [(SHORT, 5, 90, 50)]
    assert (aapl.open_qty, aapl.unmatched_qty) == (0, 10)


def test_without_alpacas_labels_a_sell_short_is_a_plain_sell():
    fills = [fill(0, "buy", "10", "100"), fill(1, "sell_short", "5", "90")]
    assert [t.pnl for t in match_fifo(fills)["AAPL"].trades] == [-50]


def test_the_total_row_counts_unmatched_quantity():
    results = match_fifo([fill(0, "sell", "3", "10"), fill(1, "sell", "2", "10", symbol="MSFT")], alpaca_sides=True)
    assert total(results.values()).unmatched_qty == 5
