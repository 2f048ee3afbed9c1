"""Realised P&L by FIFO: the one implementation the sheet, the CLI and the analytics share.

Per key (a symbol, or whatever the caller groups by), fills open lots; a fill the other way
closes the oldest lots first and any remainder opens the other side (long 10, sell 15 → 10
closed, short 5 open). A *closed trade* is the closing part of one order (its consecutive
fills). Each key keeps a deque of lots, so the work is linear in the number of fills.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable, Hashable, Iterable

from novalgo.broker.base import Fill

ZERO = Decimal(0)
HUNDRED = Decimal(100)
LONG = "long"
SHORT = "short"
TOTAL = "TOTAL"

# What the matching loop reads: (key, symbol, time, is_buy, qty, price, order_id, tag).
# Callers with their own input (the CSV reader) build these directly and skip Fill objects.
FillRow = tuple[Hashable, str, datetime, bool, Decimal, Decimal, str, "str | None"]


@dataclass(frozen=True)
class ClosedTrade:
    """The closing part of one order (all its fills), against the oldest lots it consumed."""

    symbol: str
    order_id: str
    side: str  # "long" or "short": the side that was closed
    qty: Decimal
    entry_price: Decimal  # qty-weighted average entry of the lots consumed
    exit_price: Decimal  # qty-weighted average of the closing fills
    pnl: Decimal
    opened_at: datetime  # when the oldest lot consumed was opened
    closed_at: datetime  # the last closing fill
    tag: str | None = None  # e.g. the "SYMBOL TIMEFRAME" row whose order closed it


@dataclass
class SymbolPnl:
    """Closed trades and the open position of one key (usually a symbol)."""

    symbol: str
    trades: list[ClosedTrade]
    open_qty: Decimal  # signed, negative = short
    avg_cost: Decimal  # average entry of the open lots, 0 if flat
    # Exact cost of the open lots, signed like open_qty, so realised P&L − open_cost is the net
    # cash flow to the cent (avg_cost is a rounded division and cannot promise that).
    open_cost: Decimal = ZERO

    @property
    def total_trades(self) -> int:
        return len(self.trades)

    @property
    def winning_trades(self) -> int:
        return sum(1 for t in self.trades if t.pnl > 0)

    @property
    def losing_trades(self) -> int:
        return sum(1 for t in self.trades if t.pnl < 0)

    @property
    def win_rate(self) -> Decimal | None:
        """Winning trades as a percent of all closed trades; None with no trades."""
        if not self.trades:
            return None
        return Decimal(self.winning_trades) * HUNDRED / len(self.trades)

    @property
    def total_pnl(self) -> Decimal:
        return sum((t.pnl for t in self.trades), ZERO)

    @property
    def avg_pnl_per_trade(self) -> Decimal | None:
        return self.total_pnl / len(self.trades) if self.trades else None

    @property
    def best(self) -> ClosedTrade | None:
        """The closed trade with the highest P&L (the first of equals)."""
        return max(self.trades, key=_pnl_of, default=None)

    @property
    def worst(self) -> ClosedTrade | None:
        return min(self.trades, key=_pnl_of, default=None)

    @property
    def best_trade(self) -> Decimal | None:
        """P&L of the best closed trade; None with no trades."""
        best = self.best
        return best.pnl if best is not None else None

    @property
    def worst_trade(self) -> Decimal | None:
        worst = self.worst
        return worst.pnl if worst is not None else None


def _pnl_of(trade: ClosedTrade) -> Decimal:
    return trade.pnl


def match_fifo(
    fills: Iterable[Fill],
    key: Callable[[Fill], Hashable] = lambda f: f.symbol,
    tag: Callable[[Fill], str | None] | None = None,
) -> dict[Hashable, SymbolPnl]:
    """Match fills FIFO per ``key`` (the symbol by default); ``tag`` labels each closed trade
    from its closing fill. Fills are taken in time order (stably sorted if they are not)."""
    ordered = in_time_order(list(fills), lambda f: f.time)
    return match_fifo_rows(
        (key(f), f.symbol, f.time, _is_buy(f.side), _positive(f.qty), f.price, f.order_id, tag(f) if tag else None)
        for f in ordered
    )


def in_time_order(items: list, time_of: Callable) -> list:
    """The items sorted stably by time; the same list when already in order (the usual case)."""
    times = [time_of(item) for item in items]
    if all(a <= b for a, b in zip(times, times[1:])):
        return items
    return [item for _, item in sorted(zip(times, items), key=lambda pair: pair[0])]


def match_fifo_rows(rows: Iterable[FillRow]) -> dict[Hashable, SymbolPnl]:
    """The matching loop over plain tuples, already in time order (see ``FillRow``)."""
    books: dict[Hashable, _Book] = {}
    for k, symbol, time, is_buy, qty, price, order_id, tag in rows:
        book = books.get(k)
        if book is None:
            book = books[k] = _Book(symbol)
        lots = book.lots
        if not lots or book.is_long == is_buy:
            # Opening (or adding to) a position: the common case, kept short.
            if book.pending is not None and book.pending.order_id != order_id:
                book.finish_pending()
            lots.append([qty, price, time])
            book.is_long = is_buy
            continue
        book.close(time, qty, price, order_id, tag, is_buy)
    return {k: book.result() for k, book in books.items()}


def total(results: Iterable[SymbolPnl]) -> SymbolPnl:
    """The TOTAL row: every closed trade; open quantity and cost summed (avg_cost is 0, since
    an average price across symbols means nothing)."""
    trades: list[ClosedTrade] = []
    open_qty = open_cost = ZERO
    for result in results:
        trades.extend(result.trades)
        open_qty += result.open_qty
        open_cost += result.open_cost
    return SymbolPnl(TOTAL, trades, open_qty, ZERO, open_cost)


def _is_buy(side: str) -> bool:
    side = side.lower()
    if side not in ("buy", "sell"):
        raise ValueError(f"a fill's side must be buy or sell, not {side!r}")
    return side == "buy"


def _positive(qty: Decimal) -> Decimal:
    # A zero fill would make a trade of no size (and a division by zero in its average).
    if not qty > 0:
        raise ValueError(f"a fill's qty must be positive, not {qty}")
    return qty


class _PendingTrade:
    """The closing part of an order still being filled: its sums, until the order changes."""

    __slots__ = ("order_id", "side", "tag", "qty", "entry_cost", "exit_value", "opened_at", "closed_at")

    def __init__(self, order_id: str, side: str, tag: str | None, opened_at: datetime):
        self.order_id = order_id
        self.side = side
        self.tag = tag
        self.qty = self.entry_cost = self.exit_value = ZERO
        self.opened_at = opened_at
        self.closed_at = opened_at


class _Book:
    """One key's open lots ([qty, price, opened_at], oldest first) and closed trades."""

    __slots__ = ("symbol", "lots", "is_long", "trades", "pending")

    def __init__(self, symbol: str):
        self.symbol = symbol
        self.lots: deque[list] = deque()
        self.is_long = True
        self.trades: list[ClosedTrade] = []
        self.pending: _PendingTrade | None = None

    def close(self, time: datetime, qty: Decimal, price: Decimal, order_id: str, tag: str | None,
              is_buy: bool) -> None:
        """Close the oldest lots with this fill; what is left opens the other side."""
        side = LONG if self.is_long else SHORT
        pending = self.pending
        if pending is None or pending.order_id != order_id or pending.side != side:
            self.finish_pending()
            pending = self.pending = _PendingTrade(order_id, side, tag, self.lots[0][2])
        lots = self.lots
        remaining = qty
        closed = cost = ZERO
        while remaining and lots:
            lot = lots[0]
            lot_qty = lot[0]
            if lot_qty <= remaining:
                lots.popleft()
                take = lot_qty
            else:
                lot[0] = lot_qty - remaining
                take = remaining
            cost += take * lot[1]
            closed += take
            remaining -= take
        pending.qty += closed
        pending.entry_cost += cost
        pending.exit_value += closed * price
        pending.closed_at = time
        if remaining:
            lots.append([remaining, price, time])
            self.is_long = is_buy

    def finish_pending(self) -> None:
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        qty = pending.qty
        gain = pending.exit_value - pending.entry_cost
        self.trades.append(ClosedTrade(
            symbol=self.symbol,
            order_id=pending.order_id,
            side=pending.side,
            qty=qty,
            entry_price=pending.entry_cost / qty,
            exit_price=pending.exit_value / qty,
            pnl=gain if pending.side == LONG else -gain,
            opened_at=pending.opened_at,
            closed_at=pending.closed_at,
            tag=pending.tag,
        ))

    def result(self) -> SymbolPnl:
        self.finish_pending()
        open_qty = sum((lot[0] for lot in self.lots), ZERO)
        open_cost = sum((lot[0] * lot[1] for lot in self.lots), ZERO)
        avg_cost = open_cost / open_qty if open_qty else ZERO
        if not self.is_long:
            open_qty, open_cost = -open_qty, -open_cost
        return SymbolPnl(self.symbol, self.trades, open_qty, avg_cost, open_cost)


__all__ = (
    "ClosedTrade", "SymbolPnl", "FillRow", "match_fifo", "match_fifo_rows", "total", "in_time_order", "LONG",
    "SHORT", "TOTAL",
)
