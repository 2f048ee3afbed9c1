"""The two switches a chat command flips in the sheet: the Settings tab's ``trading`` and a row's ``active``.

Writing the sheet (rather than keeping a pause of our own) means the executor needs nothing new,
and the sheet, the control panel, shows the change. Cells are found by header and key in the
tab as it is now, like the status writer, so rows inserted or columns moved are still hit.
Only the leader calls these (they read and write the sheet: never on a request path).
"""

from __future__ import annotations

from typing import Any

from novalgo.domain.config_rows import ACTIVE, SYMBOL, TIMEFRAME, header_index
from novalgo.domain.guards import SETTING, TRADING, VALUE
from novalgo.domain.symbols import normalize_symbol
from novalgo.errors import SheetUnavailable

ON, OFF = "on", "off"


def set_trading(backend: Any, on: bool) -> None:
    """Write ``on`` or ``off`` into the Settings tab's ``trading`` row (added if missing)."""
    if backend.kind == "local":
        from novalgo.sheet import local

        with backend._lock:
            values = local._read(backend.settings_path)
            changed = _trading_cells(values, on)
            local._write_atomic(backend.settings_path, changed)
        return
    from novalgo.sheet.google import FORMATTED, TabMissing, quoted

    with backend._lock:  # one write at a time on the sheet, as the status writer does
        try:
            _, values = backend.read_tab(backend.settings_tab, FORMATTED)
        except TabMissing:
            raise SheetUnavailable("the sheet has no Settings tab: run `novalgo sheet init`") from None
        row, column = _trading_cell(values)
        changed = _trading_cells(values, on)
        if row < len(values):
            data = [{"range": f"{quoted(backend.settings_tab)}!{_a1(row, column)}", "values": [[ON if on else OFF]]}]
        else:  # no trading row yet: the whole new row, its name included
            data = [{"range": f"{quoted(backend.settings_tab)}!{_a1(row, 0)}", "values": [changed[row]]}]
        backend.write_values(data, "RAW")


def set_active(backend: Any, symbol: str, active: bool) -> list[str]:
    """Tick or untick ``active`` on every Config row of ``symbol``; returns their Time Frames."""
    if backend.kind == "local":
        from novalgo.sheet import local

        with backend._lock:
            values = local._read(backend.config_path)
            found = _active_cells(values, symbol)
            for row, column, _timeframe in found:
                line = values[row]
                line.extend([""] * (column + 1 - len(line)))
                line[column] = "TRUE" if active else "FALSE"
            if found:
                local._write_atomic(backend.config_path, values)
        return [timeframe for _, _, timeframe in found]
    from novalgo.sheet.google import UNFORMATTED, quoted

    with backend._lock:
        _, values = backend.read_tab(backend.config_tab, UNFORMATTED)
        found = _active_cells(values, symbol)
        if found:
            # A boolean, not the text "FALSE": the cell is a checkbox and must stay one.
            backend.write_values([{"range": f"{quoted(backend.config_tab)}!{_a1(row, column)}", "values": [[active]]}
                                  for row, column, _ in found], "RAW")
    return [timeframe for _, _, timeframe in found]


# -- finding the cells (pure) -------------------------------------------------------------------


def _fold(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def _trading_cell(values: list[list[str]]) -> tuple[int, int]:
    """(row, column), 0-based, of the ``trading`` value; a row past the end when there is none."""
    if not values:
        raise SheetUnavailable("the Settings tab is empty: run `novalgo sheet init`")
    header = [_fold(cell) for cell in values[0]]
    if _fold(SETTING) not in header or _fold(VALUE) not in header:
        raise SheetUnavailable(f"the Settings tab needs a {SETTING} and a {VALUE} column in its first row")
    name_at, value_at = header.index(_fold(SETTING)), header.index(_fold(VALUE))
    for number, row in enumerate(values[1:], start=1):
        if name_at < len(row) and _fold(row[name_at]) == _fold(TRADING):
            return number, value_at
    return len(values), value_at


def _row_with(column: int, name: str, value: str, name_at: int) -> list[str]:
    row = [""] * (max(column, name_at) + 1)
    row[name_at], row[column] = name, value
    return row


def _trading_cells(values: list[list[str]], on: bool) -> list[list[str]]:
    row, column = _trading_cell(values)
    name_at = [_fold(c) for c in values[0]].index(_fold(SETTING))
    values = [list(line) for line in values]
    if row >= len(values):
        values.append(_row_with(column, TRADING, ON if on else OFF, name_at))
        return values
    values[row].extend([""] * (column + 1 - len(values[row])))
    values[row][column] = ON if on else OFF
    return values


def _active_cells(values: list[list[str]], symbol: str) -> list[tuple[int, int, str]]:
    """(row, column of active, Time Frame) of each Config row of ``symbol``."""
    if not values:
        return []
    columns = header_index(values[0])
    if SYMBOL not in columns or ACTIVE not in columns:
        raise SheetUnavailable(f"the Config tab needs a {SYMBOL} and an {ACTIVE} column")
    found = []
    for number, row in enumerate(values[1:], start=1):
        cell = row[columns[SYMBOL]] if columns[SYMBOL] < len(row) else ""
        try:
            same = bool(str(cell).strip()) and normalize_symbol(str(cell)) == symbol
        except ValueError:
            same = False
        if same:
            timeframe = row[columns[TIMEFRAME]] if TIMEFRAME in columns and columns[TIMEFRAME] < len(row) else ""
            found.append((number, columns[ACTIVE], str(timeframe).strip()))
    return found


def _a1(row: int, column: int) -> str:
    """A 0-based cell as A1 notation."""
    letters, n = "", column + 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row + 1}"
