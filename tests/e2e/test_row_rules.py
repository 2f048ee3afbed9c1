"""End to end, the real service (gunicorn, the Google Sheet and Alpaca adapters through gspread and
alpaca-py, Alpaca's trade stream) against the fakes: each Config column deciding how its row trades.

Exits live at the (fake) broker: a bracket's take-profit and stop-loss, a trailing stop placed once
the entry fills. The fake fills them when a test moves the price (``set_price``), as Alpaca would
when the market trades there, and tells the service over the trade stream.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support.e2e import CONFIG_HEADER, Fakes, serving
from tests.support.gunicorn import wait_for

COLUMNS = ["Direction", "Take Profit", "Stop Loss", "Trailing Stop", "Order Type", "Limit Offset", "Extended Hours"]
# symbol, size, then the optional columns in COLUMNS' order ("" keeps the default).
ROWS = {
    "AAPL": ("$1,000", "", "2%", "1%", "", "", "", ""),
    "MSFT": ("$1,000", "", "", "1%", "", "", "", ""),
    "TSLA": ("$2,000", "", "", "", "1%", "", "", ""),
    "NVDA": ("$1,000", "", "5%", "5%", "", "", "", ""),
    "AMD": ("$1,000", "long only", "", "", "", "", "", ""),
    "INTC": ("25 sh", "", "", "", "", "", "", ""),
    "ORCL": ("10%", "", "", "", "", "", "", ""),
    "CSCO": ("alert", "", "", "", "", "", "", ""),
    "SHOP": ("$1,000", "", "", "", "", "limit", "$0.05", ""),
    "UBER": ("$1,000", "", "", "", "", "", "$0.10", "TRUE"),
}
PRICES = {"AAPL": 100, "MSFT": 100, "TSLA": 200, "NVDA": 100, "AMD": 100, "INTC": 40, "ORCL": 100, "CSCO": 50,
          "SHOP": 50, "UBER": 100}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("row-rules")
    fakes = Fakes(root / "secrets")
    for symbol, price in PRICES.items():
        fakes.alpaca.add_asset(symbol, price)
    header = CONFIG_HEADER + COLUMNS
    fakes.create_sheet([[symbol, size, True, "15 Min", "", "", *rest] for symbol, (size, *rest) in ROWS.items()],
                       header=header)
    with serving(fakes, root / "data", NOVALGO_FILL_WAIT="2", NOVALGO_PERFORMANCE_INTERVAL="5") as service:
        yield fakes, service


def post(service, action: str, symbol: str, price, **extra) -> dict:
    answer = service.post({"action": action, "symbol": symbol, "timeframe": "15", "price": price, **extra}, wait=2.5)
    assert answer.status_code in (200, 202), answer.text + service.tail(3000)
    return answer.json()


def assert_outcome(answer: dict, expected: str) -> None:
    assert answer["outcome"] == expected, answer.get("reason")


def row_status(fakes, symbol: str) -> str:
    return fakes.config_row(symbol, "15 Min")["Order Status"]


def orders_of(fakes, symbol: str) -> list[dict]:
    with fakes.alpaca.lock:
        return [dict(o) for o in fakes.alpaca.orders.values() if o["symbol"] == symbol]


def performance_row(fakes, symbol: str) -> dict[str, str] | None:
    """The Performance tab's line for the Config row (symbol, 15 Min) in its per-row table."""
    values = fakes.sheets.values("1RealAdaptersEndToEndSheet", "Performance")
    for i, row in enumerate(values):
        if row[:2] == ["symbol", "Time Frame"]:
            header = row
            for line in values[i + 1:]:
                if line[:2] == [symbol, "15 Min"]:
                    return dict(zip(header, line))
    return None


def test_a_bracket_entry_takes_profit_at_the_broker_and_the_row_gets_the_credit(stack):
    fakes, service = stack
    assert_outcome(post(service, "buy", "AAPL", 100), "FILLED")
    assert fakes.held("AAPL") == 10  # whole shares: Alpaca takes brackets only in whole shares
    entry = next(o for o in orders_of(fakes, "AAPL") if o["order_class"] == "bracket")
    assert (entry["time_in_force"], entry["qty"]) == ("gtc", "10")
    legs = {o["type"]: o for o in orders_of(fakes, "AAPL") if o["id"] != entry["id"]}
    assert (legs["limit"]["limit_price"], legs["stop"]["stop_price"]) == ("102", "99")
    fakes.alpaca.set_price("AAPL", 103)
    assert fakes.held("AAPL") == 0
    wait_for(lambda: row_status(fakes, "AAPL") == "TAKE PROFIT", "the AAPL row to say TAKE PROFIT", 15)
    wait_for(lambda: (performance_row(fakes, "AAPL") or {}).get("winning_trades") == "1",
             "Performance to count one winning AAPL 15 Min trade", 30)
    exit_record = service.journal().execute(
        "SELECT reason, in_activity FROM alerts WHERE symbol='AAPL' AND status='TAKE PROFIT'").fetchone()
    assert "sell 10 AAPL filled at 102" in exit_record[0]
    wait_for(lambda: any(r[1:5] == ["AAPL", "15 Min", "sell", "TAKE PROFIT"]
                         for r in fakes.sheets.values("1RealAdaptersEndToEndSheet", "Activity")),
             "an Activity row for the take-profit", 30)


def test_a_stop_loss_fills_on_the_way_down(stack):
    fakes, service = stack
    assert_outcome(post(service, "buy", "MSFT", 100), "FILLED")
    entry = next(o for o in orders_of(fakes, "MSFT") if o["order_class"] == "oto")
    assert entry["qty"] == "10"
    fakes.alpaca.set_price("MSFT", "98.5")
    assert fakes.held("MSFT") == 0
    wait_for(lambda: row_status(fakes, "MSFT") == "STOP LOSS", "the MSFT row to say STOP LOSS", 15)


def test_a_trailing_stop_follows_the_price_up_and_fills_on_the_way_down(stack):
    fakes, service = stack
    assert_outcome(post(service, "buy", "TSLA", 200), "FILLED")
    wait_for(lambda: any(o["type"] == "trailing_stop" for o in orders_of(fakes, "TSLA")), "the trailing stop", 10)
    trail = next(o for o in orders_of(fakes, "TSLA") if o["type"] == "trailing_stop")
    assert (trail["side"], trail["qty"], trail["trail_percent"], trail["time_in_force"]) == ("sell", "10", "1", "gtc")
    fakes.alpaca.set_price("TSLA", 210)
    assert Decimal(fakes.alpaca.orders[trail["id"]]["hwm"]) == 210
    fakes.alpaca.set_price("TSLA", 209)
    assert fakes.held("TSLA") == 10  # above 207.90: still held
    fakes.alpaca.set_price("TSLA", 207)
    assert fakes.held("TSLA") == 0
    wait_for(lambda: row_status(fakes, "TSLA") == "TRAILING STOP", "the TSLA row to say TRAILING STOP", 15)


def test_a_flip_cancels_the_rows_exits_first_and_completes(stack):
    fakes, service = stack
    assert_outcome(post(service, "buy", "NVDA", 100), "FILLED")
    assert fakes.held("NVDA") == 10
    flipped = post(service, "sell", "NVDA", 100)
    assert flipped["outcome"] == "FILLED", flipped
    assert fakes.held("NVDA") == -10
    orders = orders_of(fakes, "NVDA")
    assert not [o for o in orders if o["status"] == "rejected"]
    first_legs = [o for o in orders if o["side"] == "sell" and o["type"] in ("limit", "stop")]
    assert first_legs and all(o["status"] == "canceled" for o in first_legs), "the long's exits were cancelled"
    short = [o for o in orders if o["order_class"] == "bracket" and o["side"] == "sell"
             and o["client_order_id"].startswith("nva-")]
    assert short and short[0]["status"] == "filled"
    wait_for(lambda: row_status(fakes, "NVDA") == "FILLED", "the NVDA row to say FILLED", 15)


def test_long_only_turns_sell_into_a_close(stack):
    fakes, service = stack
    assert_outcome(post(service, "buy", "AMD", 100), "FILLED")
    answer = post(service, "sell", "AMD", 100)
    assert answer["outcome"] == "WAITING" and "long only" in answer["reason"]
    assert fakes.held("AMD") == 0
    assert_outcome(post(service, "sell", "AMD", 99), "WAITING")  # a new bar's SELL while flat
    assert fakes.held("AMD") == 0  # never short


def test_sizes_in_shares_percent_of_equity_and_from_the_alert(stack):
    fakes, service = stack
    assert_outcome(post(service, "buy", "INTC", 40), "FILLED")
    assert fakes.held("INTC") == 25
    equity = fakes.alpaca.equity()
    assert_outcome(post(service, "buy", "ORCL", 100), "FILLED")
    notional = Decimal(next(o for o in orders_of(fakes, "ORCL"))["notional"])
    assert abs(notional - equity / 10) < 50  # 10% of equity when the alert was decided (others trade too)
    assert_outcome(post(service, "buy", "CSCO", 50, quantity="7"), "FILLED")
    assert fakes.held("CSCO") == 7
    missing = post(service, "sell", "CSCO", 50)
    assert missing["outcome"] == "FAILED" and "carries no quantity" in missing["reason"]


def test_a_limit_entry_rests_until_the_price_comes_to_it(stack):
    fakes, service = stack
    fakes.alpaca.set_price("SHOP", "50.50")
    answer = post(service, "buy", "SHOP", 50)
    assert answer["outcome"] == "ORDER SUBMITTED"
    order = next(o for o in orders_of(fakes, "SHOP"))
    assert (order["type"], order["limit_price"]) == ("limit", "50.05")
    fakes.alpaca.set_price("SHOP", 50)
    wait_for(lambda: fakes.held("SHOP") > 0, "the limit to fill", 10)
    wait_for(lambda: row_status(fakes, "SHOP") == "FILLED", "the SHOP row to say FILLED", 20)


@pytest.fixture(scope="module")
def after_hours(tmp_path_factory):
    """A service started while the market is closed and the post-market session runs (the service
    reads Alpaca's clock every 30 s, so a market closed under a running one is seen that late)."""
    root = tmp_path_factory.mktemp("row-rules-after-hours")
    fakes = Fakes(root / "secrets")
    fakes.alpaca.add_asset("UBER", 100)
    fakes.alpaca.market.close()
    fakes.alpaca.market.extended_session(True)
    size, *rest = ROWS["UBER"]
    fakes.create_sheet([["UBER", size, True, "15 Min", "", "", *rest], ["AAPL", "$1,000", True, "15 Min", "", ""]],
                       header=CONFIG_HEADER + COLUMNS)
    with serving(fakes, root / "data", workers=1, NOVALGO_FILL_WAIT="2") as service:
        yield fakes, service


def test_an_extended_hours_entry_with_the_market_closed(after_hours):
    fakes, service = after_hours
    answer = post(service, "buy", "UBER", 100)
    order = next(o for o in orders_of(fakes, "UBER"))
    assert (order["type"], order["extended_hours"], order["time_in_force"], order["limit_price"]) == \
        ("limit", True, "day", "100.1"), order
    fakes.alpaca.set_price("UBER", "100.05")
    # $1,000 at 100.10: 9.990009990 shares (Alpaca takes fractional extended-hours limits).
    wait_for(lambda: fakes.held("UBER") == Decimal("9.99000999"), "the extended-hours limit to fill", 10)
    assert answer["outcome"] in ("FILLED", "ORDER SUBMITTED"), answer
    wait_for(lambda: row_status(fakes, "UBER") == "FILLED", "the UBER row to say FILLED", 20)
    # A row without the checkbox queues its market order for the open, as before.
    assert_outcome(post(service, "buy", "AAPL", 150), "ORDER SUBMITTED")
    assert next(o for o in orders_of(fakes, "AAPL"))["type"] == "market"
