"""CSV exports with timestamped names, e.g. ``positions_20250110_163000.csv``."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

from analytics import fmt
from analytics.report import Report


def stamp(moment: datetime) -> str:
    """The timestamp used in export file names (the configured time zone)."""
    return moment.strftime("%Y%m%d_%H%M%S")


def write_csvs(report: Report, export_dir: Path, zone) -> dict[str, Path]:
    """Write the positions, trades and account summary CSVs; return them by name."""
    export_dir.mkdir(parents=True, exist_ok=True)
    suffix = stamp(report.as_of.astimezone(zone))
    files = {
        "positions": export_dir / f"positions_{suffix}.csv",
        "trades": export_dir / f"trades_{suffix}.csv",
        "account": export_dir / f"account_{suffix}.csv",
    }
    _write(files["positions"], POSITION_HEADER, position_rows(report))
    _write(files["trades"], TRADE_HEADER, trade_rows(report, zone))
    _write(files["account"], ["field", "value"], account_rows(report, zone))
    return files


POSITION_HEADER = ["symbol", "side", "qty", "avg_entry_price", "cost_basis", "market_value",
                   "unrealized_pl", "unrealized_pl_pct", "share_of_equity_pct"]
TRADE_HEADER = ["symbol", "side", "qty", "entry_price", "exit_price", "pnl", "opened_at",
                "closed_at", "order_id", "tag"]


def position_rows(report: Report) -> list[list[str]]:
    rows = []
    for line in report.positions:
        p = line.position
        rows.append([
            p.symbol, p.side, fmt.qty(p.qty), str(p.avg_entry_price), fmt.money_text(line.cost),
            fmt.money_text(p.market_value) or "", fmt.money_text(p.unrealized_pl) or "",
            _pct_cell(line.pnl_pct), _pct_cell(line.share_of_equity),
        ])
    return rows


def trade_rows(report: Report, zone) -> list[list[str]]:
    rows = []
    for t in sorted(report.trades.trades, key=lambda t: t.closed_at):
        rows.append([
            t.symbol, t.side, fmt.qty(t.qty), str(t.entry_price), str(t.exit_price),
            fmt.money_text(t.pnl), t.opened_at.astimezone(zone).isoformat(timespec="seconds"),
            t.closed_at.astimezone(zone).isoformat(timespec="seconds"), t.order_id, t.tag or "",
        ])
    return rows


def account_rows(report: Report, zone) -> list[list[str]]:
    """The account and the headline figures, one per row (easy to read in a spreadsheet)."""
    snap = report.snapshot
    a = snap.account
    bench = report.benchmark
    t = report.trades
    rows = [
        ["as_of", report.as_of.astimezone(zone).isoformat(timespec="seconds")],
        ["source", snap.source],
        ["period", snap.period],
    ]
    if a is not None:
        rows += [["mode", a.mode], ["status", a.status], ["equity", fmt.money_text(a.equity)],
                 ["cash", fmt.money_text(a.cash)], ["buying_power", fmt.money_text(a.buying_power)]]
    rows += [
        ["total_return_pct", _pct_cell(report.total_return)],
        ["cagr_pct", _pct_cell(report.cagr)],
        ["volatility_pct", _pct_cell(report.volatility)],
        ["sharpe", _num_cell(report.sharpe)],
        ["sortino", _num_cell(report.sortino)],
        ["max_drawdown_pct", _pct_cell(report.drawdown.depth)],
        [f"{snap.benchmark_symbol.lower()}_total_return_pct", _pct_cell(bench.total_return if bench else None)],
        ["beta", _num_cell(bench.beta if bench else None)],
        ["alpha_annual_pct", _pct_cell(bench.alpha if bench else None)],
        ["correlation", _num_cell(bench.correlation if bench else None)],
        ["closed_trades", str(t.total_trades)],
        ["win_rate_pct", "" if t.win_rate is None else f"{float(t.win_rate):.2f}"],
        ["realized_pnl", fmt.money_text(t.total_pnl)],
    ]
    return rows


def _pct_cell(fraction: float | None) -> str:
    return "" if fraction is None else f"{fraction * 100:.4f}"


def _num_cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    # Write beside and rename, so a reader (or the mailer) never sees half a file.
    partial = path.with_suffix(".csv.part")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    partial.replace(path)
