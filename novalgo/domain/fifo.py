"""Realised P&L by FIFO: the one implementation the sheet, the CLI and the analytics share.

Per key (a symbol, or whatever the caller groups by), fills open lots; a fill the other way
closes the oldest lots first and any remainder opens the other side (long 10, sell 15 → 10
closed, short 5 open). A *closed trade* is the closing part of one order (its consecutive
fills). Each key keeps a deque of lots, so the work is linear in the number of fills.

Alpaca labels its sells, and its labels say more than the direction (``alpaca_sides``): a
``sell`` closes longs and never opens a short, a ``sell_short`` opens or adds to a short and
never closes a long. Where the lots disagree with the label, something moved the position
outside the fills seen (a transfer, a split, fills before the history): that quantity is left
out of the trades and counted in ``unmatched_qty`` instead of being taken for a trade.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable, Hashable, Iterable

from novalgo.domain.money import HUNDRED, ZERO

LONG = "long"
SHORT = "short"
TOTAL = "TOTAL"

# A sell's intent, as Alpaca's label says it (None: a plain sell, which closes then opens).
CLOSE_LONG = "close_long"  # Alpaca's "sell"
OPEN_SHORT = "open_short"  # Alpaca's "sell_short"

# What the matching loop reads: (key, symbol, time, is_buy, qty, price, order_id, tag, intent).
# Callers with their own input (the CSV reader) build these directly and skip Fill objects.
FillRow = tuple[Hashable, str, datetime, bool, Decimal, Decimal, str, "str | None", "str | None"]


@dataclass(frozen=True)
class Fill:
    """One execution as the broker reports it."""

    time: datetime  # timezone-aware
    symbol: str
    side: str  # buy | sell
    qty: Decimal
    price: Decimal
    order_id: str  # the broker's order id: fills sharing it are one order
    client_order_id: str | None = None
    activity_id: str = ""  # the broker's id of this execution (Alpaca's FILL activity id)


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
    # Quantity the broker's labels say was opened or closed outside these fills (see the module
    # docstring): in no trade and not open, so a gap in the history cannot invent a trade.
    unmatched_qty: Decimal = ZERO

    def tally(self) -> "PnlTally":
        """Every figure of the row in one pass over the trades (what the sheet and JSON show)."""
        wins = losses = 0
        pnl_sum = ZERO
        best = worst = None
        for trade in self.trades:
            pnl = trade.pnl
            pnl_sum += pnl
            if pnl > 0:
                wins += 1
            elif pnl < 0:
                losses += 1
            if best is None or pnl > best.pnl:
                best = trade
            if worst is None or pnl < worst.pnl:
                worst = trade
        return PnlTally(len(self.trades), wins, losses, pnl_sum, best, worst)

    @property
    def total_trades(self) -> int:
        return len(self.trades)

    @property
    def winning_trades(self) -> int:
        return self.tally().winning_trades

    @property
    def losing_trades(self) -> int:
        return self.tally().losing_trades

    @property
    def win_rate(self) -> Decimal | None:
        """Winning trades as a percent of all closed trades; None with no trades."""
        return self.tally().win_rate

    @property
    def total_pnl(self) -> Decimal:
        return self.tally().total_pnl

    @property
    def avg_pnl_per_trade(self) -> Decimal | None:
        return self.tally().avg_pnl_per_trade

    @property
    def best(self) -> ClosedTrade | None:
        """The closed trade with the highest P&L (the first of equals)."""
        return self.tally().best

    @property
    def worst(self) -> ClosedTrade | None:
        return self.tally().worst

    @property
    def best_trade(self) -> Decimal | None:
        """P&L of the best closed trade; None with no trades."""
        return self.tally().best_trade

    @property
    def worst_trade(self) -> Decimal | None:
        return self.tally().worst_trade


class TradeRates:
    """Win rate and average from a tally's counts (shared by the exact and the fast matcher)."""

    total_trades: int
    winning_trades: int
    total_pnl: Decimal

    @property
    def win_rate(self) -> Decimal | None:
        if not self.total_trades:
            return None
        return Decimal(self.winning_trades) * HUNDRED / self.total_trades

    @property
    def avg_pnl_per_trade(self) -> Decimal | None:
        return self.total_pnl / self.total_trades if self.total_trades else None


@dataclass(frozen=True)
class PnlTally(TradeRates):
    """The counted figures of a row of closed trades."""

    total_trades: int
    winning_trades: int  # P&L > 0; a break-even trade is neither a win nor a loss
    losing_trades: int
    total_pnl: Decimal
    best: ClosedTrade | None
    worst: ClosedTrade | None


    @property
    def best_trade(self) -> Decimal | None:
        return self.best.pnl if self.best is not None else None

    @property
    def worst_trade(self) -> Decimal | None:
        return self.worst.pnl if self.worst is not None else None


def match_fifo(
    fills: Iterable[Fill],
    key: Callable[[Fill], Hashable] = lambda f: f.symbol,
    tag: Callable[[Fill], str | None] | None = None,
    alpaca_sides: bool = False,
) -> dict[Hashable, SymbolPnl]:
    """Match fills FIFO per ``key`` (the symbol by default); ``tag`` labels each closed trade
    from its closing fill. Fills are taken in time order (stably sorted if they are not).
    ``alpaca_sides``: the sells carry Alpaca's labels and are matched as they say (see above)."""
    ordered = in_time_order(list(fills), lambda f: f.time)
    return match_fifo_rows(
        (key(f), f.symbol, f.time, _is_buy(f.side), _positive(f.qty), f.price, f.order_id, tag(f) if tag else None,
         _intent(f.side) if alpaca_sides else None)
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
    # Keys are independent, so each key's fills are matched on their own, with locals only.
    by_key: dict[Hashable, list[FillRow]] = {}
    for row in rows:
        group = by_key.get(row[0])
        if group is None:
            by_key[row[0]] = [row]
        else:
            group.append(row)
    return {k: _match_one(group[0][1], group) for k, group in by_key.items()}


def _match_one(symbol: str, rows: list[FillRow]) -> SymbolPnl:
    """FIFO over one key's fills: a deque of open lots [qty, price, opened_at], oldest first."""
    lots: deque[list] = deque()
    is_long = True  # the side of the open lots (meaningless while there are none)
    trades: list[ClosedTrade] = []
    unmatched = ZERO
    # The trade being closed by the current order, summed until another order comes along.
    order = side = tag = opened_at = closed_at = None
    closed_qty = entry_cost = exit_value = ZERO
    for _, _, time, is_buy, qty, price, order_id, fill_tag, intent in rows:
        if order is not None and order_id != order:
            trades.append(_trade(symbol, order, side, tag, closed_qty, entry_cost, exit_value, opened_at, closed_at))
            order = None
        if intent is not None:
            # A labelled sell: lots on the side the label says is not there were moved outside
            # these fills (a sell_short means no long was held; a sell means no short was).
            if lots and is_long == (intent == OPEN_SHORT):
                unmatched += sum((lot[0] for lot in lots), ZERO)
                lots.clear()
            if intent == CLOSE_LONG and not lots:
                unmatched += qty  # closes a long bought outside these fills: its entry is unknown
                continue
        if not lots or is_long == is_buy:
            lots.append([qty, price, time])  # opening or adding: the common case, kept short
            is_long = is_buy
            continue
        if order is None or side != (LONG if is_long else SHORT):
            if order is not None:  # one order id that closed both sides: two trades
                trades.append(_trade(symbol, order, side, tag, closed_qty, entry_cost, exit_value, opened_at,
                                     closed_at))
            order, side, tag, opened_at = order_id, LONG if is_long else SHORT, fill_tag, lots[0][2]
            closed_qty = entry_cost = exit_value = ZERO
        remaining = qty
        while remaining and lots:
            lot = lots[0]
            lot_qty = lot[0]
            if lot_qty <= remaining:
                lots.popleft()
                take = lot_qty
            else:
                lot[0] = lot_qty - remaining
                take = remaining
            entry_cost += take * lot[1]
            remaining -= take
        closed_qty += qty - remaining
        exit_value += (qty - remaining) * price
        closed_at = time
        if remaining and intent == CLOSE_LONG:
            unmatched += remaining  # Alpaca's sell never opens a short: more was held than we saw
        elif remaining:  # the fill was bigger than the position: the rest opens the other side
            lots.append([remaining, price, time])
            is_long = is_buy
    if order is not None:
        trades.append(_trade(symbol, order, side, tag, closed_qty, entry_cost, exit_value, opened_at, closed_at))
    open_qty = sum((lot[0] for lot in lots), ZERO)
    open_cost = sum((lot[0] * lot[1] for lot in lots), ZERO)
    avg_cost = open_cost / open_qty if open_qty else ZERO
    if not is_long:
        open_qty, open_cost = -open_qty, -open_cost
    return SymbolPnl(symbol, trades, open_qty, avg_cost, open_cost, unmatched)


def _trade(symbol: str, order_id: str, side: str, tag: str | None, qty: Decimal, entry_cost: Decimal,
           exit_value: Decimal, opened_at: datetime, closed_at: datetime) -> ClosedTrade:
    gain = exit_value - entry_cost
    return ClosedTrade(symbol, order_id, side, qty, entry_cost / qty, exit_value / qty,
                       gain if side == LONG else -gain, opened_at, closed_at, tag)


def total(results: Iterable[SymbolPnl]) -> SymbolPnl:
    """The TOTAL row: every closed trade; open quantity and cost summed (avg_cost is 0, since
    an average price across symbols means nothing)."""
    trades: list[ClosedTrade] = []
    open_qty = open_cost = unmatched = ZERO
    for result in results:
        trades.extend(result.trades)
        open_qty += result.open_qty
        open_cost += result.open_cost
        unmatched += result.unmatched_qty
    return SymbolPnl(TOTAL, trades, open_qty, ZERO, open_cost, unmatched)


# Alpaca's FILL activities say "sell_short" for a sale that opens or adds to a short.
SIDES = {"buy": True, "sell": False, "sell_short": False}
_INTENTS = {"sell": CLOSE_LONG, "sell_short": OPEN_SHORT}


def _is_buy(side: str) -> bool:
    is_buy = SIDES.get(side.strip().lower())
    if is_buy is None:
        raise ValueError(f"a fill's side must be buy or sell, not {side!r}")
    return is_buy


def _intent(side: str) -> str | None:
    return _INTENTS.get(side.strip().lower())


def _positive(qty: Decimal) -> Decimal:
    # A zero fill would make a trade of no size (and a division by zero in its average).
    if not qty > 0:
        raise ValueError(f"a fill's qty must be positive, not {qty}")
    return qty


__all__ = (
    "ClosedTrade", "SymbolPnl", "PnlTally", "FillRow", "match_fifo", "match_fifo_rows", "total", "in_time_order", "LONG",
    "SHORT", "TOTAL", "SIDES", "CLOSE_LONG", "OPEN_SHORT",
)
