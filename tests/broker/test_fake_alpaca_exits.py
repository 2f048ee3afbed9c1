"""The fake Alpaca's advanced orders (bracket, OTO, OCO, trailing stop, resting limits), driven through
alpaca-py's TradingClient; the rules and their documents are named in tests/fakes/alpaca_rules.py and
tests/fakes/alpaca_exits.py. Bodies alpaca-py would refuse before sending go through ``client.post``.
"""

from __future__ import annotations

import json

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderSide, OrderStatus, OrderType, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from tests.broker.test_fake_alpaca_stream import events, trading_stream, wait_until

pytestmark = pytest.mark.timeout(30)

BUY, SELL = OrderSide.BUY, OrderSide.SELL
DAY, GTC = TimeInForce.DAY, TimeInForce.GTC


def bracket(qty=10, side=BUY, tp=160, sl=140, tif=GTC, symbol="AAPL", limit=None, **kw):
    exits = dict(order_class=OrderClass.BRACKET, take_profit=TakeProfitRequest(limit_price=tp),
                 stop_loss=StopLossRequest(stop_price=sl))
    if limit is not None:
        return LimitOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=tif, limit_price=limit, **exits, **kw)
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=tif, **exits, **kw)


def oco(qty=10, tp=160, sl=140, side=SELL, tif=GTC, **kw):
    return LimitOrderRequest(symbol="AAPL", qty=qty, side=side, time_in_force=tif, order_class=OrderClass.OCO,
                             take_profit=TakeProfitRequest(limit_price=tp), stop_loss=StopLossRequest(stop_price=sl),
                             **kw)


def refusal(call) -> tuple[int, dict]:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value.status_code, json.loads(str(caught.value))


def raw(client, **fields):
    body = {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "gtc", "qty": "10", **fields}
    return lambda: client.post("/orders", body)


def message(call) -> str:
    return refusal(call)[1]["message"]


# -- 1. acceptance rules -----------------------------------------------------------------------


def test_a_bracket_needs_both_exits_and_an_oto_exactly_one(client):
    tp, sl = {"limit_price": "160"}, {"stop_price": "140"}
    assert refusal(raw(client, order_class="bracket", take_profit=tp)) == (
        422, {"code": 40010001, "message": "bracket orders require take_profit and stop_loss"})
    assert message(raw(client, order_class="oto", take_profit=tp, stop_loss=sl)) == \
        "oto orders take exactly one of take_profit or stop_loss"
    assert message(raw(client, order_class="oto")) == "oto orders take exactly one of take_profit or stop_loss"
    assert message(raw(client, order_class="bracket", take_profit={}, stop_loss=sl)) == \
        "take_profit.limit_price is required"
    assert message(raw(client, order_class="triangle")) == "invalid order_class"


def test_oco_is_exit_only_and_a_limit_order(fake, client):
    assert message(lambda: client.submit_order(oco())) == "oco orders must be exit orders"  # nothing held: it would open
    fake.set_position("AAPL", 10)
    assert message(raw(client, side="sell", order_class="oco", take_profit={"limit_price": "160"},
                       stop_loss={"stop_price": "140"})) == "oco orders must be limit orders"


def test_bracket_and_oto_entries_open_a_position(fake, client):
    fake.set_position("AAPL", 10)
    assert refusal(lambda: client.submit_order(bracket(side=SELL, tp=140, sl=160))) == (
        422, {"code": 42210000, "message": "bracket orders must be entry orders"})
    assert message(raw(client, type="stop", stop_price="170", order_class="oto",
                       stop_loss={"stop_price": "140"})) == "oto orders must be market or limit orders"


@pytest.mark.parametrize("tif", [TimeInForce.IOC, TimeInForce.FOK, TimeInForce.OPG, TimeInForce.CLS])
def test_complex_orders_are_day_or_gtc(client, tif):
    assert refusal(lambda: client.submit_order(bracket(tif=tif))) == (
        422, {"code": 42210000, "message": "bracket orders must be DAY or GTC orders"})


def test_complex_orders_and_trailing_stops_take_whole_shares(fake, client):
    simple = "fractional orders must be simple orders"
    assert message(lambda: client.submit_order(bracket(qty=1.5, tif=DAY))) == simple
    assert message(lambda: client.submit_order(bracket(qty=1.5, tif=GTC))) == "fractional orders must be DAY orders"
    assert message(raw(client, qty=None, notional="500", time_in_force="day", order_class="oto",
                       stop_loss={"stop_price": "140"})) == simple
    fake.set_position("AAPL", 10)
    assert message(lambda: client.submit_order(oco(qty=0.5, tif=DAY))) == simple
    assert message(lambda: client.submit_order(TrailingStopOrderRequest(
        symbol="AAPL", qty=0.5, side=SELL, time_in_force=DAY, trail_percent=5))) == \
        "fractional orders are not supported for trailing_stop orders"


def test_fractional_limit_orders_are_taken_in_and_out_of_extended_hours(client):
    # FRAC_EXT: fractional limit (and stop) orders, and fractional limit orders in pre/post-market.
    order = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=0.5, side=BUY, time_in_force=DAY,
                                                  limit_price=140, extended_hours=True))
    assert (order.status, order.qty, order.extended_hours) == (OrderStatus.NEW, "0.5", True)
    notional = client.submit_order(LimitOrderRequest(symbol="MSFT", notional=100, side=BUY, time_in_force=DAY,
                                                     limit_price=390))
    stop = client.submit_order(StopOrderRequest(symbol="TSLA", qty=0.25, side=BUY, time_in_force=DAY, stop_price=210))
    assert (notional.status, notional.notional, stop.status) == (OrderStatus.NEW, "100", OrderStatus.NEW)


@pytest.mark.parametrize("request_, base, words", [
    (bracket(sl=150), "150.00", "stop_loss.stop_price must be <= base_price - 0.01"),
    (bracket(tp=150), "150.00", "take_profit.limit_price must be >= base_price + 0.01"),
    (bracket(side=SELL, tp=140, sl=149.99), "150.00", "stop_loss.stop_price must be >= base_price + 0.01"),
    (bracket(side=SELL, tp=150, sl=160), "150.00", "take_profit.limit_price must be <= base_price - 0.01"),
    (bracket(limit=145, sl=145), "145.00", "stop_loss.stop_price must be <= base_price - 0.01"),
    (bracket(limit=155, sl=150), "150.00", "stop_loss.stop_price must be <= base_price - 0.01"),
], ids=["buy-stop", "buy-profit", "sell-stop", "sell-profit", "limit-entry-base", "market-price-base-too"])
def test_exit_prices_must_sit_on_either_side_of_the_base_price(client, request_, base, words):
    assert refusal(lambda: client.submit_order(request_)) == (422, {"code": 42210000, "message": words,
                                                                   "base_price": base})


def test_an_oco_stop_sits_below_its_take_profit(fake, client):
    fake.set_position("AAPL", 10)
    status, body = refusal(lambda: client.submit_order(oco(tp=170, sl=150)))
    assert (status, body["message"], body["base_price"]) == (422, "stop_loss.stop_price must be <= base_price - 0.01",
                                                             "150.00")


def test_prices_follow_the_sub_penny_rule(fake, client):
    words = "invalid limit_price 150.123. sub-penny increment does not fulfill minimum pricing criteria"
    assert refusal(lambda: client.submit_order(LimitOrderRequest(
        symbol="AAPL", qty=1, side=BUY, time_in_force=DAY, limit_price=150.123))) == (422, {"code": 42210000,
                                                                                          "message": words})
    assert message(lambda: client.submit_order(bracket(tp=160.005))) == \
        "invalid take_profit.limit_price 160.005. sub-penny increment does not fulfill minimum pricing criteria"
    fake.add_asset("PENNY", "0.5")
    assert client.submit_order(LimitOrderRequest(symbol="PENNY", qty=100, side=BUY, time_in_force=DAY,
                                                 limit_price=0.4321)).status == OrderStatus.NEW
    assert message(lambda: client.submit_order(LimitOrderRequest(
        symbol="PENNY", qty=100, side=BUY, time_in_force=DAY, limit_price=0.43215))).startswith("invalid limit_price")


def test_crypto_takes_no_complex_orders_nor_trailing_stops(client):
    assert message(lambda: client.submit_order(bracket(symbol="BTC/USD", qty=1, tp=70000, sl=50000))) == \
        "crypto orders must be simple orders"
    assert message(lambda: client.submit_order(TrailingStopOrderRequest(
        symbol="BTC/USD", qty=0.01, side=BUY, time_in_force=GTC, trail_percent=5))) == \
        "invalid crypto order type: trailing_stop"


def test_complex_orders_take_no_extended_hours(client):
    assert message(lambda: client.submit_order(bracket(limit=150, tif=DAY, extended_hours=True))) == \
        "extended hours are not supported for bracket orders"


# -- 2. lifecycle ------------------------------------------------------------------------------


def test_a_bracket_buy_fills_then_its_take_profit_fills_on_a_rise(fake, client):
    order = client.submit_order(bracket(client_order_id="entry-1"))
    assert (order.status, order.order_class, order.filled_qty) == (OrderStatus.FILLED, OrderClass.BRACKET, "10")
    profit, loss = order.legs
    assert (profit.type, profit.side, profit.limit_price, profit.qty) == (OrderType.LIMIT, SELL, "160", "10")
    assert (loss.type, loss.side, loss.stop_price, loss.limit_price) == (OrderType.STOP, SELL, "140", None)
    assert {profit.status, loss.status} == {OrderStatus.NEW}
    assert {profit.order_class, loss.order_class} == {OrderClass.BRACKET}
    assert len({str(order.id), str(profit.id), str(loss.id)}) == 3
    assert profit.client_order_id not in ("entry-1", loss.client_order_id)
    assert profit.legs is None and profit.time_in_force == GTC
    # The exits hold the shares once (OCO): a plain sell of them is refused as held.
    assert client.get_open_position("AAPL").qty_available == "0"
    status, body = refusal(lambda: client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1, side=SELL,
                                                                          time_in_force=DAY)))
    assert (status, body["held_for_orders"], body["available"]) == (403, "10", "0")
    cash = fake.cash
    fake.set_price("AAPL", 155)  # between the exits: nothing
    assert client.get_order_by_id(profit.id).status == OrderStatus.NEW
    fake.set_price("AAPL", 161)
    profit, loss = client.get_order_by_id(order.id).legs
    assert (profit.status, profit.filled_avg_price, profit.filled_qty) == (OrderStatus.FILLED, "160", "10")
    assert loss.status == OrderStatus.CANCELED and loss.canceled_at is not None
    assert client.get_all_positions() == [] and fake.cash == cash + 1600
    assert client.get_order_by_id(profit.id).status == OrderStatus.FILLED


def test_the_stop_loss_fills_at_the_price_that_crossed_it(fake, client):
    order = client.submit_order(bracket(qty=5, tif=DAY))
    fake.set_price("AAPL", 138.5)
    profit, loss = client.get_order_by_id(order.id).legs
    assert (loss.status, loss.filled_avg_price) == (OrderStatus.FILLED, "138.5")
    assert profit.status == OrderStatus.CANCELED
    assert client.get_all_positions() == []


def test_exits_wait_held_until_a_limit_entry_fills(fake, client):
    order = client.submit_order(bracket(limit=145, tp=160, sl=140, qty=4))
    assert order.status == OrderStatus.NEW
    assert {leg.status for leg in order.legs} == {OrderStatus.HELD}
    fake.set_price("AAPL", 146)  # not there yet
    assert client.get_order_by_id(order.id).status == OrderStatus.NEW
    fake.set_price("AAPL", 144)
    entry = client.get_order_by_id(order.id)
    assert (entry.status, entry.filled_avg_price) == (OrderStatus.FILLED, "145")  # met at its limit
    assert {leg.status for leg in entry.legs} == {OrderStatus.NEW}
    assert client.get_open_position("AAPL").qty == "4"
    fake.set_price("AAPL", 139.9)
    assert client.get_order_by_id(order.id).legs[1].status == OrderStatus.FILLED
    assert client.get_all_positions() == []


def test_a_price_through_both_entry_and_stop_fills_both(fake, client):
    order = client.submit_order(bracket(limit=145, tp=160, sl=140, qty=2))
    fake.set_price("AAPL", 130)
    entry = client.get_order_by_id(order.id)
    assert entry.status == OrderStatus.FILLED
    assert [leg.status for leg in entry.legs] == [OrderStatus.CANCELED, OrderStatus.FILLED]


def test_an_oto_with_a_stop_loss_only(fake, client):
    order = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=3, side=BUY, time_in_force=DAY,
                                                   order_class=OrderClass.OTO,
                                                   stop_loss=StopLossRequest(stop_price=145, limit_price=144)))
    (loss,) = order.legs
    assert (order.order_class, loss.order_class) == (OrderClass.OTO, OrderClass.OTO)
    assert (loss.type, loss.stop_price, loss.limit_price, loss.status) == (OrderType.STOP_LIMIT, "145", "144",
                                                                          OrderStatus.NEW)
    assert client.get_open_position("AAPL").qty_available == "0"
    fake.set_price("AAPL", 143)  # stop hit, but the limit (144) is not: it rests as a limit
    assert client.get_order_by_id(loss.id).status == OrderStatus.NEW
    fake.set_price("AAPL", 144.5)
    assert client.get_order_by_id(loss.id).filled_avg_price == "144"
    assert client.get_all_positions() == []


def test_an_oco_exits_a_position_one_way_or_the_other(fake, client):
    fake.set_position("AAPL", 10)
    order = client.submit_order(oco())
    (loss,) = order.legs
    assert (order.type, order.limit_price, order.status, order.order_class) == (OrderType.LIMIT, "160",
                                                                                OrderStatus.NEW, OrderClass.OCO)
    assert (loss.type, loss.stop_price, loss.status) == (OrderType.STOP, "140", OrderStatus.NEW)
    assert client.get_open_position("AAPL").qty_available == "0"
    fake.set_price("AAPL", 170)
    assert (client.get_order_by_id(order.id).filled_avg_price, client.get_order_by_id(loss.id).status) == (
        "160", OrderStatus.CANCELED)
    assert client.get_all_positions() == []


def test_a_partial_take_profit_shrinks_the_stop_loss(fake, client):
    order = client.submit_order(bracket())
    profit, loss = order.legs
    fake.fill_order(profit.id, qty=4, price=160)
    assert client.get_order_by_id(loss.id).qty == "6"
    assert [(leg["qty"], leg["filled_qty"]) for leg in fake.legs_of(order.id)] == [("10", "4"), ("6", "0")]
    assert client.get_open_position("AAPL").qty_available == "0"


def test_a_trailing_stop_follows_the_price_up_and_fills_on_the_way_down(fake, client):
    fake.set_position("AAPL", 10)
    order = client.submit_order(TrailingStopOrderRequest(symbol="AAPL", qty=10, side=SELL, time_in_force=GTC,
                                                         trail_percent=5))
    assert (order.hwm, order.stop_price, order.trail_percent) == ("150", "142.5", "5")
    fake.set_price("AAPL", 160)
    moved = client.get_order_by_id(order.id)
    assert (moved.hwm, moved.stop_price, moved.status) == ("160", "152", OrderStatus.NEW)
    fake.set_price("AAPL", 153)  # down, but above the stop: the hwm stays
    assert (client.get_order_by_id(order.id).hwm, client.get_order_by_id(order.id).stop_price) == ("160", "152")
    fake.set_price("AAPL", 151.5)
    filled = client.get_order_by_id(order.id)
    assert (filled.status, filled.filled_avg_price, filled.hwm) == (OrderStatus.FILLED, "151.5", "160")
    assert client.get_all_positions() == []


def test_a_buy_trailing_stop_tracks_the_low(fake, client):
    fake.set_position("AAPL", -5)
    order = client.submit_order(TrailingStopOrderRequest(symbol="AAPL", qty=5, side=BUY, time_in_force=GTC,
                                                         trail_price=3))
    assert (order.hwm, order.stop_price) == ("150", "153")
    fake.set_price("AAPL", 140)
    assert client.get_order_by_id(order.id).stop_price == "143"
    fake.market.close()  # ADVANCED: trailing stops do not trigger outside regular hours
    fake.set_price("AAPL", 146)
    assert (client.get_order_by_id(order.id).status, client.get_order_by_id(order.id).stop_price) == (
        OrderStatus.NEW, "143")
    fake.market.open()
    fake.set_price("AAPL", 143)
    assert client.get_order_by_id(order.id).filled_avg_price == "143"


def test_limit_orders_fill_when_the_price_reaches_them_and_only_in_hours(fake, client):
    fake.set_position("AAPL", 10)
    buy = client.submit_order(LimitOrderRequest(symbol="MSFT", qty=2, side=BUY, time_in_force=GTC, limit_price=390))
    sell = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=3, side=SELL, time_in_force=GTC,
                                                 limit_price=155))
    fake.market.close()
    fake.set_price("MSFT", 380)
    assert client.get_order_by_id(buy.id).status == OrderStatus.NEW  # closed: it waits
    fake.market.open()
    fake.set_price("MSFT", 389.99)
    fake.set_price("AAPL", 154.99)
    assert (client.get_order_by_id(buy.id).filled_avg_price, client.get_order_by_id(sell.id).status) == (
        "390", OrderStatus.NEW)
    fake.set_price("AAPL", 156, trigger=False)  # a price without consequences
    assert client.get_order_by_id(sell.id).status == OrderStatus.NEW
    fake.set_price("AAPL", 155)
    assert client.get_order_by_id(sell.id).filled_avg_price == "155"


def test_extended_hours_limit_orders_fill_in_the_extended_session(fake, client):
    fake.market.close()
    fake.market.extended_session()
    eligible = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=BUY, time_in_force=DAY,
                                                     limit_price=148, extended_hours=True))
    regular = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=BUY, time_in_force=DAY,
                                                    limit_price=148))
    assert (eligible.status, regular.status) == (OrderStatus.NEW, OrderStatus.ACCEPTED)
    fake.set_price("AAPL", 147)
    assert client.get_order_by_id(eligible.id).status == OrderStatus.FILLED
    assert client.get_order_by_id(regular.id).status == OrderStatus.ACCEPTED
    fake.market.extended_session(False)
    late = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=BUY, time_in_force=DAY,
                                                 limit_price=148, extended_hours=True))
    assert late.status == OrderStatus.ACCEPTED
    fake.market.extended_session()  # the session opens: it is routed
    assert client.get_order_by_id(late.id).status == OrderStatus.NEW


def test_cancelling_a_leg_cancels_its_sibling_and_a_parent_its_legs(fake, client):
    filled = client.submit_order(bracket())
    client.cancel_order_by_id(filled.legs[1].id)
    assert [leg.status for leg in client.get_order_by_id(filled.id).legs] == [OrderStatus.CANCELED] * 2
    assert client.get_open_position("AAPL").qty_available == "10"
    waiting = client.submit_order(bracket(limit=140, tp=160, sl=130))
    client.cancel_order_by_id(waiting.id)
    waiting = client.get_order_by_id(waiting.id)
    assert [waiting.status] + [leg.status for leg in waiting.legs] == [OrderStatus.CANCELED] * 3


def test_orders_list_legs_flat_or_nested(fake, client):
    order = client.submit_order(bracket())
    flat = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL))
    assert {str(o.id) for o in flat} == {str(order.id)} | {str(leg.id) for leg in order.legs}
    assert next(o for o in flat if o.id == order.id).legs is None
    nested = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, nested=True))
    assert [o.id for o in nested] == [order.id]  # filled, but its exits are open
    assert [leg.id for leg in nested[0].legs] == [leg.id for leg in order.legs]
    assert {o.id for o in client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))} == {
        leg.id for leg in order.legs}


def test_a_leg_can_be_replaced_but_not_an_otos(fake, client):
    order = client.submit_order(bracket())
    profit = order.legs[0]
    newer = client.replace_order_by_id(profit.id, ReplaceOrderRequest(limit_price=165))
    assert (newer.limit_price, str(newer.replaces), newer.order_class) == ("165", str(profit.id), OrderClass.BRACKET)
    assert client.get_order_by_id(profit.id).status == OrderStatus.REPLACED
    assert client.get_order_by_id(order.id).legs[0].id == newer.id
    assert message(lambda: client.replace_order_by_id(newer.id, ReplaceOrderRequest(stop_price=150))) == \
        "limit orders must not have stop_price"
    fake.set_price("AAPL", 166)
    assert [leg.status for leg in client.get_order_by_id(order.id).legs] == [OrderStatus.FILLED,
                                                                             OrderStatus.CANCELED]
    oto = client.submit_order(MarketOrderRequest(symbol="MSFT", qty=1, side=BUY, time_in_force=DAY,
                                                 order_class=OrderClass.OTO,
                                                 take_profit=TakeProfitRequest(limit_price=420)))
    assert message(lambda: client.replace_order_by_id(oto.legs[0].id, ReplaceOrderRequest(limit_price=430))) == \
        "oto order is not replaceable"


def test_day_exits_expire_at_the_close(fake, client):
    order = client.submit_order(bracket(tif=DAY))
    fake.market.close()
    assert {leg.status for leg in client.get_order_by_id(order.id).legs} == {OrderStatus.EXPIRED}


def test_a_queued_bracket_fills_at_the_open_and_arms_its_exits(fake, client):
    fake.market.close()
    order = client.submit_order(bracket())
    assert order.status == OrderStatus.ACCEPTED and {leg.status for leg in order.legs} == {OrderStatus.HELD}
    fake.market.open()
    assert {leg.status for leg in client.get_order_by_id(order.id).legs} == {OrderStatus.NEW}


# -- 3. the trade stream -----------------------------------------------------------------------


def test_leg_events_carry_the_legs_own_order(fake, client):
    with trading_stream(fake, raw=True) as (_stream, updates):
        fake.stream.wait_listening()
        order = client.submit_order(bracket(qty=2))
        wait_until(lambda: len(updates) >= 4, what="the entry's new and fill, its exits' new")
        fake.set_price("AAPL", 139)
        wait_until(lambda: len(updates) >= 6, what="the stop's fill and the take-profit's cancel")
    data = [u["data"] for u in updates]
    profit_id, loss_id = (str(leg.id) for leg in order.legs)
    assert [(d["event"], d["order"]["id"]) for d in data] == [
        ("new", str(order.id)), ("fill", str(order.id)), ("new", profit_id), ("new", loss_id),
        ("fill", loss_id), ("canceled", profit_id)]
    entry_fill = data[1]["order"]
    assert [leg["id"] for leg in entry_fill["legs"]] == [profit_id, loss_id]
    assert entry_fill["legs"][0]["status"] == "held"  # the event's moment: the exits arm just after
    stop_fill = data[4]
    assert (stop_fill["price"], stop_fill["qty"], stop_fill["position_qty"]) == ("139", "2", "0")
    assert (stop_fill["order"]["order_class"], stop_fill["order"]["type"], stop_fill["order"]["stop_price"],
            stop_fill["order"]["legs"]) == ("bracket", "stop", "140", None)
    assert data[5]["order"]["limit_price"] == "160" and data[5]["order"]["status"] == "canceled"


def test_trailing_stop_fill_event_shows_hwm_and_stop(fake, client):
    fake.set_position("AAPL", 4)
    with trading_stream(fake) as (_stream, updates):
        fake.stream.wait_listening()
        client.submit_order(TrailingStopOrderRequest(symbol="AAPL", qty=4, side=SELL, time_in_force=DAY,
                                                     trail_price=2))
        fake.set_price("AAPL", 155)
        fake.set_price("AAPL", 152.5)
        wait_until(lambda: len(updates) >= 2, what="new and fill")
    assert events(updates) == ["new", "fill"]
    fill = updates[1]
    assert (fill.order.hwm, fill.order.stop_price, fill.price) == ("155", "153", 152.5)
