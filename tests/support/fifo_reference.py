"""An independent FIFO for the tests to check the real matchers against: plain lists, no shortcuts."""

from __future__ import annotations

from decimal import Decimal

from novalgo.broker.base import Fill


def brute_force(fills: list[Fill]) -> dict[str, tuple[Decimal, list[Decimal], Decimal, Decimal]]:
    """An independent FIFO: signed lots in a plain list, realised P&L per fill, grouped per order.

    Returns per symbol (realised P&L, P&L of each closed trade, open qty, open cost), all signed.
    """
    books: dict[str, list[list[Decimal]]] = {}
    trades: dict[str, list[Decimal]] = {}
    last_order: dict[str, str] = {}  # the order of the symbol's previous fill
    trade_order: dict[str, str | None] = {}  # the order whose trade is still collecting fills
    for f in fills:
        lots = books.setdefault(f.symbol, [])
        if last_order.get(f.symbol) != f.order_id:
            trade_order[f.symbol] = None
        last_order[f.symbol] = f.order_id
        signed = f.qty if f.side == "buy" else -f.qty
        realised = None
        # Close against the oldest lot pointing the other way, one lot at a time.
        while signed and lots and (lots[0][0] > 0) != (signed > 0):
            lot_qty, lot_price = lots[0]
            take = min(abs(lot_qty), abs(signed))
            direction = 1 if lot_qty > 0 else -1
            realised = (realised or Decimal(0)) + direction * take * (f.price - lot_price)
            lots[0][0] -= direction * take
            signed += direction * take
            if lots[0][0] == 0:
                lots.pop(0)
        if signed:
            lots.append([signed, f.price])
        if realised is not None:
            history = trades.setdefault(f.symbol, [])
            if trade_order.get(f.symbol) == f.order_id:
                history[-1] += realised
            else:
                history.append(realised)
                trade_order[f.symbol] = f.order_id
    out = {}
    for symbol, lots in books.items():
        per_trade = trades.get(symbol, [])
        out[symbol] = (sum(per_trade, Decimal(0)), per_trade, sum((q for q, _ in lots), Decimal(0)),
                       sum((q * p for q, p in lots), Decimal(0)))
    return out
