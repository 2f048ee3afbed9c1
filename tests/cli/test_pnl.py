"""``novalgo pnl --fills FILE.csv``: what an operator sees, table and JSON, and bad files refused."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from novalgo.broker.base import Fill
from novalgo.cli import main
from tests.support.fifo_reference import brute_force

FIELDS = {"total_trades", "winning_trades", "losing_trades", "win_rate", "total_pnl", "avg_pnl_per_trade",
          "best_trade", "worst_trade", "open_qty", "avg_cost"}


def write(tmp_path: Path, text: str, name: str = "fills.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run(*args: str):
    return CliRunner().invoke(main, ["pnl", *args])


FLIP_AND_SHORT = """time,symbol,side,qty,price,order_id
2025-01-02T14:30:00Z,AAPL,buy,10,100,a1
2025-01-02T14:31:00Z,AAPL,sell,15,110,a2
2025-01-02T14:32:00Z,TSLA,sell,2,250.50,t1
2025-01-02T14:33:00Z,TSLA,buy,2,240.25,t2
2025-01-02T14:34:00Z,AAPL,buy,5,111,a3
"""


def test_json_has_every_figure_per_symbol_and_a_total(tmp_path):
    result = run("--fills", str(write(tmp_path, FLIP_AND_SHORT)), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"symbols", "total"} and set(report["symbols"]) == {"AAPL", "TSLA"}
    assert all(set(figures) == FIELDS for figures in [*report["symbols"].values(), report["total"]])
    # Long 10 @100 sold at 110 (+100), then the short 5 @110 covered at 111 (−5).
    assert report["symbols"]["AAPL"] == {
        "total_trades": 2, "winning_trades": 1, "losing_trades": 1, "win_rate": "50.00", "total_pnl": "95.00",
        "avg_pnl_per_trade": "47.50", "best_trade": "100.00", "worst_trade": "-5.00", "open_qty": "0",
        "avg_cost": "0"}
    assert report["symbols"]["TSLA"]["total_pnl"] == "20.50"
    assert report["total"]["total_pnl"] == "115.50" and report["total"]["win_rate"] == "66.67"


def test_open_position_and_undefined_figures(tmp_path):
    path = write(tmp_path, "time,symbol,side,qty,price\n2025-01-02T14:30:00,F,buy,1.5,10.01\n"
                           "2025-01-02T14:31:00,F,buy,0.5,10.05\n")
    figures = json.loads(run("--fills", str(path), "--json").output)["symbols"]["F"]
    assert figures["total_trades"] == 0
    assert figures["win_rate"] is figures["avg_pnl_per_trade"] is figures["best_trade"] is None
    assert (figures["open_qty"], figures["avg_cost"], figures["total_pnl"]) == ("2", "10.02", "0.00")


def test_fills_of_one_order_id_are_one_trade_and_without_ids_each_fill_is_one(tmp_path):
    with_ids = write(tmp_path, "time,symbol,side,qty,price,order_id\n2025-01-02T14:30:00Z,AAPL,buy,10,100,b\n"
                               "2025-01-02T14:31:00Z,AAPL,sell,4,101,s\n2025-01-02T14:31:01Z,AAPL,sell,6,99,s\n")
    without = write(tmp_path, "time,symbol,side,qty,price\n2025-01-02T14:30:00Z,AAPL,buy,10,100\n"
                              "2025-01-02T14:31:00Z,AAPL,sell,4,101\n2025-01-02T14:31:01Z,AAPL,sell,6,99\n",
                    "no_ids.csv")
    one = json.loads(run("--fills", str(with_ids), "--json").output)["symbols"]["AAPL"]
    two = json.loads(run("--fills", str(without), "--json").output)["symbols"]["AAPL"]
    assert (one["total_trades"], one["total_pnl"], one["losing_trades"]) == (1, "-2.00", 1)
    assert (two["total_trades"], two["winning_trades"], two["losing_trades"], two["total_pnl"]) == (2, 1, 1, "-2.00")


def test_times_are_put_in_order_across_offsets(tmp_path):
    # 14:30Z is 09:30 New York: the sell at 09:45-05:00 comes after the buy though listed first.
    path = write(tmp_path, "time,symbol,side,qty,price\n2025-01-02T09:45:00-05:00,AAPL,sell,1,110\n"
                           "2025-01-02T14:30:00Z,AAPL,buy,1,100\n")
    figures = json.loads(run("--fills", str(path), "--json").output)["symbols"]["AAPL"]
    assert (figures["winning_trades"], figures["total_pnl"], figures["open_qty"]) == (1, "10.00", "0")


def test_table_lists_symbols_and_total_in_the_sheets_money_format(tmp_path):
    result = run("--fills", str(write(tmp_path, FLIP_AND_SHORT)))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["symbol", "trades"]
    aapl = next(line for line in lines if line.startswith("AAPL")).split()
    assert aapl[:9] == ["AAPL", "2", "1", "1", "50.0%", "$95.00", "$47.50", "$100.00", "-$5.00"]
    assert lines[-1].split()[:6] == ["TOTAL", "3", "2", "1", "66.7%", "$115.50"]


@pytest.mark.parametrize("text, where, words", [
    ("time,symbol,side,qty,price\n2025-01-02T14:30:00Z,AAPL,buy,1,100\n2025-01-02T14:31:00Z,AAPL,hold,1,100\n",
     "line 3", "side 'hold' must be buy or sell"),
    ("time,symbol,side,qty,price\n2025-01-02T14:30:00Z,AAPL,buy,ten,100\n", "line 2", "qty 'ten' is not a number"),
    ("time,symbol,side,qty,price\n2025-01-02T14:30:00Z,AAPL,buy,-1,100\n", "line 2", "qty '-1' must be"),
    ("time,symbol,side,qty,price\n2025-01-02T14:30:00Z,AAPL,buy,1,NaN\n", "line 2", "price 'NaN' must be"),
    ("time,symbol,side,qty,price\nyesterday,AAPL,buy,1,100\n", "line 2", "time 'yesterday' is not an ISO 8601"),
    ("time,symbol,side,qty,price\n2025-01-02T14:30:00Z,AAPL,buy\n", "line 2", "expected at least 5 columns"),
    ("time,symbol,qty,price\n2025-01-02T14:30:00Z,AAPL,1,100\n", "line 1", "missing column(s) side"),
    ("", "fills.csv", "the file is empty"),
])
def test_a_bad_file_is_refused_with_its_line_and_exit_2(tmp_path, text, where, words):
    result = run("--fills", str(write(tmp_path, text)), "--json")
    assert result.exit_code == 2
    assert where in result.output and words in result.output
    assert "Traceback" not in result.output


def test_agrees_with_an_independent_fifo_on_random_long_short_data(tmp_path):
    rng = random.Random(20250102)
    start = datetime(2025, 1, 2, 14, 30, tzinfo=timezone.utc)
    fills, lines = [], ["time,symbol,side,qty,price,order_id"]
    for n in range(3000):
        symbol = rng.choice(["AAPL", "TSLA", "HOOD", "F"])
        side = rng.choice(["buy", "sell"])
        qty = Decimal(rng.randint(1, 5000)) / 100
        price = Decimal(rng.randint(100, 90000)) / 100
        order = f"o{n // rng.choice([1, 2])}"  # some orders fill twice
        when = start + timedelta(seconds=n)
        fills.append(Fill(when, symbol, side, qty, price, order))
        lines.append(f"{when.isoformat()},{symbol},{side},{qty},{price},{order}")
    report = json.loads(run("--fills", str(write(tmp_path, "\n".join(lines) + "\n")), "--json").output)
    expected = brute_force(fills)
    for symbol, (realised, per_trade, open_qty, _) in expected.items():
        figures = report["symbols"][symbol]
        assert figures["total_pnl"] == str(realised.quantize(Decimal("0.01"), ROUND_HALF_UP))
        assert figures["total_trades"] == len(per_trade)
        assert figures["winning_trades"] == sum(1 for p in per_trade if p > 0)
        assert Decimal(figures["open_qty"]) == open_qty


# -- --activities: Alpaca's FILL activities, matched as the Performance tab matches them -------


def activity(n: int, side: str, qty: str, price: str, symbol: str = "AAPL", order: str | None = None) -> dict:
    """A FILL activity as GET /v2/account/activities/FILL answers it."""
    stamp = datetime(2025, 1, 2, 14, 30, tzinfo=timezone.utc) + timedelta(minutes=n)
    return {"id": f"{stamp:%Y%m%d%H%M%S}000::{n:08d}-0000-4000-8000-000000000000", "account_id": "acct",
            "activity_type": "FILL", "transaction_time": stamp.isoformat().replace("+00:00", "Z"), "type": "fill",
            "price": price, "qty": qty, "side": side, "symbol": symbol, "leaves_qty": "0",
            "order_id": order or f"order-{n}", "cum_qty": qty, "order_status": "filled"}


def write_activities(tmp_path: Path, activities: list[dict]) -> Path:
    return write(tmp_path, json.dumps(activities), "activities.json")


def test_activities_keep_alpacas_sell_and_sell_short(tmp_path):
    path = write_activities(tmp_path, [
        activity(0, "buy", "10", "100"), activity(1, "sell", "10", "110"),  # long closed: +100
        activity(2, "sell_short", "5", "110"), activity(3, "buy", "5", "111"),  # short covered: −5
        activity(4, "buy", "1", "60000", symbol="BTCUSD"),
    ])
    result = CliRunner().invoke(main, ["pnl", "--activities", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["symbols"]["AAPL"]["total_trades"], report["symbols"]["AAPL"]["total_pnl"]) == (2, "95.00")
    assert report["symbols"]["BTC/USD"]["open_qty"] == "1"


def test_activities_without_the_buy_are_no_short_and_say_so(tmp_path):
    # The buy is older than the export: Alpaca's "sell" closed a long, it did not open a short.
    path = write_activities(tmp_path, [activity(0, "sell", "10", "110")])
    result = CliRunner().invoke(main, ["pnl", "--activities", str(path), "--json"])
    assert result.exit_code == 0, result.output
    aapl = json.loads(result.stdout)["symbols"]["AAPL"]
    assert (aapl["total_trades"], aapl["open_qty"]) == (0, "0")
    assert "10 shares were bought or sold outside these fills" in result.stderr


def test_the_same_sales_as_a_plain_csv_would_be_read_as_a_short(tmp_path):
    result = run("--fills", str(write(tmp_path, "time,symbol,side,qty,price\n2025-01-02T14:30:00Z,AAPL,sell,10,110\n")),
                 "--json")
    assert json.loads(result.stdout)["symbols"]["AAPL"]["open_qty"] == "-10"


@pytest.mark.parametrize("text, words", [
    ("not json", "not a JSON file of Alpaca activities"),
    ('"a string"', "expected a JSON array of activities"),
    ('[{"activity_type": "FILL", "side": "buy"}]', "a FILL activity needs"),
    ('[{"activity_type": "FILL", "side": "hold", "id": "x"}]', "side 'hold' is not buy, sell or sell_short"),
])
def test_a_bad_activities_file_is_refused_with_exit_2(tmp_path, text, words):
    result = run("--activities", str(write(tmp_path, text, "activities.json")))
    assert result.exit_code == 2
    assert words in result.output


def test_one_of_fills_and_activities_is_needed(tmp_path):
    assert run().exit_code == 2
    path = write(tmp_path, FLIP_AND_SHORT)
    both = run("--fills", str(path), "--activities", str(write_activities(tmp_path, [])))
    assert both.exit_code == 2 and "one of --fills" in both.output
