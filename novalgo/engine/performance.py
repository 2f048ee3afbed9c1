"""The Performance tab: FIFO P&L per symbol, a TOTAL row, and a per-(symbol, Time Frame) breakdown.

``performance_cells`` is pure (results in, cells out). ``PerformanceUpdater`` gathers the
inputs — the account's whole fill history (see fill_history.py) and, from the journal, which
Config row placed each order — and replaces the tab in one write.

Matching runs over the whole history, with Alpaca's sell / sell_short labels, so a position
opened before the window is closed against its real entry; NOVALGO_PERFORMANCE_DAYS only
chooses what is shown: the trades closed inside the window, for the symbols traded in it.

Lots are matched per symbol, as the broker holds one position per symbol even when two
Config rows trade it; each closed trade is then credited to the row whose order closed it,
so the breakdown adds up to the symbol's row.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Iterable, Mapping

from novalgo.broker.base import Broker, Fill
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.fifo import ClosedTrade, SymbolPnl, match_fifo, total
from novalgo.domain.money import cents, cents_text, plain
from novalgo.domain.timeframes import interval_minutes
from novalgo.engine.fill_history import FillHistory
from novalgo.settings import Settings
from novalgo.sheet.base import SheetBackend
from novalgo.sheet.layout import BREAKDOWN_HEADERS, PERFORMANCE_HEADERS, sheet_time

MANUAL = "manual"  # the Time Frame of fills no alert of ours placed
UNDEFINED = "—"  # a rate or average with no closed trades to take it from
TENTH = Decimal("0.1")
PRICE_STEP = Decimal("0.0001")

RowKey = tuple[str, str]  # (symbol, Time Frame label or "manual")


def money(value: Decimal | None) -> str:
    """``$250.50``, ``-$12.30``, or ``—`` when undefined; rounded half up to the cent."""
    if value is None:
        return UNDEFINED
    rounded = cents(value)
    return f"-${-rounded}" if rounded < 0 else f"${abs(rounded)}"


def percent(value: Decimal | None) -> str:
    """``55.5%``, or ``—`` when undefined."""
    return UNDEFINED if value is None else f"{value.quantize(TENTH, ROUND_HALF_UP)}%"


def trades_by_row(results: Iterable[SymbolPnl]) -> dict[RowKey, SymbolPnl]:
    """Closed trades grouped by the (symbol, Time Frame) their ``tag`` names (``"AAPL 15 Min"``)."""
    groups: dict[RowKey, list[ClosedTrade]] = {}
    for result in results:
        for trade in result.trades:
            label = trade.tag or f"{trade.symbol} {MANUAL}"
            groups.setdefault((trade.symbol, label.removeprefix(f"{trade.symbol} ")), []).append(trade)
    return {key: SymbolPnl(key[0], trades, Decimal(0), Decimal(0)) for key, trades in groups.items()}


def performance_cells(by_symbol: Mapping[str, SymbolPnl], by_row: Mapping[RowKey, SymbolPnl],
                      updated_at: datetime, zone: tzinfo) -> list[list[str]]:
    """The whole tab: header, a row per symbol, TOTAL, a blank row, then the breakdown by row."""
    stamp = sheet_time(updated_at, zone)
    cells = [list(PERFORMANCE_HEADERS)]
    for symbol in sorted(by_symbol):
        cells.append([symbol, *_stats(by_symbol[symbol]), stamp])
    cells.append(["TOTAL", *_stats(total(by_symbol.values())), stamp])
    cells.append([""] * len(PERFORMANCE_HEADERS))
    cells.append(list(BREAKDOWN_HEADERS))
    for symbol, timeframe in sorted(by_row, key=_row_order):
        cells.append([symbol, timeframe, *_stats(by_row[(symbol, timeframe)])])
    return cells


def _stats(result: SymbolPnl) -> list[str]:
    t = result.tally()
    return [str(t.total_trades), str(t.winning_trades), str(t.losing_trades), percent(t.win_rate),
            money(t.total_pnl), money(t.avg_pnl_per_trade), money(t.best_trade), money(t.worst_trade)]


def _row_order(key: RowKey) -> tuple[str, int, str]:
    # 5 Min before 15 Min before 1 Day (not text order), and "manual" after the chart rows.
    symbol, timeframe = key
    try:
        minutes = interval_minutes(timeframe)
    except ValueError:
        minutes = 10**9
    return symbol, minutes, timeframe


def pnl_numbers(result: SymbolPnl) -> dict[str, object]:
    """One symbol's figures for JSON: counts as numbers, money as strings rounded to the cent."""
    t = result.tally()
    return {
        "total_trades": t.total_trades,
        "winning_trades": t.winning_trades,
        "losing_trades": t.losing_trades,
        "win_rate": cents_text(t.win_rate),
        "total_pnl": cents_text(t.total_pnl),
        "avg_pnl_per_trade": cents_text(t.avg_pnl_per_trade),
        "best_trade": cents_text(t.best_trade),
        "worst_trade": cents_text(t.worst_trade),
        "open_qty": plain(result.open_qty),
        "avg_cost": plain(result.avg_cost.quantize(PRICE_STEP, ROUND_HALF_UP)),
    }


def _trade_figures(result: SymbolPnl) -> dict[str, object]:
    numbers = pnl_numbers(result)
    del numbers["open_qty"], numbers["avg_cost"]
    return numbers




def closed_since(results: Mapping[str, SymbolPnl], start: datetime, symbols: set[str]) -> dict[str, SymbolPnl]:
    """The shown part of whole-history results: trades closed at or after ``start``, for the given
    symbols; the open position stays the one the whole history leaves."""
    return {symbol: replace(result, trades=[t for t in result.trades if t.closed_at >= start])
            for symbol, result in results.items() if symbol in symbols}


class PerformanceUpdater:
    """Rebuilds the Performance tab from the broker's fills (leader loop and ``GET /performance``)."""

    def __init__(self, broker: Broker, sheet_backend: SheetBackend, journal, settings: Settings,
                 clock: Callable[[], datetime] = SYSTEM_CLOCK.now):
        self.broker = broker
        self.sheet = sheet_backend
        self.journal = journal  # the Journal: rows_for_orders and the stored fill history
        self.history = FillHistory(broker, journal)
        self.settings = settings
        self.clock = clock
        # The leader's timer and an admin's GET may overlap: one rebuild at a time.
        self._lock = threading.Lock()

    def run_once(self) -> dict[str, object]:
        """Read new fills, match FIFO over the whole history, write the tab once; return the numbers it shows."""
        with self._lock:
            now = self.clock()
            fills = self.history.fills(self.history.update())
            start = now - timedelta(days=self.settings.performance_days)
            recent = [f for f in fills if f.time >= start]
            # Only trades closed in the window are shown, and a trade's row comes from its closing fill.
            matched = match_fifo(fills, tag=self._row_labels(recent), alpaca_sides=True)
            by_symbol = closed_since(matched, start, {f.symbol for f in recent})
            by_row = trades_by_row(by_symbol.values())
            self.sheet.write_performance(performance_cells(by_symbol, by_row, now, self.settings.timezone))
            return {
                "updated_at": now.astimezone(self.settings.timezone).isoformat(),
                "window_days": self.settings.performance_days,
                "fills": len(recent),
                "history_fills": len(fills),
                # Quantity Alpaca's labels say was bought or sold outside the fills (a transfer, a split).
                "unmatched_qty": {symbol: plain(result.unmatched_qty) for symbol, result in sorted(matched.items())
                                  if result.unmatched_qty},
                "symbols": {symbol: pnl_numbers(by_symbol[symbol]) for symbol in sorted(by_symbol)},
                "total": pnl_numbers(total(by_symbol.values())),
                # Open positions are per symbol at the broker, so a row shows only its trades.
                "by_timeframe": {f"{symbol} {timeframe}": _trade_figures(by_row[(symbol, timeframe)])
                                 for symbol, timeframe in sorted(by_row, key=_row_order)},
            }

    def _row_labels(self, fills: list[Fill]) -> Callable[[Fill], str]:
        """A tag function: the Config row whose alert placed the fill's order, else manual."""
        ids = {f.client_order_id for f in fills if f.client_order_id}
        rows = self.journal.rows_for_orders(sorted(ids)) if ids else {}

        def tag(fill: Fill) -> str:
            row = rows.get(fill.client_order_id) if fill.client_order_id else None
            return f"{fill.symbol} {row[1] if row else MANUAL}"

        return tag
