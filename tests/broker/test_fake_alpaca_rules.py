"""The fake Alpaca follows Alpaca's documented order rules, driven through alpaca-py as the executor does.

One test (or a few) per rule; the rule and its document are named in tests/fakes/alpaca_rules.py.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, PositionIntent, TimeInForce
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from tests.fakes.alpaca_rules import AlpacaRefusal
from tests.fakes.alpaca_server import FakeAlpaca


def market(symbol="AAPL", side=OrderSide.BUY, qty=None, notional=None, tif=TimeInForce.DAY, **kw):
    return MarketOrderRequest(symbol=symbol, side=side, qty=qty, notional=notional, time_in_force=tif, **kw)


def refusal(call) -> tuple[int, dict]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status_code, json.loads(str(caught.value))


# -- 1. queued DAY orders, expiry at the close ----------------------------------------------


def test_day_market_order_outside_hours_waits_and_fills_at_the_open(fake, client):
    fake.market.close()
    order = client.submit_order(market(qty=3))
    assert order.status == OrderStatus.ACCEPTED
    assert client.get_order_by_id(order.id).filled_qty == "0"
    fake.market.open()
    filled = client.get_order_by_id(order.id)
    assert (filled.status, filled.filled_qty) == (OrderStatus.FILLED, "3")
    assert client.get_open_position("AAPL").qty == "3"


def test_day_orders_open_at_the_close_expire_keeping_partial_fills(fake, client):
    fake.set_position("MSFT", 5)
    resting = fake.place_order(symbol="MSFT", side="sell", type="limit", limit_price="999", qty="2")  # never fills
    gtc = fake.place_order(symbol="MSFT", side="sell", type="limit", limit_price="999", qty="1", time_in_force="gtc")
    fake.partial, fake.partial_delay = True, 3600  # half fills now, the rest never does today
    partial = client.submit_order(market(qty=10))
    assert client.get_order_by_id(partial.id).status == OrderStatus.PARTIALLY_FILLED
    fake.market.close()
    expired = client.get_order_by_id(partial.id)
    assert (expired.status, expired.filled_qty) == (OrderStatus.EXPIRED, "5")
    assert expired.expired_at is not None
    assert client.get_order_by_id(resting["id"]).status == OrderStatus.EXPIRED
    assert client.get_order_by_id(gtc["id"]).status == OrderStatus.NEW  # GTC outlives the day
    assert client.get_open_position("AAPL").qty == "5"
    assert client.get_open_position("MSFT").qty_available == "4"  # the expired sell holds nothing


def test_orders_queued_after_the_close_do_not_expire_at_it(fake, client):
    fake.market.close()
    order = client.submit_order(market(qty=1))
    fake.market.close()  # already closed: nothing ends
    assert client.get_order_by_id(order.id).status == OrderStatus.ACCEPTED


# -- 2. held quantities ----------------------------------------------------------------------


def test_open_sell_orders_hold_shares_and_an_oversell_is_refused_with_alpacas_body(fake, client):
    fake.set_position("AAPL", 10)
    stop = fake.place_order(side="sell", type="stop", stop_price="140", qty="6", time_in_force="gtc",
                            client_order_id="trader-stop")
    assert client.get_open_position("AAPL").qty_available == "4"
    status, body = refusal(lambda: client.submit_order(market(side=OrderSide.SELL, qty=5)))
    assert status == 403
    assert body == {"code": 40310000, "message": "insufficient qty available for order (requested: 5, available: 4)",
                    "available": "4", "existing_qty": "10", "held_for_orders": "6", "related_orders": [stop["id"]],
                    "symbol": "AAPL"}
    client.submit_order(market(side=OrderSide.SELL, qty=4))  # what is available may be sold
    assert client.get_open_position("AAPL").qty == "6"


def test_buy_to_cover_is_limited_to_the_short_not_held_by_other_buys(fake, client):
    fake.set_position("TSLA", -4)
    fake.place_order(symbol="TSLA", side="buy", type="stop", stop_price="250", qty="3", time_in_force="gtc")
    assert client.get_open_position("TSLA").qty_available == "-1"
    status, body = refusal(lambda: client.submit_order(market(symbol="TSLA", qty=2)))
    assert (status, body["message"]) == (403, "insufficient qty available for order (requested: 2, available: 1)")


def test_one_order_never_takes_a_position_across_zero(fake, client):
    fake.set_position("AAPL", 3)
    status, body = refusal(lambda: client.submit_order(market(side=OrderSide.SELL, qty=5)))
    assert (status, body["code"], body["available"], body["held_for_orders"]) == (403, 40310000, "3", "0")


def test_notional_sell_outside_hours_cannot_join_another_open_sell(fake, client):
    fake.set_position("AAPL", 10)
    fake.market.close()
    client.submit_order(market(side=OrderSide.SELL, qty=2))
    status, body = refusal(lambda: client.submit_order(market(side=OrderSide.SELL, notional=100)))
    assert (status, body["message"]) == (403, "unable to open new notional orders while having open closing position orders")


# -- 3. position intent and opposite opening orders -------------------------------------------


def test_cannot_open_a_short_while_a_long_buy_is_open(fake, client):
    fake.market.close()
    buy = client.submit_order(market(qty=2))
    status, body = refusal(lambda: client.submit_order(TrailingStopOrderRequest(
        symbol="AAPL", side=OrderSide.SELL, qty=2, trail_percent=5, time_in_force=TimeInForce.GTC)))
    assert status == 403
    assert body == {"code": 40310000, "message": "cannot open a short sell while a long buy order is open",
                    "related_orders": [str(buy.id)]}


def test_cannot_open_a_long_while_a_short_sell_is_open(fake, client):
    short = fake.place_order(side="sell", type="limit", limit_price="200", qty="1")
    status, body = refusal(lambda: client.submit_order(LimitOrderRequest(
        symbol="AAPL", side=OrderSide.BUY, qty=1, limit_price=100, time_in_force=TimeInForce.DAY)))
    assert (status, body["message"], body["related_orders"]) == (
        403, "cannot open a long buy while a short sell order is open", [short["id"]])


def test_position_intent_must_match_the_position(fake, client):
    fake.set_position("AAPL", 10)
    status, body = refusal(lambda: client.submit_order(market(side=OrderSide.SELL, qty=10,
                                                              position_intent=PositionIntent.SELL_TO_OPEN)))
    assert (status, body["message"]) == (403, "position intent mismatch. inferred sell to close")
    order = client.submit_order(market(side=OrderSide.SELL, qty=10, position_intent=PositionIntent.SELL_TO_CLOSE))
    assert order.position_intent == PositionIntent.SELL_TO_CLOSE


def test_orders_report_the_intent_alpaca_infers(fake, client):
    assert client.submit_order(market(qty=1)).position_intent == PositionIntent.BUY_TO_OPEN
    assert client.submit_order(market(side=OrderSide.SELL, qty=1)).position_intent == PositionIntent.SELL_TO_CLOSE
    assert client.submit_order(market(side=OrderSide.SELL, qty=1)).position_intent == PositionIntent.SELL_TO_OPEN
    assert client.submit_order(market(qty=1)).position_intent == PositionIntent.BUY_TO_CLOSE


# -- 4. wash trades ----------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [
    {"type": "stop", "stop_price": "140"},
    {"type": "limit", "limit_price": "160"},
    {"type": "stop_limit", "stop_price": "140", "limit_price": "139"},
])
def test_market_buy_against_an_open_sell_is_a_potential_wash_trade(fake, client, existing):
    fake.set_position("AAPL", 10)
    theirs = fake.place_order(side="sell", qty="10", time_in_force="gtc", client_order_id="trader", **existing)
    status, body = refusal(lambda: client.submit_order(market(qty=1)))
    reason = "opposite side market/stop order exists" if existing["type"] == "stop" else "opposite side limit order exists"
    assert status == 403
    assert body == {"code": 40310000, "message": "potential wash trade detected. use complex orders",
                    "existing_order_id": theirs["id"], "reject_reason": reason}


def test_limit_orders_wash_only_when_the_prices_cross(fake, client):
    fake.set_position("AAPL", 10)
    fake.place_order(side="sell", type="limit", limit_price="160", qty="5", time_in_force="gtc")
    below = client.submit_order(LimitOrderRequest(symbol="AAPL", side=OrderSide.BUY, qty=1, limit_price=150,
                                                  time_in_force=TimeInForce.DAY))
    assert below.status == OrderStatus.NEW  # buy 150 < sell 160: they cannot meet
    status, body = refusal(lambda: client.submit_order(LimitOrderRequest(
        symbol="AAPL", side=OrderSide.BUY, qty=1, limit_price=160, time_in_force=TimeInForce.DAY)))
    assert (status, body["message"]) == (403, "potential wash trade detected. use complex orders")


def test_trailing_stops_are_exempt_from_wash_trade_protection(fake, client):
    fake.set_position("AAPL", 10)
    fake.place_order(side="sell", type="trailing_stop", trail_percent="5", qty="10", time_in_force="gtc")
    assert client.submit_order(market(qty=1)).status == OrderStatus.FILLED


def test_wash_trade_protection_applies_to_crypto(fake, client):
    fake.place_order(symbol="BTC/USD", side="buy", type="limit", limit_price="50000", qty="0.01", time_in_force="gtc")
    client.submit_order(market(symbol="BTC/USD", notional=1000, tif=TimeInForce.GTC))
    status, body = refusal(lambda: client.submit_order(market(symbol="BTC/USD", side=OrderSide.SELL, qty="0.001",
                                                              tif=TimeInForce.GTC)))
    assert (status, body["reject_reason"]) == (403, "opposite side limit order exists")


# -- 5. orders placed by someone else ----------------------------------------------------------


def test_a_traders_resting_orders_rest_until_filled_and_hold_shares(fake, client):
    fake.set_position("AAPL", 10)
    for kind, extra in (("limit", {"limit_price": "170"}), ("stop", {"stop_price": "140"}),
                        ("stop_limit", {"stop_price": "140", "limit_price": "139"}),
                        ("trailing_stop", {"trail_price": "5"})):
        order = fake.place_order(side="sell", type=kind, qty="2", time_in_force="gtc", client_order_id=f"t-{kind}", **extra)
        assert order["status"] == "new" and order["type"] == kind
    assert client.get_order_by_client_id("t-stop").stop_price == "140"
    assert client.get_open_position("AAPL").qty_available == "2"
    fake.fill_order(client.get_order_by_client_id("t-limit").id, price="170")
    assert client.get_open_position("AAPL").qty == "8"
    assert client.get_order_by_client_id("t-limit").status == OrderStatus.FILLED


def test_someone_elses_order_is_held_to_the_same_rules(fake):
    fake.place_order(side="buy", type="limit", limit_price="100", qty="1")
    with pytest.raises(AlpacaRefusal) as refused:
        fake.place_order(side="sell", type="stop", stop_price="90", qty="1", time_in_force="gtc")
    assert (refused.value.status, refused.value.body["message"]) == (
        403, "cannot open a short sell while a long buy order is open")


# -- 6. crypto --------------------------------------------------------------------------------


def test_crypto_trades_around_the_clock_and_positions_drop_the_slash(fake, client):
    fake.market.close()
    order = client.submit_order(market(symbol="BTC/USD", notional=600, tif=TimeInForce.GTC))
    assert (order.status, order.symbol) == (OrderStatus.FILLED, "BTC/USD")
    assert [p.symbol for p in client.get_all_positions()] == ["BTCUSD"]
    assert client.get_open_position("BTCUSD").qty == "0.01"
    with pytest.raises(APIError) as missing:
        client.get_open_position("BTC/USD")
    assert missing.value.status_code == 404
    fake.market.open()
    fake.market.close()
    assert client.get_order_by_id(order.id).status == OrderStatus.FILLED  # nothing crypto expires


def test_assets_answer_to_both_crypto_spellings(client):
    assert client.get_asset("BTC/USD").symbol == client.get_asset("BTCUSD").symbol == "BTC/USD"
    assert client.get_asset("BTCUSD").min_order_size == 0.0001


def test_crypto_orders_accept_the_legacy_symbol(client):
    assert client.submit_order(market(symbol="BTCUSD", qty="0.001", tif=TimeInForce.GTC)).symbol == "BTC/USD"


@pytest.mark.parametrize("tif", [TimeInForce.DAY, TimeInForce.FOK, TimeInForce.OPG])
def test_crypto_time_in_force_is_gtc_or_ioc(client, tif):
    status, body = refusal(lambda: client.submit_order(market(symbol="BTC/USD", qty="0.001", tif=tif)))
    assert (status, body) == (422, {"code": 42210000, "message": "invalid crypto time_in_force"})


def test_crypto_cannot_be_shorted(fake, client):
    client.submit_order(market(symbol="BTC/USD", qty="0.001", tif=TimeInForce.GTC))
    status, body = refusal(lambda: client.submit_order(market(symbol="BTC/USD", side=OrderSide.SELL, qty="0.002",
                                                              tif=TimeInForce.GTC)))
    assert (status, body["message"], body["available"]) == (
        403, "insufficient balance for BTC (requested: 0.002, available: 0.001)", "0.001")


def test_crypto_order_sizes(client):
    status, body = refusal(lambda: client.submit_order(market(symbol="BTC/USD", qty="0.00005", tif=TimeInForce.GTC)))
    assert (status, body["message"]) == (422, "qty must be >= 0.0001")
    status, body = refusal(lambda: client.submit_order(market(symbol="BTC/USD", notional=5, tif=TimeInForce.GTC)))
    assert (status, body["message"]) == (403, "cost basis must be >= minimal amount of order 10")


def test_crypto_order_types(client):
    status, body = refusal(lambda: client.submit_order(StopOrderRequest(
        symbol="BTC/USD", side=OrderSide.BUY, qty="0.001", stop_price=70000, time_in_force=TimeInForce.GTC)))
    assert (status, body["code"]) == (422, 42210000)


def test_crypto_buys_spend_cash_not_margin(fake, client):
    fake.cash = Decimal(1000)
    status, body = refusal(lambda: client.submit_order(market(symbol="BTC/USD", notional=1500, tif=TimeInForce.GTC)))
    assert (status, body["message"]) == (403, "insufficient balance for USD (requested: 1500, available: 1000)")


# -- 7. replace -------------------------------------------------------------------------------


def test_replace_makes_a_new_order_and_marks_the_old_replaced(fake, client):
    fake.market.close()
    old = client.submit_order(market(qty=5))
    new = client.replace_order_by_id(old.id, ReplaceOrderRequest(qty=3))
    assert (new.replaces, new.qty, new.status) == (old.id, "3", OrderStatus.ACCEPTED)
    replaced = client.get_order_by_id(old.id)
    assert (replaced.status, replaced.replaced_by) == (OrderStatus.REPLACED, new.id)
    assert replaced.replaced_at is not None
    fake.market.open()
    assert client.get_order_by_id(new.id).status == OrderStatus.FILLED
    assert client.get_open_position("AAPL").qty == "3"


def test_replace_changes_a_resting_orders_price_and_keeps_the_rest(fake, client):
    fake.set_position("AAPL", 10)
    stop = fake.place_order(side="sell", type="stop", stop_price="140", qty="10", time_in_force="gtc")
    new = client.replace_order_by_id(stop["id"], ReplaceOrderRequest(stop_price=145))
    assert (new.stop_price, new.qty, new.type.value, new.time_in_force) == ("145", "10", "stop", TimeInForce.GTC)
    assert client.get_open_position("AAPL").qty_available == "0"  # held once, by the new order


def test_a_closed_order_cannot_be_replaced(client):
    done = client.submit_order(market(qty=1))
    status, _body = refusal(lambda: client.replace_order_by_id(done.id, ReplaceOrderRequest(qty=2)))
    assert status == 422


# -- 8. a 4xx after the order was placed --------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422, 500])
def test_a_submission_can_fail_after_the_order_is_placed(fake, client, status):
    fake.fail("POST", "/v2/orders", status, place=True)
    with pytest.raises(APIError) as failed:
        client.submit_order(market(qty=1, client_order_id=f"lost-{status}"))
    assert failed.value.status_code == status
    assert client.get_order_by_client_id(f"lost-{status}").status == OrderStatus.FILLED


def test_a_placed_order_can_be_answered_with_any_body(fake, client):
    body = {"code": 40310000, "message": "insufficient buying power"}
    fake.fail("POST", "/v2/orders", 403, place=True, body=body)
    status, answered = refusal(lambda: client.submit_order(market(qty=1, client_order_id="odd")))
    assert (status, answered) == (403, body)
    assert client.get_order_by_client_id("odd").status == OrderStatus.FILLED


# -- 9. account facts for shorting --------------------------------------------------------------


def test_short_sale_needs_shorting_enabled(fake, client):
    fake.shorting_enabled = False
    assert client.get_account().shorting_enabled is False
    status, body = refusal(lambda: client.submit_order(market(side=OrderSide.SELL, qty=1)))
    assert (status, body) == (403, {"code": 40310000, "message": "account is not allowed to short"})


def test_under_2000_of_equity_there_is_no_margin_and_no_shorting(client):
    small = FakeAlpaca(cash=Decimal(1999)).start()
    try:
        small_client = TradingClient(small.key_id, small.secret_key, url_override=small.url)
        account = small_client.get_account()
        assert (account.shorting_enabled, account.multiplier, account.buying_power) == (False, "1", "1999")
        status, body = refusal(lambda: small_client.submit_order(market(side=OrderSide.SELL, qty=1)))
        assert (status, body["message"]) == (403, "account is not allowed to short")
    finally:
        small.stop()
    account = client.get_account()
    assert (account.shorting_enabled, account.multiplier) == (True, "2")


def test_short_sale_rules_of_the_asset(fake, client):
    fake.add_asset("HTB", 20, easy_to_borrow=False)
    fake.add_asset("NOSHORT", 20, shortable=False)
    assert refusal(lambda: client.submit_order(market(symbol="NOSHORT", side=OrderSide.SELL, qty=1)))[1]["message"] == \
        "asset NOSHORT cannot be sold short"
    assert refusal(lambda: client.submit_order(market(symbol="HTB", side=OrderSide.SELL, qty=1)))[1]["message"] == \
        "asset HTB is not easy to borrow"
    assert refusal(lambda: client.submit_order(market(side=OrderSide.SELL, qty=0.5)))[1]["message"] == \
        "fractional orders cannot be sold short"
    assert client.submit_order(market(side=OrderSide.SELL, qty=2)).status == OrderStatus.FILLED
    assert client.get_open_position("AAPL").qty == "-2"


def test_extended_hours_needs_a_day_limit_order(client):
    status, body = refusal(lambda: client.submit_order(market(qty=1, extended_hours=True)))
    assert (status, body["message"]) == (422, "extended hours order must be DAY limit orders")
