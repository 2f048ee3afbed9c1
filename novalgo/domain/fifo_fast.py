"""FIFO P&L over whole columns of fills, in exact int64 arithmetic: no Python work per fill.

The same trades and figures as ``match_fifo_rows`` (the reference), for the CLI's million-fill
files. Quantities and prices come in scaled integers (qty × 10**qty_places), so every sum is
exact; the figures become Decimal only at the end.

Why no queue of lots is needed: within a symbol the k-th unit closed is always the k-th unit
opened (a flip closes every open unit before it opens the other side). So a trade that closes
the units [a, b) paid F(b) − F(a) for them, F being the cumulative cost of the opened units.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Sequence

import numpy as np

from novalgo.domain.fifo import HUNDRED, TOTAL

# Every figure stays under this, with room for one subtraction (exit − entry); checked before
# it is computed. Sums checked through float64 get a further factor 2 for its rounding.
INT64_ROOM = 2**62
FLOAT_ROOM = 2.0**61


@dataclass(frozen=True)
class FillColumns:
    """Fills as parallel arrays, in file order; times only decide the order of matching."""

    symbols: Sequence[str]  # the name of each symbol code
    symbol: np.ndarray  # int code per fill
    time: np.ndarray  # int64, e.g. microseconds since the epoch (UTC)
    is_buy: np.ndarray  # bool
    qty: np.ndarray  # int64 > 0, in units of 10**-qty_places
    qty_places: int
    price: np.ndarray  # int64 >= 0, in units of 10**-price_places
    price_places: int
    order: np.ndarray  # int code of each fill's order id; a fill that is its own order has its own code


@dataclass(frozen=True)
class SymbolFigures:
    """One symbol's row (or TOTAL) without its list of trades: what ``pnl_numbers`` reads."""

    symbol: str
    total_trades: int
    winning_trades: int  # P&L > 0; a break-even trade is neither a win nor a loss
    losing_trades: int
    total_pnl: Decimal
    best_trade: Decimal | None  # None with no closed trades
    worst_trade: Decimal | None
    open_qty: Decimal  # signed, negative = short
    avg_cost: Decimal  # average entry of the open lots, 0 if flat (and for TOTAL)
    open_cost: Decimal  # exact cost of the open lots, signed like open_qty

    # Computed exactly as PnlTally does, so the printed figures are the same to the byte.
    @property
    def win_rate(self) -> Decimal | None:
        if not self.total_trades:
            return None
        return Decimal(self.winning_trades) * HUNDRED / self.total_trades

    @property
    def avg_pnl_per_trade(self) -> Decimal | None:
        return self.total_pnl / self.total_trades if self.total_trades else None

    def tally(self) -> "SymbolFigures":
        """The counted figures: this object already holds them (duck-types ``PnlTally``)."""
        return self


def match_fifo_columns(fills: FillColumns) -> tuple[dict[str, SymbolFigures], SymbolFigures] | None:
    """Per-symbol figures and the TOTAL row, or None when a figure could overflow int64."""
    qty, price = fills.qty, fills.price
    money_places = fills.qty_places + fills.price_places
    n = len(qty)
    if n == 0:
        return {}, _figures(TOTAL, 0, 0, 0, 0, None, None, 0, 0, money_places, fills.qty_places, is_total=True)
    # Python ints, so the check cannot overflow itself: a fill's cost, and the unit counts.
    max_qty, max_price = int(qty.max()), int(price.max())
    if max_qty * max_price >= INT64_ROOM or float(qty.sum(dtype=np.float64)) >= FLOAT_ROOM:
        return None

    # Time order per symbol, ties in file order: what in_time_order then grouping by key gives.
    order = _time_then_symbol_order(fills.symbol, fills.time)
    symbol = fills.symbol[order]
    q = qty[order]
    p = price[order]
    signed = np.where(fills.is_buy[order], q, -q)

    first = np.empty(n, dtype=bool)  # the first fill of each symbol
    first[0] = True
    np.not_equal(symbol[1:], symbol[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], n) - 1
    segment = np.cumsum(first) - 1

    cum = np.cumsum(signed)
    after = cum - (cum[starts] - signed[starts])[segment]  # the symbol's position after each fill
    before = after - signed
    # A fill against the position closes min(|fill|, |position|); the rest opens.
    against = ((before > 0) & (signed < 0)) | ((before < 0) & (signed > 0))
    closed = np.where(against, np.minimum(q, np.abs(before)), 0)
    opened = q - closed

    opened_cum = np.cumsum(opened)  # units opened so far, all symbols in a row
    closed_cum = np.cumsum(closed)
    symbol_origin = (opened_cum - opened)[starts]  # where each symbol's opened units begin
    closed_origin = (closed_cum - closed)[starts]
    # F at the breakpoints: units opened before fill k, and what they cost.
    units = np.concatenate(([0], opened_cum))
    cost = np.concatenate(([0], np.cumsum(opened * p)))
    unit_price = np.append(p, 0)

    def paid(x: np.ndarray) -> np.ndarray:
        """F(x): the cost of the first x opened units (piecewise linear, exact)."""
        k = np.searchsorted(units, x, side="right") - 1
        return cost[k] + (x - units[k]) * unit_price[k]

    # Closing fills; one trade runs while the order id and the side being closed stay the same.
    k = np.flatnonzero(closed)
    long_side = before[k] > 0
    order_id = fills.order[order]
    new_order = first.copy()
    np.logical_or(new_order[1:], order_id[1:] != order_id[:-1], out=new_order[1:])
    order_run = np.cumsum(new_order)[k]
    trade_start = np.ones(len(k), dtype=bool)
    trade_start[1:] = (order_run[1:] != order_run[:-1]) | (long_side[1:] != long_side[:-1])
    t_first = np.flatnonzero(trade_start)
    t_last = np.empty_like(t_first)  # the last closing fill of each trade
    t_last[:-1] = t_first[1:] - 1
    t_last[-1:] = len(k) - 1
    first_fill, last_fill = k[t_first], k[t_last]

    # Closed units of a symbol map to its opened units one for one, from its origin on.
    unit_from = symbol_origin[segment[first_fill]] + (closed_cum - closed)[first_fill] - closed_origin[segment[first_fill]]
    unit_to = symbol_origin[segment[last_fill]] + closed_cum[last_fill] - closed_origin[segment[last_fill]]
    position = after[ends]
    trade_qty = np.add.reduceat(closed[k], t_first) if len(k) else np.zeros(0, dtype=np.int64)
    # The cumulative costs may wrap around 2**64 on a busy file; only differences are used, and
    # each difference is exact when its true value fits: a trade's entry and exit, the open lots.
    largest = max(int(trade_qty.max()) if len(k) else 0, int(np.abs(position).max()))
    if largest * max_price >= INT64_ROOM:
        return None
    entry = paid(unit_to) - paid(unit_from)
    exit_value = np.add.reduceat(closed[k] * p[k], t_first) if len(k) else np.zeros(0, dtype=np.int64)
    pnl = np.where(long_side[t_first], exit_value - entry, entry - exit_value)
    open_unit_from = symbol_origin + closed_cum[ends] - closed_origin
    open_cost = cost[ends + 1] - paid(open_unit_from)  # the still-open units, the latest ones
    # The sums of the rows below: bounded by the sum of magnitudes (float: a bound, not a value).
    if float(np.abs(pnl).sum(dtype=np.float64)) >= FLOAT_ROOM or float(open_cost.sum(dtype=np.float64)) >= FLOAT_ROOM:
        return None
    trade_symbol = segment[first_fill]

    # Each symbol's row; reduceat over the symbols that have trades (it cannot do empty runs).
    segments = len(starts)
    counts = np.bincount(trade_symbol, minlength=segments)
    wins = np.bincount(trade_symbol[pnl > 0], minlength=segments)
    losses = np.bincount(trade_symbol[pnl < 0], minlength=segments)
    traded = np.flatnonzero(counts)
    run_starts = np.searchsorted(trade_symbol, traded)
    sums = np.zeros(segments, dtype=np.int64)
    best = np.zeros(segments, dtype=np.int64)
    worst = np.zeros(segments, dtype=np.int64)
    if len(traded):
        sums[traded] = np.add.reduceat(pnl, run_starts)
        best[traded] = np.maximum.reduceat(pnl, run_starts)
        worst[traded] = np.minimum.reduceat(pnl, run_starts)

    results: dict[str, SymbolFigures] = {}
    names = fills.symbols
    for i, code in enumerate(symbol[starts].tolist()):
        has = bool(counts[i])
        results[names[code]] = _figures(
            names[code], int(counts[i]), int(wins[i]), int(losses[i]), int(sums[i]),
            int(best[i]) if has else None, int(worst[i]) if has else None,
            int(position[i]), int(open_cost[i]), money_places, fills.qty_places)
    signed_cost = np.where(position < 0, -open_cost, open_cost)
    overall = _figures(
        TOTAL, len(pnl), int((pnl > 0).sum()), int((pnl < 0).sum()), int(pnl.sum()),
        int(pnl.max()) if len(pnl) else None, int(pnl.min()) if len(pnl) else None,
        int(position.sum()), int(signed_cost.sum()), money_places, fills.qty_places, is_total=True)
    return results, overall


def _time_then_symbol_order(symbol: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Indices sorted by (symbol, time), ties in file order: two stable sorts, the usual
    already-in-time-order file skipping the first."""
    if len(time) > 1 and bool((time[1:] < time[:-1]).any()):
        by_time = np.argsort(time, kind="stable")
    else:
        by_time = np.arange(len(time))
    codes = symbol[by_time]
    if len(codes) and int(codes.max()) < 2**15:  # small integers sort by radix: fast and stable
        codes = codes.astype(np.int16)
    return by_time[np.argsort(codes, kind="stable")]


def _figures(symbol: str, trades: int, wins: int, losses: int, pnl_sum: int, best: int | None,
             worst: int | None, position: int, cost: int, money_places: int, qty_places: int,
             is_total: bool = False) -> SymbolFigures:
    """Scaled integers back to exact Decimals; ``cost`` is unsigned per symbol, signed for TOTAL."""
    open_qty = _exact(position, qty_places)
    if is_total:
        return SymbolFigures(symbol, trades, wins, losses, _exact(pnl_sum, money_places),
                             _maybe(best, money_places), _maybe(worst, money_places), open_qty,
                             Decimal(0), _exact(cost, money_places))
    open_cost = _exact(cost, money_places)
    # The same division as match_fifo_rows, on the same exact values: the same rounded result.
    avg_cost = open_cost / abs(open_qty) if position else Decimal(0)
    return SymbolFigures(symbol, trades, wins, losses, _exact(pnl_sum, money_places),
                         _maybe(best, money_places), _maybe(worst, money_places), open_qty, avg_cost,
                         -open_cost if position < 0 else open_cost)


def _exact(scaled: int, places: int) -> Decimal:
    return Decimal(scaled).scaleb(-places)


def _maybe(scaled: int | None, places: int) -> Decimal | None:
    return None if scaled is None else _exact(scaled, places)


__all__ = ("FillColumns", "SymbolFigures", "match_fifo_columns", "INT64_ROOM")
