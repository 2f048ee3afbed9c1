"""FIFO P&L over whole columns of fills, in exact int64 arithmetic: no Python work per fill.

The same trades and figures as ``match_fifo_rows`` (the reference), for the CLI's million-fill
files. Quantities and prices come in scaled integers (qty × 10**qty_places), so every sum is
exact; the figures become Decimal only at the end.

Why no queue of lots is needed: within a symbol the k-th unit closed is always the k-th unit
opened (a flip closes every open unit before it opens the other side). So a trade that closes
the units [a, b) paid F(b) − F(a) for them, F being the cumulative cost of the opened units.

Why the printed figures are the reference's to the byte: every figure is checked to stay
under 2**62 scaled units (19 digits), so the Decimal path (28 digits) computes it exactly
too; the same exact values then go through the same divisions and roundings.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, Sequence

import numpy as np

from novalgo.domain.fifo import TOTAL, TradeRates

# Every figure stays under this, with room for one subtraction (exit − entry); checked before
# it is computed. Sums checked through float64 get a further factor 2 for its rounding.
INT64_ROOM = 2**62
FLOAT_ROOM = 2.0**61
# Fills matched at a time (whole symbols): temporaries stay in cache and their memory is
# reused from one chunk to the next instead of being fresh pages each time.
CHUNK = 1 << 16


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
class SymbolFigures(TradeRates):  # rates computed as PnlTally's, so the figures print the same
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


    def tally(self) -> "SymbolFigures":
        """The counted figures: this object already holds them (duck-types ``PnlTally``)."""
        return self


def match_fifo_columns(fills: FillColumns) -> tuple[dict[str, SymbolFigures], SymbolFigures] | None:
    """Per-symbol figures and the TOTAL row, or None when a figure could overflow int64."""
    qty, price = fills.qty, fills.price
    money_places = fills.qty_places + fills.price_places
    if len(qty) == 0:
        return {}, _figures(TOTAL, 0, 0, 0, 0, None, None, 0, 0, money_places, fills.qty_places, is_total=True)
    # Python ints, so the check cannot overflow itself: a fill's cost, and the unit counts.
    max_price = int(price.max())
    if int(qty.max()) * max_price >= INT64_ROOM or float(qty.sum(dtype=np.float64)) >= FLOAT_ROOM:
        return None

    # Time order per symbol, ties in file order: what in_time_order then grouping by key gives.
    order = _time_then_symbol_order(fills.symbol, fills.time)
    sizes = np.bincount(fills.symbol, minlength=len(fills.symbols))
    codes = np.flatnonzero(sizes)  # the symbols with fills, in the order they were sorted
    ends = np.cumsum(sizes[codes])
    parts: list[SymbolRows] = []
    magnitude = 0.0  # Σ|pnl| over every trade, in float: a bound on every sum of P&L below
    first = 0
    for last in _chunk_ends(ends):
        fills_from = int(ends[first - 1]) if first else 0
        take = order[fills_from:int(ends[last])]
        matched = match_symbols(qty[take], price[take], fills.is_buy[take], fills.order[take],
                                sizes[codes[first:last + 1]], max_price)
        if matched is None:
            return None
        parts.append(matched[0])
        magnitude += matched[1]
        first = last + 1
    rows = SymbolRows(*(np.concatenate(column) for column in zip(*parts)))
    if magnitude >= FLOAT_ROOM or float(rows.open_cost.sum(dtype=np.float64)) >= FLOAT_ROOM:
        return None

    results: dict[str, SymbolFigures] = {}
    names = fills.symbols
    columns = zip(codes.tolist(), *(column.tolist() for column in rows))
    for code, trades, wins, losses, pnl, best, worst, position, cost in columns:
        results[names[code]] = _figures(names[code], trades, wins, losses, pnl, best if trades else None,
                                        worst if trades else None, position, cost, money_places, fills.qty_places)
    traded = rows.trades > 0
    signed_cost = np.where(rows.position < 0, -rows.open_cost, rows.open_cost)
    overall = _figures(
        TOTAL, int(rows.trades.sum()), int(rows.wins.sum()), int(rows.losses.sum()), int(rows.pnl.sum()),
        int(rows.best[traded].max()) if traded.any() else None, int(rows.worst[traded].min()) if traded.any() else None,
        int(rows.position.sum()), int(signed_cost.sum()), money_places, fills.qty_places, is_total=True)
    return results, overall


class SymbolRows(NamedTuple):
    """Per-symbol figures in scaled integers, one entry per symbol."""

    trades: np.ndarray
    wins: np.ndarray
    losses: np.ndarray
    pnl: np.ndarray  # realised, in units of 10**-(qty_places + price_places)
    best: np.ndarray  # meaningless where trades == 0
    worst: np.ndarray
    position: np.ndarray  # signed open qty
    open_cost: np.ndarray  # unsigned cost of the open lots


def match_symbols(q: np.ndarray, p: np.ndarray, is_buy: np.ndarray, order_id: np.ndarray, sizes: np.ndarray,
                  max_price: int) -> tuple[SymbolRows, float] | None:
    """FIFO over whole symbols lying one after another, each in time order (``sizes`` fills each):
    their rows and Σ|P&L| of their trades, or None when a figure could overflow int64."""
    n = len(q)
    starts = np.zeros(len(sizes), dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    ends = starts + sizes - 1
    segment = np.repeat(np.arange(len(sizes)), sizes)
    first = np.zeros(n, dtype=bool)  # the first fill of each symbol
    first[starts] = True
    signed = np.where(is_buy, q, -q)

    cum = np.cumsum(signed)
    after = cum - (cum[starts] - signed[starts])[segment]  # the symbol's position after each fill
    before = after - signed
    # A fill against the position closes min(|fill|, |position|); the rest opens.
    against = ((before > 0) & (signed < 0)) | ((before < 0) & (signed > 0))
    closed = np.where(against, np.minimum(q, np.abs(before)), 0)
    opened = q - closed

    opened_cum = np.cumsum(opened)  # units opened so far, these symbols in a row
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
    shift = symbol_origin - closed_origin
    unit_from = shift[segment[first_fill]] + (closed_cum - closed)[first_fill]
    unit_to = shift[segment[last_fill]] + closed_cum[last_fill]
    position = after[ends]
    trade_qty = np.add.reduceat(closed[k], t_first) if len(k) else np.zeros(0, dtype=np.int64)
    # The cumulative costs may wrap around 2**64; only differences are used, and each is exact
    # when its true value fits: a trade's entry and exit, the open lots. Checked before use.
    largest = max(int(trade_qty.max()) if len(k) else 0, int(np.abs(position).max()))
    if largest * max_price >= INT64_ROOM:
        return None
    entry = paid(unit_to) - paid(unit_from)
    exit_value = np.add.reduceat(closed[k] * p[k], t_first) if len(k) else np.zeros(0, dtype=np.int64)
    pnl = np.where(long_side[t_first], exit_value - entry, entry - exit_value)
    open_cost = cost[ends + 1] - paid(shift + closed_cum[ends])  # the open units are the latest ones

    # Each symbol's row; reduceat over the symbols that have trades (it cannot do empty runs).
    trade_symbol = segment[first_fill]
    segments = len(sizes)
    trades = np.bincount(trade_symbol, minlength=segments)
    traded = np.flatnonzero(trades)
    run_starts = np.searchsorted(trade_symbol, traded)
    sums, best, worst = (np.zeros(segments, dtype=np.int64) for _ in range(3))
    if len(traded):
        sums[traded] = np.add.reduceat(pnl, run_starts)
        best[traded] = np.maximum.reduceat(pnl, run_starts)
        worst[traded] = np.minimum.reduceat(pnl, run_starts)
    rows = SymbolRows(trades, np.bincount(trade_symbol[pnl > 0], minlength=segments),
                      np.bincount(trade_symbol[pnl < 0], minlength=segments), sums, best, worst, position, open_cost)
    return rows, float(np.abs(pnl).sum(dtype=np.float64))


def _chunk_ends(ends: np.ndarray) -> list[int]:
    """Indices of the symbols that end each chunk of about CHUNK fills (whole symbols only)."""
    targets = np.arange(CHUNK, int(ends[-1]), CHUNK)
    return np.unique(np.append(np.searchsorted(ends, targets), len(ends) - 1)).tolist()


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


__all__ = ("FillColumns", "SymbolFigures", "SymbolRows", "match_fifo_columns", "match_symbols", "INT64_ROOM")
