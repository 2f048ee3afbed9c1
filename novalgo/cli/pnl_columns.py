"""A fills CSV read by pandas into exact integer columns for the fast FIFO, or None.

None means "only the exact reader can be trusted with this file": a bad line (the exact
reader names it), a number with more digits than a float64 carries, a blank line pandas
skips but the csv module does not. ``novalgo pnl`` then takes the exact Decimal path, so a
refusal here costs time, never a different answer.
"""

from __future__ import annotations

import csv
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from novalgo.domain.fifo import SIDES
from novalgo.domain.fifo_fast import FillColumns

REQUIRED = ("time", "symbol", "side", "qty", "price")
MAX_PLACES = 9
# Two decimals of at most 15 significant digits never round to the same float64 (DBL_DIG), so
# a float that sits on such a grid gives back the very decimal the file wrote.
EXACT_DIGITS = 15
# pandas ≥ 3.1 parses every float correctly rounded; older versions only when asked.
_PANDAS = tuple(int(part) for part in pd.__version__.split(".")[:2])
_ROUND_TRIP = {} if _PANDAS >= (3, 1) else {"float_precision": "round_trip"}
# Bytes that may belong to the digits of a number: a run of 16 of them could be a value with
# more digits than a float64 keeps apart from its neighbours.
_DIGITS_MAP = bytes(ord("1") if chr(i) in "0123456789." else ord("0") for i in range(256))
_TOO_MANY_DIGITS = b"1" * (EXACT_DIGITS + 1)

_READ_ERRORS = (ValueError, TypeError, OverflowError, OSError, UnicodeDecodeError, csv.Error)


def read_fill_columns(path: Path) -> FillColumns | None:
    """The fills of a CSV as exact scaled-integer columns, or None to leave it to the exact reader."""
    try:
        return _read(path)
    except _READ_ERRORS:  # the exact reader reads the file again and says what is wrong
        return None


def _read(path: Path) -> FillColumns | None:
    columns = _header(path)
    if columns is None:
        return None
    t, s, d, q, p = (columns[c] for c in REQUIRED)
    o = columns.get("order_id")
    width = max(columns.values()) + 1
    dtypes: dict[int, object] = {i: object for i in range(width)}
    dtypes[q] = dtypes[p] = np.float64
    dtypes[s] = dtypes[d] = "category"  # a few distinct values: coded by the parser, no str per fill
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Plain byte work, done while pandas parses (which leaves a core mostly idle).
        counted = pool.submit(_plain_lines, path)
        try:
            # No usecols and no compression: pandas then splits the file across threads, and a
            # .gz name is not quietly unpacked (the exact reader would refuse it).
            frame = pd.read_csv(path, header=None, skiprows=1, index_col=False, dtype=dtypes, na_filter=False,
                                encoding="utf-8-sig", compression=None, **_ROUND_TRIP)
        except pd.errors.EmptyDataError:
            frame = None
        lines = counted.result()
    if lines is None:
        return None
    if frame is None:  # a header and no fills is an empty report; anything else is the exact reader's
        return _no_fills() if lines == 1 else None
    # One row per line: no blank or whitespace-only line inside (the csv module refuses the
    # latter), no field spread over lines.
    if lines != len(frame) + 1 or frame.shape[1] < width:
        return None

    qty = _scaled(frame[q].to_numpy())
    price = _scaled(frame[p].to_numpy())
    if qty is None or price is None or not (qty[0] > 0).all() or not (price[0] > 0).all():
        return None  # a zero price could be the underflow of 1e-400: leave it to Decimal
    symbols = _symbols(frame[s].cat)
    is_buy = _sides(frame[d].cat)
    times = utc_microseconds(frame[t].to_numpy())
    order = _orders(frame[o].to_numpy()) if o is not None else -1 - np.arange(len(frame))
    if symbols is None or is_buy is None or order is None:
        return None
    names, codes = symbols
    return FillColumns(names, codes, times, is_buy, qty[0], qty[1], price[0], price[1], order)


def _plain_lines(path: Path) -> int | None:
    """The file's lines, or None if it holds a number with more digits than a float64 keeps."""
    raw = path.read_bytes()
    if raw.translate(_DIGITS_MAP).find(_TOO_MANY_DIGITS) >= 0:
        return None
    return _lines(raw)


def _no_fills() -> FillColumns:
    nothing = np.zeros(0, dtype=np.int64)
    return FillColumns([], nothing, nothing, nothing.astype(bool), nothing, 0, nothing, 0, nothing)


def _lines(raw: bytes) -> int:
    """Lines in the file, not counting empty ones at its end, which both readers skip."""
    end = len(raw)
    while end and raw[end - 1] in b"\r\n":
        end -= 1
    return raw.count(b"\n", 0, end) + 1 if end else 0


def _header(path: Path) -> dict[str, int] | None:
    """Column positions by name, read as the exact reader reads them (later duplicates win)."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), None)
    if header is None:
        return None
    columns = {cell.strip().lower(): i for i, cell in enumerate(header)}
    return columns if all(c in columns for c in REQUIRED) else None


def _scaled(values: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Floats as exact integers × 10**-places with the fewest places (0–9), or None."""
    if values.dtype != np.float64 or not np.isfinite(values).all():
        return None
    rest = values
    for places in range(MAX_PLACES + 1):
        factor = 10.0**places
        # Only the values not yet on a grid are tried on the next, finer one.
        rest = rest[np.rint(rest * factor) / factor != rest]
        if not len(rest):
            break
    else:
        return None
    ints = np.rint(values * factor)
    # The whole column, once more, on the chosen grid and within 15 digits: then each integer
    # is exactly the decimal written in the file (which had at most 15 digits, checked above).
    if len(ints) and (np.abs(ints).max() >= 10.0**EXACT_DIGITS or (ints / factor != values).any()):
        return None
    return ints.astype(np.int64), places


def _symbols(column) -> tuple[list[str], np.ndarray] | None:
    """Codes per fill and the stripped names; " AAPL" and "AAPL" are one symbol, as in the exact reader."""
    names = [str(c).strip() for c in column.categories]
    codes = column.codes.to_numpy()
    if not all(names) or (codes < 0).any():
        return None
    if len(set(names)) < len(names):
        merged, kept = pd.factorize(np.array(names, dtype=object))
        codes, names = merged[codes], list(kept)
    return names, codes


def _sides(column) -> np.ndarray | None:
    """True for a buy, per fill; None if a side is not buy, sell or sell_short (any case, spaces)."""
    buys = [SIDES.get(str(c).strip().lower()) for c in column.categories]
    codes = column.codes.to_numpy()
    if any(b is None for b in buys) or (codes < 0).any():
        return None
    return np.array(buys, dtype=bool)[codes]


def utc_microseconds(values: np.ndarray) -> np.ndarray:
    """Microseconds since the epoch (UTC; no offset means UTC) of ISO 8601 times, as the exact
    reader reads them; ValueError for a time it refuses, or one pandas cannot value.

    Python's own parser judges what is a time (pandas also takes "2025-01" or " 2025-01-02");
    pandas' C parser gives the values, cut to Python's microseconds (Python truncates further
    digits, hence the floor). tests/domain/test_fifo_fast.py checks the two agree.
    """
    deque(map(datetime.fromisoformat, values), maxlen=0)
    parsed = pd.to_datetime(values, format="ISO8601", utc=True)
    ticks = parsed.asi8
    if parsed.unit == "ns":
        return ticks // 1_000
    return ticks * {"s": 1_000_000, "ms": 1_000, "us": 1}[parsed.unit]


def _orders(values: np.ndarray) -> np.ndarray | None:
    """An int code per distinct order id; an empty id gets a code of its own per fill (the
    exact reader names it "line N", an id no other fill has)."""
    codes, uniques = pd.factorize(values)
    empty = np.flatnonzero(uniques == "")
    if len(empty):
        # A literal "line N" id could then equal a generated one: rare enough to leave to Decimal.
        if pd.Series(uniques).str.startswith("line ").any():
            return None
        lone = np.flatnonzero(codes == empty[0])
        codes[lone] = -1 - lone  # negative, so never another fill's code
    return codes.astype(np.int64)
