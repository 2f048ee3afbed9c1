"""Where the numbers come from: the configured broker, or CSV files for offline analysis.

Everything ends up in one ``Snapshot`` so the rest of the suite does not care which.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from analytics.progress import Progress
from novalgo.broker.base import Account, Fill, Position

# FIFO needs the buys behind a sell, so fills are read further back than the report period;
# only trades closed inside the period are reported.
FILLS_LOOKBACK = timedelta(days=365)


class SourceError(Exception):
    """A data file or the broker could not be read: say which and why."""


@dataclass
class Snapshot:
    as_of: datetime
    period: str
    start: date
    source: str  # e.g. "alpaca (paper)", "simulated", "files"
    account: Account | None = None
    positions: list[Position] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    equity: list[tuple[date, Decimal]] = field(default_factory=list)
    benchmark: list[tuple[date, Decimal]] = field(default_factory=list)
    benchmark_symbol: str = "SPY"
    notes: list[str] = field(default_factory=list)


def period_start(period: str, today: date) -> date:
    """The first day of a period like 5D, 2W, 3M or 1A ending today."""
    n, unit = int(period[:-1]), period[-1].upper()
    if unit == "D":
        return today - timedelta(days=n)
    if unit == "W":
        return today - timedelta(weeks=n)
    months = n * (12 if unit == "A" else 1)
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    month += 1
    for day in (today.day, 30, 29, 28):  # 31 March minus one month is the end of February
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def from_broker(broker, snap: Snapshot, progress: Progress, *, trades: bool = True, benchmark: bool = True,
                equity: bool = True) -> Snapshot:
    """Fill a snapshot from a broker: account, positions, and (as asked) fills, equity, index closes."""
    progress.step("account and positions…")
    snap.account = broker.account()
    snap.positions = list(broker.positions())
    if trades:
        earliest = max(min(snap.start, snap.as_of.date() - FILLS_LOOKBACK), date(1971, 1, 1))
        since = datetime.combine(earliest, time(), tzinfo=timezone.utc)
        progress.step(f"fills since {earliest}…")
        snap.fills = list(broker.fills(since))
        progress.step(f"{len(snap.fills)} fills read")
    if equity:
        progress.step("equity history…")
        if hasattr(broker, "portfolio_history"):
            period = "1A" if snap.period == "all" else snap.period
            snap.equity = [(d, e) for d, e in broker.portfolio_history(period) if d >= snap.start]
        elif hasattr(broker, "equity_history"):
            snap.equity = [(d, e) for d, e in broker.equity_history() if d >= snap.start]
        else:
            snap.notes.append("This broker keeps no equity history: return statistics are not available.")
    if benchmark:
        if hasattr(broker, "daily_bars"):
            progress.step(f"{snap.benchmark_symbol} daily bars…")
            first = max(snap.start, snap.as_of.date() - timedelta(days=3650))
            snap.benchmark = list(broker.daily_bars(snap.benchmark_symbol, first, snap.as_of.date()))
        else:
            snap.notes.append(
                f"{snap.benchmark_symbol} comparison skipped: the {snap.source} broker has no market data "
                f"(pass --benchmark-csv with daily closes to compare)."
            )
    progress.done()
    return snap


def read_series(path: Path, value_names: tuple[str, ...]) -> list[tuple[date, Decimal]]:
    """(date, value) rows from a CSV with a date column and a value column.

    The value column is the first header in ``value_names`` present, else the second column.
    """
    rows = _rows(path)
    header = [h.strip().lower() for h in rows[0]]
    col = next((header.index(n) for n in value_names if n in header), 1)
    date_col = next((header.index(n) for n in ("date", "timestamp", "time", "day") if n in header), 0)
    points = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            points.append((_parse_date(row[date_col]), _decimal(row[col])))
        except (IndexError, ValueError) as e:
            raise SourceError(f"{path.name} line {line}: {e}") from None
    if not points:
        raise SourceError(f"{path.name}: no data rows")
    return sorted(points)


def read_fills(path: Path) -> list[Fill]:
    """Fills from a CSV with columns time, symbol, side, qty, price and optional order_id."""
    rows = _rows(path)
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("time", "symbol", "side", "qty", "price") if c not in header]
    if missing:
        raise SourceError(f"{path.name}: missing column(s) {', '.join(missing)}")
    at = {name: header.index(name) for name in header}
    fills = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            side = row[at["side"]].strip().lower()
            if side not in ("buy", "sell"):
                raise ValueError(f"side must be buy or sell, not {side!r}")
            qty = abs(_decimal(row[at["qty"]]))  # some exports sign the quantity
            order_id = row[at["order_id"]].strip() if "order_id" in at else ""
            fills.append(Fill(
                time=_parse_time(row[at["time"]]),
                symbol=row[at["symbol"]].strip().upper(),
                side=side,
                qty=qty,
                price=_decimal(row[at["price"]]),
                order_id=order_id or f"line-{line}",  # without ids every fill is its own order
            ))
        except (IndexError, ValueError) as e:
            raise SourceError(f"{path.name} line {line}: {e}") from None
    return sorted(fills, key=lambda f: f.time)


def _rows(path: Path) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle)]
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from None
    if len(rows) < 2:
        raise SourceError(f"{path.name}: expected a header line and data rows")
    return rows


def _decimal(text: str) -> Decimal:
    cleaned = text.strip().replace("$", "").replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text.strip()!r} is not a number")
    return value


def _parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def _parse_time(text: str) -> datetime:
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a time (expected ISO 8601)") from None
    # A time without a zone is taken as UTC, the zone brokers export in.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
