"""The fast path of ``novalgo pnl`` prints exactly what the Decimal path prints, or steps aside.

The proof of exactness is the property test: random long/short fills written as a CSV (the
same file read both ways) give byte-identical ``--json`` and table output, and files at the
edge of what a float64 carries either stay exact or fall back to the Decimal reader.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from novalgo.cli import main
from novalgo.cli.pnl import as_json, as_table, fast_report, read_fills
from novalgo.cli.pnl_columns import utc_microseconds
from novalgo.domain import fifo_fast
from novalgo.domain.fifo import match_fifo_rows, total

HEADER = "time,symbol,side,qty,price,order_id"
T0 = "2025-03-03T14:"


def exact_output(path: Path) -> tuple[str, str]:
    """The reference: the csv/Decimal reader and match_fifo_rows, as --json and as the table."""
    results = match_fifo_rows(read_fills(path))
    overall = total(results.values())
    return json.dumps(as_json(results, overall), indent=1), as_table(results, overall)


def fast_output(path: Path) -> tuple[str, str] | None:
    fast = fast_report(path)
    if fast is None:
        return None
    return json.dumps(as_json(*fast), indent=1), as_table(*fast)


def cli_json(path: Path) -> str:
    result = CliRunner().invoke(main, ["pnl", "--fills", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return result.output


def write(folder: Path, lines: list[str], name: str = "fills.csv") -> Path:
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def minute(m: int, second: int = 0) -> str:
    return f"{T0}{30 + m:02d}:{second:02d}Z"


# --- the property: random trading, the same bytes both ways ----------------------------------

# Quantities on few grids and few sizes, so positions often come back to exactly zero (trade
# ends), flip, and equal prices make break-even trades. Two precision profiles, each within
# what int64 holds in scaled units: Alpaca's 9-place fractional shares with cent prices, and
# whole-ish quantities with sub-penny prices.
def decimals(below: int, places: int):
    """Numbers below ``below`` written with 0 to ``places`` decimals."""
    return st.integers(0, places).flatmap(
        lambda d: st.integers(1, below * 10**d - 1).map(lambda m: f"{D(m).scaleb(-d):f}"))


common_quantities = st.sampled_from(["1", "2", "5", "10", "0.5", "1.5", "2.25", "3.000", "1E+1", "2.5e0", "+3"])
common_prices = st.sampled_from(["100", "100.00", "101.5", "99.75", "250.50", "1e2"])
PROFILES = {
    "fractional shares": (st.one_of(common_quantities, decimals(100, 9), st.just("0.123456789")),
                          st.one_of(common_prices, decimals(1000, 2))),
    "sub-penny prices": (st.one_of(common_quantities, decimals(10_000, 3)),
                         st.one_of(common_prices, decimals(10_000, 4), st.sampled_from(["100.0001", "0.0001"]))),
}
sides = st.sampled_from(["buy", "sell", "sell_short", "BUY", "Sell", " buy "])
symbols = st.sampled_from(["AAPL", "TSLA", "F", " AAPL"])  # " AAPL" is AAPL to both readers
order_ids = st.sampled_from(["o1", "o2", "o3", ""])  # reused across sides; "" is its own order
times = st.builds(
    lambda m, s, form: [f"{T0}{30 + m:02d}:{s:02d}Z", f"2025-03-03 09:{30 + m:02d}:{s:02d}-05:00",  # same instant
                        f"{T0}{30 + m:02d}:{s:02d}", f"{T0}{30 + m:02d}:{s:02d}.5+00:00"][form],
    st.integers(0, 20), st.integers(0, 59), st.integers(0, 3))  # ties and lines out of time order


@st.composite
def fills_files(draw) -> list[str]:
    """CSV lines: a run of fills, some continuing the previous order (partial fills)."""
    with_ids = draw(st.booleans())
    quantities, prices = PROFILES[draw(st.sampled_from(sorted(PROFILES)))]
    lines = [HEADER if with_ids else HEADER.removesuffix(",order_id")]
    previous = None
    for _ in range(draw(st.integers(0, 40))):
        if previous and draw(st.booleans()):  # another fill of the same order, a moment later
            when, symbol, side, _, _, order = previous
        else:
            when, symbol, side, order = draw(times), draw(symbols), draw(sides), draw(order_ids)
        row = [when, symbol, side, draw(quantities), draw(prices), order]
        previous = row
        lines.append(",".join(row if with_ids else row[:5]))
    return lines


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fills_files(), st.sampled_from([1, 5, fifo_fast.CHUNK]))
def test_fast_path_prints_the_same_bytes_as_the_exact_path(lines, chunk):
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), lines)
        usual, fifo_fast.CHUNK = fifo_fast.CHUNK, chunk  # small chunks: symbols matched a few at a time
        try:
            fast = fast_output(path)
        finally:
            fifo_fast.CHUNK = usual
        # Every value above fits the integer rules, and no literal "line N" id: no excuse to step aside.
        assert fast is not None
        assert fast == exact_output(path)


# Values at the edges of the scaling rules: each file either runs fast and exact or falls back,
# and what the user sees is the reference either way.
edge_quantities = st.sampled_from([
    "0.000000001", "0.0000000001", "0.000000000001",  # 9 places fast; 10 and 12 fall back
    "999999999999999", "99999999999999.9", "1000000000000000",  # 15 digits fast; 16 fall back
    "0.29999999999999999", "0.30000000000000004", "1.0000000000000000001",  # more digits than a float
    "999999.999999999", "123.456789", "1000000",  # 15 digits on the finest grid, and mixed with others
    "1e-400", "1e400", "4611686018427387904",  # underflow, overflow, 2**62
])
edge_prices = st.sampled_from(["100", "0", "1e-400", "0.000000001", "999999999999999", "3037000499.97605",
                               "12345.6789012345", "0.0001"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["buy", "sell"]), st.one_of(common_quantities, edge_quantities),
                          st.one_of(common_prices, edge_prices)), min_size=1, max_size=6))
def test_at_the_edges_of_float64_the_answer_is_still_the_reference(rows):
    lines = [HEADER] + [f"{minute(i)},AAPL,{side},{qty},{price},o{i}" for i, (side, qty, price) in enumerate(rows)]
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), lines)
        try:
            expected = exact_output(path)
        except Exception:  # noqa: BLE001 — a file the exact reader refuses: the fast one must too
            assert fast_report(path) is None
            return
        fast = fast_output(path)
        assert fast is None or fast == expected


# --- the hand-worked cases of test_fifo.py, through the fast path -----------------------------

def fast_figures(tmp_path: Path, rows: list[str], with_ids: bool = True) -> dict:
    path = write(tmp_path, [HEADER if with_ids else HEADER.removesuffix(",order_id"), *rows])
    assert fast_report(path) is not None, "the fast path stepped aside"
    report = json.loads(cli_json(path))
    assert json.dumps(report, indent=1) == exact_output(path)[0].strip()
    return report


def test_simple_round_trip_is_one_winning_long(tmp_path):
    rows = [f"{minute(0)},AAPL,buy,10,100,b", f"{minute(5)},AAPL,sell,10,110,s"]
    aapl = fast_figures(tmp_path, rows)["symbols"]["AAPL"]
    assert (aapl["total_trades"], aapl["winning_trades"], aapl["win_rate"]) == (1, 1, "100.00")
    assert aapl["total_pnl"] == "100.00"
    assert (aapl["open_qty"], aapl["avg_cost"]) == ("0", "0")


def test_partial_fills_of_one_order_are_one_trade(tmp_path):
    aapl = fast_figures(tmp_path, [
        f"{minute(0)},AAPL,buy,6,100,b1", f"{minute(1)},AAPL,buy,4,105,b1",
        f"{minute(2)},AAPL,sell,4,110,s1", f"{minute(3)},AAPL,sell,6,111,s1",
    ])["symbols"]["AAPL"]
    assert (aapl["total_trades"], aapl["total_pnl"]) == (1, "86.00")  # 1106 − 1020


def test_oldest_lot_is_closed_first(tmp_path):
    aapl = fast_figures(tmp_path, [f"{minute(0)},AAPL,buy,1,100,a", f"{minute(1)},AAPL,buy,1,200,b",
                                   f"{minute(2)},AAPL,sell,1,150,c"])["symbols"]["AAPL"]
    assert (aapl["total_pnl"], aapl["open_qty"], aapl["avg_cost"]) == ("50.00", "1", "200")


def test_short_then_cover(tmp_path):
    aapl = fast_figures(tmp_path, [f"{minute(0)},AAPL,sell,5,50,a", f"{minute(1)},AAPL,buy,5,45,b"])["symbols"]["AAPL"]
    assert (aapl["total_trades"], aapl["total_pnl"], aapl["open_qty"]) == (1, "25.00", "0")


def test_flip_long_10_sell_15_closes_10_and_opens_short_5(tmp_path):
    flip = [f"{minute(0)},AAPL,buy,10,100,a", f"{minute(1)},AAPL,sell,15,110,b"]
    aapl = fast_figures(tmp_path, flip)["symbols"]["AAPL"]
    assert (aapl["total_trades"], aapl["total_pnl"], aapl["open_qty"], aapl["avg_cost"]) == (1, "100.00", "-5", "110")
    later = fast_figures(tmp_path, [*flip, f"{minute(2)},AAPL,buy,5,120,c"])["symbols"]["AAPL"]
    assert (later["total_trades"], later["best_trade"], later["worst_trade"]) == (2, "100.00", "-50.00")
    assert later["open_qty"] == "0"


def test_one_order_that_flips_and_comes_back_makes_two_trades(tmp_path):
    # Order x closes the long, opens a short, then (same id) covers it: a long and a short trade.
    aapl = fast_figures(tmp_path, [f"{minute(0)},AAPL,buy,10,100,a", f"{minute(1)},AAPL,sell,15,110,x",
                                   f"{minute(2)},AAPL,buy,5,100,x"])["symbols"]["AAPL"]
    assert (aapl["total_trades"], aapl["best_trade"], aapl["total_pnl"]) == (2, "100.00", "150.00")


def test_fractional_quantities(tmp_path):
    aapl = fast_figures(tmp_path, [f"{minute(0)},AAPL,buy,0.5,200,a", f"{minute(1)},AAPL,buy,0.25,220,b",
                                   f"{minute(2)},AAPL,sell,0.6,210,c"])["symbols"]["AAPL"]
    assert (aapl["total_pnl"], aapl["open_qty"], aapl["avg_cost"]) == ("4.00", "0.15", "220")


def test_interleaved_symbols_keep_their_own_lots_and_orders(tmp_path):
    report = fast_figures(tmp_path, [
        f"{minute(0)},AAPL,buy,10,100,a", f"{minute(1)},TSLA,sell,3,200,t1", f"{minute(2)},AAPL,sell,4,101,s1",
        f"{minute(3)},TSLA,buy,3,190,t2", f"{minute(4)},AAPL,sell,6,102,s1",  # s1 again: still one trade
    ])["symbols"]
    assert (report["AAPL"]["total_trades"], report["AAPL"]["total_pnl"]) == (1, "16.00")
    assert (report["TSLA"]["total_trades"], report["TSLA"]["total_pnl"]) == (1, "30.00")


def test_break_even_trade_is_neither_win_nor_loss(tmp_path):
    aapl = fast_figures(tmp_path, [f"{minute(0)},AAPL,buy,10,100,a", f"{minute(1)},AAPL,sell,10,100,b",
                                   f"{minute(2)},AAPL,buy,1,100,c", f"{minute(3)},AAPL,sell,1,90,d"])["symbols"]["AAPL"]
    assert (aapl["total_trades"], aapl["winning_trades"], aapl["losing_trades"], aapl["win_rate"]) == (2, 0, 1, "0.00")
    assert (aapl["best_trade"], aapl["worst_trade"]) == ("0.00", "-10.00")


def test_only_open_lots_means_no_trades_and_undefined_rates(tmp_path):
    aapl = fast_figures(tmp_path, [f"{minute(0)},AAPL,buy,2,100,a", f"{minute(1)},AAPL,buy,2,110,b"])["symbols"]["AAPL"]
    assert aapl["total_trades"] == 0
    assert aapl["win_rate"] is aapl["avg_pnl_per_trade"] is aapl["best_trade"] is aapl["worst_trade"] is None
    assert (aapl["total_pnl"], aapl["open_qty"], aapl["avg_cost"]) == ("0.00", "4", "105")


def test_win_rate_is_a_percent_of_closed_trades(tmp_path):
    aapl = fast_figures(tmp_path, [f"{minute(0)},AAPL,buy,3,100", f"{minute(1)},AAPL,sell,1,110",
                                   f"{minute(2)},AAPL,sell,1,90", f"{minute(3)},AAPL,sell,1,101"],
                        with_ids=False)["symbols"]["AAPL"]
    assert (aapl["total_trades"], aapl["winning_trades"], aapl["win_rate"]) == (3, 2, "66.67")


def test_total_row_adds_up_every_symbol(tmp_path):
    report = fast_figures(tmp_path, [f"{minute(0)},AAPL,buy,1,100,a", f"{minute(1)},AAPL,sell,1,150,b",
                                     f"{minute(2)},F,sell,2,10,c", f"{minute(3)},F,buy,1,12,d"])
    assert report["total"] == {
        "total_trades": 2, "winning_trades": 1, "losing_trades": 1, "win_rate": "50.00", "total_pnl": "48.00",
        "avg_pnl_per_trade": "24.00", "best_trade": "50.00", "worst_trade": "-2.00", "open_qty": "-1", "avg_cost": "0"}


def test_fills_out_of_order_are_sorted_by_time_across_offsets(tmp_path):
    aapl = fast_figures(tmp_path, ["2025-01-02T09:45:00-05:00,AAPL,sell,1,110,s",
                                   "2025-01-02T14:30:00,AAPL,buy,1,100,b"])
    assert (aapl["symbols"]["AAPL"]["winning_trades"], aapl["symbols"]["AAPL"]["total_pnl"]) == (1, "10.00")


def test_alpacas_sell_short_is_a_sell(tmp_path):
    aapl = fast_figures(tmp_path, [f"{minute(0)},AAPL,sell_short,5,50,a", f"{minute(1)},AAPL,BUY,5,45,b"])
    assert aapl["symbols"]["AAPL"]["total_pnl"] == "25.00"


def test_more_symbols_than_a_small_integer_counts(tmp_path):
    # 33,000 symbols: their codes no longer fit the int16 sort, the general one takes over.
    rows = [f"{minute(0)},S{n},buy,1,10,b{n}" for n in range(33_000)]
    rows += [f"{minute(1)},S{n},sell,1,{10 + n % 3},s{n}" for n in range(0, 33_000, 11)]
    report = fast_figures(tmp_path, rows)
    assert (report["total"]["total_trades"], report["total"]["winning_trades"]) == (3_000, 2_000)
    assert report["total"]["open_qty"] == "30000"


@pytest.mark.parametrize("text", [
    "time,symbol,side,qty,price,order_id\r\n{a}\r\n{b}\r\n",  # Windows line ends
    "time,symbol,side,qty,price,order_id\n{a}\n{b}",  # no newline at the end
    "\ufefftime,symbol,side,qty,price,order_id\n{a}\n{b}\n\n\n",  # a BOM, blank lines at the end
    " Price ,QTY,Side,Symbol,Time,order_id,note\n{r}\n{s}\n",  # columns found by name, one unused
])
def test_file_layouts_the_exact_reader_takes_are_read_fast_and_the_same(tmp_path, text):
    a, b = f"{minute(0)},AAPL,buy,1.5,100.25,o1", f"{minute(1)},AAPL,sell,1.5,101,o2"
    r, s = f"100.25,1.5,buy,AAPL,{minute(0)},o1,first", f"101,1.5,sell,AAPL,{minute(1)},o2,\"a, quoted note\""
    path = tmp_path / "fills.csv"
    path.write_bytes(text.format(a=a, b=b, r=r, s=s).encode())
    assert fast_output(path) == exact_output(path)
    assert json.loads(cli_json(path))["symbols"]["AAPL"]["total_pnl"] == "1.13"  # 1.5 × 0.75, half up


# --- stepping aside: the Decimal path answers, and answers right -------------------------------

def test_a_twelve_decimal_quantity_falls_back_and_stays_exact(tmp_path):
    path = write(tmp_path, [HEADER, f"{minute(0)},AAPL,buy,0.000000000001,100,a", f"{minute(1)},AAPL,buy,1,100,b",
                            f"{minute(2)},AAPL,sell,0.5,102,c"])
    assert fast_report(path) is None
    aapl = json.loads(cli_json(path))["symbols"]["AAPL"]
    assert (aapl["open_qty"], aapl["total_pnl"]) == ("0.500000000001", "1.00")


def test_a_product_that_could_overflow_int64_falls_back_and_stays_exact(tmp_path):
    # 99,999,999,999 shares × $99,999,999.99 is 10**21 cents: past int64, easy for Decimal.
    path = write(tmp_path, [HEADER, f"{minute(0)},BIG,buy,99999999999,99999999.99,a",
                            f"{minute(1)},BIG,sell,99999999999,100000000,b"])
    assert fast_report(path) is None
    big = json.loads(cli_json(path))["symbols"]["BIG"]
    assert big["total_pnl"] == "999999999.99"  # a cent on each share


def test_seventeen_digits_that_a_float_would_round_fall_back(tmp_path):
    # float("0.29999999999999999") == 0.3: only the exact reader keeps the last digits.
    path = write(tmp_path, [HEADER, f"{minute(0)},AAPL,buy,0.29999999999999999,100,a"])
    assert fast_report(path) is None
    assert json.loads(cli_json(path))["symbols"]["AAPL"]["open_qty"] == "0.29999999999999999"


@pytest.mark.parametrize("lines", [
    [HEADER, f"{minute(0)},AAPL,buy,1,100,a", "", f"{minute(1)},AAPL,sell,1,101,b"],  # a blank line inside
    [HEADER, f"{minute(0)},AAPL,buy,1,100,", f"{minute(1)},AAPL,sell,1,101,line 3"],  # "line N" could collide
    [HEADER, f"{minute(0)},AAPL,buy,1,0,a", f"{minute(1)},AAPL,sell,1,101,b"],  # a zero price
    [HEADER, f"{minute(0)},AAPL,buy,1,100,a", f"{minute(1)},AAPL,sell,1,101,b,extra"],  # a longer line
])
def test_files_pandas_would_read_differently_fall_back_with_the_same_answer(tmp_path, lines):
    path = write(tmp_path, lines)
    assert fast_report(path) is None
    assert cli_json(path).strip() == exact_output(path)[0]


@pytest.mark.parametrize("lines, where", [
    ([HEADER, f"{minute(0)},AAPL,buy,1,100,a", "   ", f"{minute(1)},AAPL,sell,1,101,b"], "line 3"),  # pandas skips it
    ([HEADER, f"{minute(0)},AAPL,buy,1,100,a", f"{minute(1)},AAPL,hold,1,101,b"], "line 3"),
    ([HEADER, f"{minute(0)},AAPL,buy,NaN,100,a"], "line 2"),
    ([HEADER, f"{minute(0)},AAPL,buy,1,100,a", f"{minute(1)}, ,buy,1,100,a"], "line 3"),
    ([HEADER, f"{minute(0)},AAPL,buy,1,100,a", "2025-01,AAPL,buy,1,100,a"], "line 3"),  # pandas would take it
    ([HEADER, f"{minute(0)},AAPL,buy,1,100,a", f"{minute(1)},AAPL,buy"], "line 3"),
])
def test_a_bad_line_is_still_named_by_the_exact_reader(tmp_path, lines, where):
    path = write(tmp_path, lines)
    assert fast_report(path) is None
    result = CliRunner().invoke(main, ["pnl", "--fills", str(path), "--json"])
    assert result.exit_code == 2 and where in result.output


def test_a_compressed_looking_name_is_read_as_text_like_the_exact_reader(tmp_path):
    path = write(tmp_path, [HEADER, f"{minute(0)},AAPL,buy,1,100,a"], name="fills.csv.gz")
    assert fast_report(path) is not None
    assert json.loads(cli_json(path))["symbols"]["AAPL"]["open_qty"] == "1"


# --- times: pandas gives the values, Python's parser decides what is a time --------------------

def python_microseconds(text: str) -> int:
    when = datetime.fromisoformat(text)
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return (when - EPOCH) // timedelta(microseconds=1)


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
iso_times = st.builds(
    lambda date, sep, clock, tz: date + (sep + clock + tz if clock else ""),
    st.builds(lambda y, m, d, basic: f"{y:04d}{m:02d}{d:02d}" if basic else f"{y:04d}-{m:02d}-{d:02d}",
              st.integers(1678, 2261), st.integers(1, 12), st.integers(1, 28), st.booleans()),
    st.sampled_from(["T", " ", "t", "_"]),
    st.one_of(st.just(""), st.builds(
        lambda h, m, s, frac, form: [f"{h:02d}", f"{h:02d}:{m:02d}", f"{h:02d}:{m:02d}:{s:02d}{frac}",
                                     f"{h:02d}{m:02d}{s:02d}{frac}"][form],
        st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
        st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=10).map(lambda f: "." + f)),
        st.integers(0, 3))),
    st.sampled_from(["", "Z", "+00:00", "-05:00", "+0530", "+05", "-08:00", "+05:30:15", "z", " +01:00"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(iso_times, min_size=1, max_size=12))
def test_times_are_the_instants_pythons_own_parser_reads(texts):
    try:
        expected = [python_microseconds(t) for t in texts]
    except ValueError:
        expected = None  # the exact reader names the line: the fast reader must not take it
    try:
        got = utc_microseconds(np.array(texts, dtype=object)).tolist()
    except ValueError:
        got = None  # pandas refuses: the exact reader takes the file
    assert got is None or got == expected
