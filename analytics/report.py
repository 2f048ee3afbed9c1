"""The report: every figure the trader sees, computed once from a Snapshot.

The text, HTML, CSV, SMS and Slack renderings all read this one object, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pandas as pd

from analytics import fmt, metrics
from analytics.sources import Snapshot
from novalgo.broker.base import Position
from novalgo.domain.fifo import SymbolPnl, match_fifo, total
from novalgo.domain.money import ZERO


@dataclass
class PositionLine:
    """One open position with what the trader asks of it."""

    position: Position
    cost: Decimal  # |qty| × average entry
    pnl_pct: float | None  # unrealised P&L over cost
    share_of_equity: float | None  # |market value| / equity


@dataclass
class Report:
    snapshot: Snapshot
    equity: pd.Series  # float, by date
    returns: pd.Series
    total_return: float | None
    cagr: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    drawdown: metrics.Drawdown
    benchmark: metrics.Benchmark | None
    benchmark_closes: pd.Series
    by_symbol: dict[str, SymbolPnl]
    trades: SymbolPnl  # the TOTAL of trades closed in the period
    by_side: dict[str, SymbolPnl]  # "long" / "short" closed trades
    positions: list[PositionLine]
    risk_free_rate: float
    notes: list[str] = field(default_factory=list)

    @property
    def as_of(self) -> datetime:
        return self.snapshot.as_of

    @property
    def period_label(self) -> str:
        return "all data" if self.snapshot.period == "all" else self.snapshot.period

    @property
    def equity_now(self) -> Decimal | None:
        """The account's equity, or the last point of the equity curve when offline."""
        if self.snapshot.account is not None:
            return self.snapshot.account.equity
        return self.snapshot.equity[-1][1] if self.snapshot.equity else None

    def best_positions(self, n: int = 3) -> list[PositionLine]:
        with_pnl = [p for p in self.positions if p.position.unrealized_pl is not None]
        return sorted(with_pnl, key=lambda p: p.position.unrealized_pl, reverse=True)[:n]

    def worst_positions(self, n: int = 3) -> list[PositionLine]:
        with_pnl = [p for p in self.positions if p.position.unrealized_pl is not None]
        return sorted(with_pnl, key=lambda p: p.position.unrealized_pl)[:n]

    def side_totals(self) -> dict[str, dict[str, Decimal | int]]:
        """Open positions split into longs and shorts: count, market value, unrealised P&L."""
        out = {}
        for side in ("LONG", "SHORT"):
            lines = [p.position for p in self.positions if p.position.side == side]
            out[side.lower()] = {
                "count": len(lines),
                "market_value": sum((p.market_value or ZERO for p in lines), ZERO),
                "unrealized_pl": sum((p.unrealized_pl or ZERO for p in lines), ZERO),
            }
        return out


def build(snapshot: Snapshot, risk_free_rate: float = 0.0) -> Report:
    """Compute every statistic of the report from the snapshot (pure)."""
    notes = list(snapshot.notes)
    equity = metrics.equity_curve(snapshot.equity)
    returns = metrics.daily_returns(equity)
    if 0 < len(equity) < 3:
        notes.append(f"Only {len(equity)} day(s) of equity history: most statistics need more.")
    closes = metrics.equity_curve(snapshot.benchmark)
    bench = None
    if len(closes):
        bench = metrics.benchmark(snapshot.benchmark_symbol, closes, equity, risk_free_rate)
        if bench.common_days < 2:
            notes.append(f"Too few days in common with {snapshot.benchmark_symbol} for beta and alpha.")
    by_symbol, trades, by_side = _trade_stats(snapshot)
    return Report(
        snapshot=snapshot,
        equity=equity,
        returns=returns,
        total_return=metrics.total_return(equity),
        cagr=metrics.cagr(returns),
        volatility=metrics.volatility(returns),
        sharpe=metrics.sharpe(returns, risk_free_rate),
        sortino=metrics.sortino(returns, risk_free_rate),
        drawdown=metrics.max_drawdown(equity),
        benchmark=bench,
        benchmark_closes=closes,
        by_symbol=by_symbol,
        trades=trades,
        by_side=by_side,
        positions=_position_lines(snapshot),
        risk_free_rate=risk_free_rate,
        notes=notes,
    )


def _trade_stats(snapshot: Snapshot) -> tuple[dict[str, SymbolPnl], SymbolPnl, dict[str, SymbolPnl]]:
    # Match over every fill read (they start before the period so sells find their buys),
    # then keep the trades closed inside the period.
    start = snapshot.start
    by_symbol = {}
    for symbol, result in sorted(match_fifo(snapshot.fills).items()):
        kept = [t for t in result.trades if t.closed_at.date() >= start]
        by_symbol[symbol] = SymbolPnl(symbol, kept, result.open_qty, result.avg_cost, result.open_cost)
    everything = total(by_symbol.values())
    by_side = {
        side: SymbolPnl(side, [t for t in everything.trades if t.side == side], ZERO, ZERO)
        for side in ("long", "short")
    }
    return by_symbol, everything, by_side


def _position_lines(snapshot: Snapshot) -> list[PositionLine]:
    equity = snapshot.account.equity if snapshot.account else None
    lines = []
    for p in sorted(snapshot.positions, key=lambda p: p.symbol):
        cost = abs(p.qty) * p.avg_entry_price
        pnl_pct = float(p.unrealized_pl / cost) if p.unrealized_pl is not None and cost else None
        share = float(abs(p.market_value) / equity) if p.market_value is not None and equity else None
        lines.append(PositionLine(p, cost, pnl_pct, share))
    return lines


def to_json(report: Report) -> dict:
    """The metrics as plain JSON: ratios as numbers (null when undefined), money as strings."""
    snap = report.snapshot
    dd = report.drawdown
    bench = report.benchmark
    return {
        "as_of": report.as_of.isoformat(),
        "source": snap.source,
        "period": snap.period,
        "start": fmt.day(report.equity.index[0]) if len(report.equity) else None,
        "end": fmt.day(report.equity.index[-1]) if len(report.equity) else None,
        "days": len(report.equity),
        "risk_free_rate": report.risk_free_rate,
        "sharpe": report.sharpe,
        "sortino": report.sortino,
        "volatility": report.volatility,
        "cagr": report.cagr,
        "total_return": report.total_return,
        "max_drawdown": dd.depth,
        "drawdown": {
            "max": dd.depth,
            "peak": fmt.day(dd.peak) if dd.peak else None,
            "trough": fmt.day(dd.trough) if dd.trough else None,
            "days_to_recover": dd.days_to_recover,
        },
        "benchmark": {
            "symbol": snap.benchmark_symbol,
            "total_return": bench.total_return if bench else None,
            "beta": bench.beta if bench else None,
            "alpha": bench.alpha if bench else None,
            "correlation": bench.correlation if bench else None,
            "common_days": bench.common_days if bench else 0,
        },
        "trades": {
            **_pnl_json(report.trades),
            "long": _pnl_json(report.by_side["long"]),
            "short": _pnl_json(report.by_side["short"]),
            "by_symbol": {s: _pnl_json(r) for s, r in report.by_symbol.items()},
        },
        "account": _account_json(snap),
        "positions": [_position_json(line) for line in report.positions],
        "notes": report.notes,
    }


def _pnl_json(r: SymbolPnl) -> dict:
    return {
        "total_trades": r.total_trades,
        "winning_trades": r.winning_trades,
        "losing_trades": r.losing_trades,
        "win_rate": None if r.win_rate is None else float(r.win_rate),
        "total_pnl": fmt.money_text(r.total_pnl),
        "avg_pnl_per_trade": fmt.money_text(r.avg_pnl_per_trade),
        "best_trade": fmt.money_text(r.best_trade),
        "worst_trade": fmt.money_text(r.worst_trade),
    }


def _account_json(snap: Snapshot) -> dict | None:
    a = snap.account
    if a is None:
        return None
    return {
        "mode": a.mode,
        "status": a.status,
        "equity": fmt.money_text(a.equity),
        "cash": fmt.money_text(a.cash),
        "buying_power": fmt.money_text(a.buying_power),
        "currency": a.currency,
    }


def _position_json(line: PositionLine) -> dict:
    p = line.position
    return {
        "symbol": p.symbol,
        "side": p.side,
        "qty": fmt.qty(p.qty),
        "avg_entry_price": fmt.money_text(p.avg_entry_price),
        "market_value": fmt.money_text(p.market_value),
        "unrealized_pl": fmt.money_text(p.unrealized_pl),
        "unrealized_pl_pct": line.pnl_pct,
        "share_of_equity": line.share_of_equity,
    }
