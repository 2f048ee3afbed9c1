"""FIFO P&L on random long/short data: cash reconciles, and a brute-force FIFO agrees."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from novalgo.broker.base import Fill
from novalgo.domain.fifo import match_fifo, total
from tests.support.fifo_reference import brute_force

T0 = datetime(2025, 1, 6, 14, 30, tzinfo=timezone.utc)
CENT = Decimal("0.01")

quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("50"), places=3)
prices = st.decimals(min_value=Decimal("0.50"), max_value=Decimal("900"), places=2)
steps = st.tuples(st.sampled_from("ABC"), st.booleans(), quantities, prices, st.booleans())


@st.composite
def fill_streams(draw) -> list[Fill]:
    """Fills on three symbols; about half continue the symbol's previous order (partial fills)."""
    fills: list[Fill] = []
    last: dict[str, tuple[str, str]] = {}
    for n, (symbol, is_buy, qty, price, same_order) in enumerate(draw(st.lists(steps, max_size=60))):
        side = "buy" if is_buy else "sell"
        if same_order and symbol in last:
            order, side = last[symbol]
        else:
            order = f"{symbol}-{n}"
        last[symbol] = (order, side)
        fills.append(Fill(T0 + timedelta(seconds=n), symbol, side, qty, price, order))
    return fills


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


@settings(max_examples=200, deadline=None)
@given(fill_streams())
def test_realised_pnl_minus_open_cost_is_the_net_cash_flow(fills):
    results = match_fifo(fills)
    for symbol, result in results.items():
        cash = sum((f.qty * f.price * (1 if f.side == "sell" else -1) for f in fills if f.symbol == symbol), Decimal(0))
        assert cents(result.total_pnl - result.open_cost) == cents(cash)
        assert result.open_qty == sum((f.qty if f.side == "buy" else -f.qty for f in fills if f.symbol == symbol), Decimal(0))
    everything = total(results.values())
    cash = sum((f.qty * f.price * (1 if f.side == "sell" else -1) for f in fills), Decimal(0))
    assert cents(everything.total_pnl - everything.open_cost) == cents(cash)


@settings(max_examples=200, deadline=None)
@given(fill_streams())
def test_agrees_with_a_brute_force_fifo_to_the_cent(fills):
    results = match_fifo(fills)
    expected = brute_force(fills)
    assert set(results) == set(expected)
    for symbol, (realised, per_trade, open_qty, open_cost) in expected.items():
        got = results[symbol]
        assert cents(got.total_pnl) == cents(realised)
        assert [cents(t.pnl) for t in got.trades] == [cents(p) for p in per_trade]
        assert (got.open_qty, cents(got.open_cost)) == (open_qty, cents(open_cost))
        assert got.winning_trades == sum(1 for p in per_trade if p > 0)
        assert got.losing_trades == sum(1 for p in per_trade if p < 0)


@settings(max_examples=100, deadline=None)
@given(fill_streams())
def test_each_trade_closes_no_more_than_was_open_and_prices_explain_its_pnl(fills):
    for result in match_fifo(fills).values():
        for trade in result.trades:
            assert trade.qty > 0 and trade.opened_at <= trade.closed_at
            direction = 1 if trade.side == "long" else -1
            assert cents(direction * trade.qty * (trade.exit_price - trade.entry_price)) == cents(trade.pnl)
