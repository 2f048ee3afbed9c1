"""The Config tab as data: rows found by header and key, never by position.

People insert rows, reorder columns and add their own while the bot runs, so every read
and every status write goes through the header names and the (symbol, timeframe) key.
Both sheet backends (CSV and Google) hand their raw cell values to these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable, Sequence

from novalgo.domain.cells import yes_no
from novalgo.domain.money import parse_dollars
from novalgo.domain.row_rules import DOLLARS, TRADE_COLUMNS, Size, TradeRules, parse_rules, parse_size
from novalgo.domain.symbols import normalize_symbol
from novalgo.domain.timeframes import interval_label, interval_minutes

SYMBOL, SIZE, ACTIVE, TIMEFRAME, STATUS, UPDATED = (
    "symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated")
CONFIG_HEADERS = (SYMBOL, SIZE, ACTIVE, TIMEFRAME, STATUS, UPDATED)
REQUIRED = (SYMBOL, SIZE, ACTIVE, TIMEFRAME)
# Guard-rail columns: read by the engine's guards, carried here as the trader wrote them.
TRADING_HOURS, FLATTEN_AT, MAX_TRADES = "Trading Hours", "Flatten At", "Max Trades/Day"
GUARD_COLUMNS = (TRADING_HOURS, FLATTEN_AT, MAX_TRADES)
# Optional columns (issue order): a missing column or an empty cell keeps the default behaviour.
OPTIONAL_HEADERS = TRADE_COLUMNS + GUARD_COLUMNS


RowKey = tuple[str, int]  # (symbol, timeframe in minutes)


@dataclass(frozen=True)
class ConfigRow:
    """One Config row: trade ``symbol`` on the ``timeframe`` chart, sized and ruled as it says.

    ``position_size`` is the dollar amount when the size is in dollars (None otherwise);
    ``size`` is the size in any of its forms. ``problem`` is why a cell could not be read:
    the row's alerts then fail with it, rather than trading on a guess.
    """

    symbol: str
    timeframe: str
    timeframe_minutes: int
    position_size: Decimal | None
    active: bool
    row_number: int  # 1-based, as the sheet shows it (header is row 1)
    order_status: str = ""
    size: Size | None = None
    rules: TradeRules = TradeRules()
    options: dict[str, str] = field(default_factory=dict, compare=False)  # optional columns' text
    problem: str = ""

    def __post_init__(self) -> None:
        if self.size is None:
            object.__setattr__(self, "size", Size(DOLLARS, self.position_size))

    @property
    def key(self) -> RowKey:
        return (self.symbol, self.timeframe_minutes)

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.timeframe}"


@dataclass(frozen=True)
class ConfigSnapshot:
    rows: tuple[ConfigRow, ...] = ()
    problems: tuple[str, ...] = ()
    read_at: float = 0.0
    _index: dict[RowKey, ConfigRow] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for row in self.rows:
            self._index.setdefault(row.key, row)

    def find(self, symbol: str, minutes: int) -> ConfigRow | None:
        return self._index.get((symbol, minutes))

    def active_rows(self) -> list[ConfigRow]:
        return [row for row in self.rows if row.active]


def header_index(header: Sequence[str]) -> dict[str, int]:
    """Column number of each known header, matching loosely (case, spaces, underscores)."""
    wanted = {_fold(name): name for name in CONFIG_HEADERS + OPTIONAL_HEADERS}
    found: dict[str, int] = {}
    for column, text in enumerate(header):
        name = wanted.get(_fold(text))
        if name and name not in found:
            found[name] = column
    return found


def parse_config(values: Sequence[Sequence[str]], read_at: float = 0.0) -> ConfigSnapshot:
    """Rows and problems from the Config tab's cells (first row is the header)."""
    if not values:
        return ConfigSnapshot(problems=("the Config tab is empty: it needs a header row",), read_at=read_at)
    columns = header_index(values[0])
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        return ConfigSnapshot(problems=(f"the Config tab has no {', '.join(missing)} column",), read_at=read_at)
    rows: list[ConfigRow] = []
    problems: list[str] = []
    seen: set[RowKey] = set()
    for offset, cells in enumerate(values[1:], start=2):
        if not any(str(c).strip() for c in cells):
            continue
        try:
            row = _parse_row(cells, columns, offset)
        except ValueError as e:
            problems.append(f"row {offset}: {e}; skipped")
            continue
        if row.key in seen:
            problems.append(f"row {offset}: {row.label} appears twice; the first row is used")
            continue
        seen.add(row.key)
        rows.append(row)
        if row.problem:
            problems.append(f"row {offset}: {row.problem}; its alerts fail until it is fixed")
    return ConfigSnapshot(tuple(rows), tuple(problems), read_at)


def match_row(snapshot: ConfigSnapshot, symbol: str, minutes: int | None) -> tuple[ConfigRow | None, str]:
    """The row an alert trades on, or None with the reason a trader can act on."""
    if minutes is not None:
        row = snapshot.find(symbol, minutes)
        if row is None:
            return None, f"{symbol} {interval_label(minutes)} is not in the Config tab"
        return row, ""
    candidates = [row for row in snapshot.active_rows() if row.symbol == symbol]
    if len(candidates) == 1:
        return candidates[0], ""
    if not candidates:
        return None, f"the alert has no timeframe and {symbol} has no active row in the Config tab"
    listed = ", ".join(row.timeframe for row in candidates)
    return None, f"the alert has no timeframe and {symbol} has {len(candidates)} active rows ({listed}): add one to the alert"


def status_cells(values: Sequence[Sequence[str]], updates: Iterable[tuple[RowKey, str, str]]) -> tuple[list[tuple[int, int, str]], list[RowKey]]:
    """Where to write each (key, status, timestamp): a list of (row, column, text), 0-based, and the keys not found.

    Rows are located in the cells as they are now, so an inserted or sorted row is still hit.
    """
    if not values:
        return [], [key for key, _, _ in updates]
    columns = header_index(values[0])
    if SYMBOL not in columns or TIMEFRAME not in columns or STATUS not in columns:
        return [], [key for key, _, _ in updates]
    where: dict[RowKey, int] = {}
    for number, cells in enumerate(values[1:], start=1):
        key = _row_key(cells, columns)
        if key is not None:
            where.setdefault(key, number)
    cells_out: list[tuple[int, int, str]] = []
    missing: list[RowKey] = []
    for key, status, stamp in updates:
        row = where.get(key)
        if row is None:
            missing.append(key)
            continue
        cells_out.append((row, columns[STATUS], status))
        if UPDATED in columns:
            cells_out.append((row, columns[UPDATED], stamp))
    return cells_out, missing


def parse_bool(text: str) -> bool:
    return yes_no(text, f"active must be TRUE or FALSE, not {text!r}", also_yes={"active"}, also_no={"", "inactive"})


def parse_money(text: str) -> Decimal:
    """A dollar position_size (the first version's only form)."""
    return parse_dollars(text, SIZE)


def _parse_row(cells: Sequence[str], columns: dict[str, int], number: int) -> ConfigRow:
    def cell(name: str) -> str:
        column = columns.get(name)
        return str(cells[column]).strip() if column is not None and column < len(cells) else ""

    if not cell(SYMBOL):
        raise ValueError("no symbol")
    if not cell(TIMEFRAME):
        raise ValueError("no Time Frame")
    options = {name: cell(name) for name in OPTIONAL_HEADERS if cell(name)}
    problems: list[str] = []
    size, rules = Size(DOLLARS, None), TradeRules()
    try:
        size = parse_size(cell(SIZE))
    except ValueError as e:
        problems.append(str(e))
    try:
        rules = parse_rules(options)
    except ValueError as e:
        problems.append(str(e))
    return ConfigRow(
        symbol=normalize_symbol(cell(SYMBOL)),
        timeframe=cell(TIMEFRAME),
        timeframe_minutes=interval_minutes(cell(TIMEFRAME)),
        position_size=size.amount if size.kind == DOLLARS else None,
        active=parse_bool(cell(ACTIVE)),
        row_number=number,
        order_status=cell(STATUS),
        size=size,
        rules=rules,
        options=options,
        problem="; ".join(problems),
    )


def _row_key(cells: Sequence[str], columns: dict[str, int]) -> RowKey | None:
    try:
        symbol = str(cells[columns[SYMBOL]]).strip()
        timeframe = str(cells[columns[TIMEFRAME]]).strip()
        return (normalize_symbol(symbol), interval_minutes(timeframe))
    except (IndexError, ValueError):
        return None


def _fold(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())
