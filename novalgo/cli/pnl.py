"""``novalgo pnl --fills FILE.csv`` or ``--activities FILE.json``: FIFO P&L offline, as a table or JSON.

Alpaca activities (a JSON array of FILL activities as the API answers them) go the way the
Performance tab goes: Alpaca's sell / sell_short labels decide what each sale closes or opens.

A file pandas can read exactly goes the fast way (``novalgo.cli.pnl_columns`` into
``domain.fifo_fast``, integer columns, no per-fill objects); any other is read with the csv
module into the Decimal matcher's plain tuples, which also names a bad line. Both print the
same bytes; see ``bench/pnl.py``.
"""

from __future__ import annotations

import csv
import gc
import json
import sys
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path

import click

from novalgo.broker.alpaca_activities import fills_from_activities
from novalgo.domain.fifo import SIDES, FillRow, SymbolPnl, in_time_order, match_fifo, match_fifo_rows, total
from novalgo.domain.money import ZERO, plain
from novalgo.engine.performance import money, percent, pnl_numbers

REQUIRED = ("time", "symbol", "side", "qty", "price")
# The spellings seen in practice, looked up as they are before trying strip().lower().
FAST_SIDES = {**SIDES, "BUY": True, "SELL": False, "Buy": True, "Sell": False}
INFINITY = Decimal("Infinity")
EXIT_BAD_INPUT = 2


class BadFills(click.ClickException):
    """The fills file cannot be read: say where, exit 2."""

    exit_code = EXIT_BAD_INPUT


def read_fills(path: Path) -> list[FillRow]:
    """Fills from a CSV (``time, symbol, side, qty, price`` and optional ``order_id``), in time order.

    Times are ISO 8601; a time without an offset is taken as UTC. Raises BadFills naming the line.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = _read_rows(csv.reader(handle), path.name)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise BadFills(f"{path.name}: cannot read the file: {e}") from e
    return in_time_order(rows, itemgetter(2))  # a row's time


def _read_rows(reader, name: str) -> list[FillRow]:
    header = next(reader, None)
    if header is None:
        raise BadFills(f"{name}: the file is empty; expected a header line {', '.join(REQUIRED)}")
    columns = {cell.strip().lower(): i for i, cell in enumerate(header)}
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise BadFills(f"{name}, line 1: missing column(s) {', '.join(missing)} (found: {', '.join(header)})")
    t, s, d, q, p = (columns[c] for c in REQUIRED)
    o = columns.get("order_id")
    rows: list[FillRow] = []
    append = rows.append
    utc = timezone.utc
    # The hot loop: one try per line, the slow explanation only when a line is bad.
    for cells in reader:
        if not cells:
            continue
        try:
            when = datetime.fromisoformat(cells[t])
            if when.tzinfo is None:
                when = when.replace(tzinfo=utc)
            symbol = cells[s].strip()
            qty = Decimal(cells[q])
            price = Decimal(cells[p])
            if not (symbol and ZERO < qty < INFINITY and ZERO <= price < INFINITY):
                raise ValueError
            order = cells[o] if o is not None and o < len(cells) else ""
            is_buy = FAST_SIDES.get(cells[d])
            if is_buy is None:
                is_buy = SIDES[cells[d].strip().lower()]
            append((symbol, symbol, when, is_buy, qty, price, order or f"line {reader.line_num}", None, None))
        except (ValueError, InvalidOperation, KeyError, IndexError):
            raise BadFills(f"{name}, line {reader.line_num}: {_what_is_wrong(cells, t, s, d, q, p)}") from None
    return rows


def _what_is_wrong(cells: list[str], t: int, s: int, d: int, q: int, p: int) -> str:
    """A readable reason for a line the fast path refused."""
    width = max(t, s, d, q, p) + 1
    if len(cells) < width:
        return f"expected at least {width} columns, found {len(cells)}"
    try:
        datetime.fromisoformat(cells[t])
    except ValueError:
        return f"time {cells[t]!r} is not an ISO 8601 time like 2025-01-02T14:30:00-05:00"
    if not cells[s].strip():
        return "symbol is empty"
    if cells[d].strip().lower() not in SIDES:
        return f"side {cells[d]!r} must be buy or sell (or sell_short)"
    for label, text, low in (("qty", cells[q], "more than 0"), ("price", cells[p], "0 or more")):
        try:
            number = Decimal(text)
        except InvalidOperation:
            return f"{label} {text!r} is not a number"
        if not number.is_finite() or number < 0 or (label == "qty" and number == 0):
            return f"{label} {text!r} must be a finite number {low}"
    return "unreadable line"


def report(path: Path) -> tuple[dict[str, SymbolPnl], SymbolPnl]:
    """FIFO results per symbol and the TOTAL row for a fills file: exact integer columns when
    the file allows it (see ``fast_report``), else the Decimal matcher, the reference."""
    fast = fast_report(path)
    if fast is not None:
        return fast  # type: ignore[return-value]  # SymbolFigures: the same figures, no trade list
    results = match_fifo_rows(read_fills(path))
    return results, total(results.values())


def fast_report(path: Path):
    """The same figures from pandas-read integer columns, or None when only the exact path can
    be trusted with this file (a bad line, too many digits, overflow): then nothing was decided."""
    # Imported here: pandas and numpy load for this command only, not for every novalgo command.
    from novalgo.cli.pnl_columns import read_fill_columns
    from novalgo.domain.fifo_fast import match_fifo_columns

    columns = read_fill_columns(path)
    return None if columns is None else match_fifo_columns(columns)


def activities_report(path: Path) -> tuple[dict[str, SymbolPnl], SymbolPnl]:
    """FIFO results of a file of Alpaca activities, matched with Alpaca's labels as the Performance tab is."""
    try:
        activities = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BadFills(f"{path.name}: not a JSON file of Alpaca activities: {e}") from e
    if isinstance(activities, dict):  # one activity, or an export wrapping the list
        activities = activities.get("activities", [activities])
    if not isinstance(activities, list) or not all(isinstance(a, dict) for a in activities):
        raise BadFills(f"{path.name}: expected a JSON array of activities, as GET /v2/account/activities/FILL answers")
    try:
        fills = fills_from_activities(activities)
    except ValueError as e:
        raise BadFills(f"{path.name}: {e}") from e
    results = match_fifo(fills, alpaca_sides=True)
    return results, total(results.values())


def as_json(results: dict[str, SymbolPnl], overall: SymbolPnl) -> dict[str, object]:
    return {"symbols": {symbol: pnl_numbers(results[symbol]) for symbol in sorted(results)},
            "total": pnl_numbers(overall)}


TABLE_COLUMNS = ("symbol", "trades", "wins", "losses", "win rate", "total P&L", "avg P&L", "best", "worst",
                 "open qty", "avg cost")


def as_table(results: dict[str, SymbolPnl], overall: SymbolPnl) -> str:
    lines = [_table_row(results[symbol]) for symbol in sorted(results)] + [_table_row(overall)]
    widths = [max(len(row[i]) for row in [TABLE_COLUMNS, *lines]) for i in range(len(TABLE_COLUMNS))]
    rule = "  ".join("-" * w for w in widths)
    out = [_align(TABLE_COLUMNS, widths), rule, *(_align(row, widths) for row in lines[:-1]), rule,
           _align(lines[-1], widths)]
    return "\n".join(out)


def _table_row(result: SymbolPnl) -> tuple[str, ...]:
    numbers, t = pnl_numbers(result), result.tally()
    is_total = result.symbol == "TOTAL"
    return (result.symbol, str(t.total_trades), str(t.winning_trades), str(t.losing_trades),
            percent(t.win_rate), money(t.total_pnl), money(t.avg_pnl_per_trade),
            money(t.best_trade), money(t.worst_trade), "" if is_total else str(numbers["open_qty"]),
            "" if is_total or not result.open_qty else str(numbers["avg_cost"]))


def _align(cells, widths) -> str:
    # Text left, numbers right, as a trader reads a statement.
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()


@click.command("pnl", hidden=True)  # now `novalgo profit --by-symbol`; kept for a release
@click.option("--fills", "fills_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with columns time, symbol, side (buy, sell or sell_short), qty, price and optionally order_id.")
@click.option("--activities", "activities_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON array of Alpaca FILL activities as GET /v2/account/activities/FILL answers them; "
                   "a sell closes longs and a sell_short opens shorts, as Alpaca labels them.")
@click.option("--json", "json_output", is_flag=True,
              help="Print JSON instead of a table. Money fields are strings rounded to the cent "
                   "(\"250.50\"); win_rate is a percent string (\"55.56\"); open_qty is exact; "
                   "avg_cost is rounded to 4 decimals; null where undefined (no closed trades). "
                   "The total sums open_qty across symbols and gives avg_cost 0.")
def pnl(fills_path: Path | None, activities_path: Path | None, json_output: bool) -> None:
    """Realised FIFO P&L per symbol from a fills file or Alpaca activities.

    Fills sharing an order_id are one order, and its closing part is one trade; without
    order_id every fill is its own order. Times are ISO 8601 (UTC when no offset is given).
    A bad line stops the run with its line number and exit code 2.
    """
    # Millions of small objects that all live to the end: the cycle collector would only
    # rescan them over and over (a third of the run time), and nothing here makes cycles.
    if (fills_path is None) == (activities_path is None):
        raise click.UsageError("give one of --fills FILE.csv and --activities FILE.json")
    gc.disable()
    results, overall = report(fills_path) if fills_path else activities_report(activities_path)
    unmatched = getattr(overall, "unmatched_qty", ZERO)
    if unmatched:
        click.echo(f"note: Alpaca's labels say {plain(unmatched)} shares were bought or sold outside these "
                   "fills (a transfer, a split, or fills before the file's first): left out of the trades", err=True)
    if json_output:
        json.dump(as_json(results, overall), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        click.echo(as_table(results, overall))
