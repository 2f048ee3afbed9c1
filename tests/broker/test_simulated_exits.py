"""The simulator's resting orders, as a trader watching them would see them: limits that wait for
the price, brackets whose exits close the trade, trailing stops that follow the market, open exits
holding the shares, and fills made by another process reaching the service's listener."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest

from novalgo.broker.base import CANCELED, FILLED, PARTIALLY_FILLED, PENDING, REJECTED, OrderRequest
from novalgo.broker.simulated import SimulatedBroker
from novalgo.errors import BlockedByOpenOrders, OrderRejected
from tests.support.clock import Clock

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def broker(data_dir) -> SimulatedBroker:
    return SimulatedBroker(data_dir, clock=Clock(T0), watch_every=0)


@pytest.fixture
def heard(broker) -> list:
    events: list = []
    broker.listen(events.append, lambda: None)
    return events


_ids = iter(range(1, 10**6))


def order(side: str, qty="10", price=None, symbol="AAPL", **more) -> OrderRequest:
    for name in ("limit_price", "take_profit", "stop_loss", "trail_percent", "trail_price", "notional", "stop_price"):
        if more.get(name) is not None:
            more[name] = D(more[name])
    return OrderRequest(more.pop("cid", f"nva-t{next(_ids)}-0"), symbol, side, None if qty is None else D(qty),
                        price_hint=None if price is None else D(price), **more)


def bracket(broker, side="buy", qty="10", price="100", take_profit="110", stop_loss="95"):
    entry = broker.submit(order(side, qty, price, take_profit=take_profit, stop_loss=stop_loss, cid="nva-entry-0"))
    take, stop = entry.legs
    return entry, take, stop


def test_a_bracket_fills_its_entry_and_leaves_both_exits_working(broker):
    entry, take, stop = bracket(broker)
    assert (entry.status, entry.filled_qty, entry.filled_avg_price) == (FILLED, 10, 100)
    assert (take.side, take.qty, take.order_type, take.limit_price, take.status) == ("sell", 10, "limit", 110, PENDING)
    assert (stop.side, stop.qty, stop.order_type, stop.stop_price, stop.status) == ("sell", 10, "stop", 95, PENDING)
    assert take.client_order_id != stop.client_order_id and not take.client_order_id.startswith("nva-")
    assert broker.find_order(take.client_order_id) == take
    assert set(broker.orders([take.client_order_id, stop.client_order_id])) == {take.client_order_id,
                                                                                 stop.client_order_id}
    assert [o.client_order_id for o in broker.open_orders("AAPL")] == [take.client_order_id, stop.client_order_id]
    assert broker.position("AAPL").qty == 10


def test_the_take_profit_fills_at_its_limit_and_cancels_the_stop(broker, heard):
    entry, take, stop = bracket(broker)
    broker.observe_price("AAPL", D("105"))
    assert broker.find_order(take.client_order_id).status == PENDING
    heard.clear()
    broker.observe_price("AAPL", D("112"))  # went through 110 since the last price
    take, stop = broker.find_order("nva-entry-0").legs
    assert (take.status, take.filled_qty, take.filled_avg_price) == (FILLED, 10, 110)
    assert stop.status == CANCELED and "take-profit filled" in stop.reason
    assert broker.position("AAPL").qty == 0 and broker.account().cash == 100000 + 10 * 10
    assert broker.open_orders("AAPL") == []
    # Listeners hear each leg's change, and the entry with its legs as they now are.
    assert [(s.client_order_id, s.status) for s in heard] == [
        (take.client_order_id, FILLED), ("nva-entry-0", FILLED), (stop.client_order_id, CANCELED)]
    assert heard[1].legs == (take, stop)


def test_the_stop_loss_fills_at_the_price_that_crossed_it_and_cancels_the_take_profit(broker):
    bracket(broker)
    [state] = [s for s in broker.mark("AAPL", D("93.50")) if s.status == FILLED]
    assert (state.order_type, state.filled_avg_price, state.side) == ("stop", D("93.50"), "sell")
    take, stop = broker.find_order("nva-entry-0").legs
    assert (take.status, stop.status) == (CANCELED, FILLED)
    assert broker.position("AAPL").qty == 0 and broker.account().cash == 100000 - 65


def test_a_short_bracket_exits_by_buying(broker):
    entry, take, stop = bracket(broker, side="sell", take_profit="90", stop_loss="105")
    assert (take.side, stop.side, broker.position("AAPL").qty) == ("buy", "buy", -10)
    broker.observe_price("AAPL", D("89"))
    assert broker.find_order(take.client_order_id).filled_avg_price == 90
    assert broker.position("AAPL").qty == 0


def test_an_oto_has_its_one_exit(broker):
    entry = broker.submit(order("buy", "5", "100", stop_loss="90"))
    [stop] = entry.legs
    assert (stop.order_type, stop.stop_price, stop.qty) == ("stop", 90, 5)


def test_a_limit_buy_rests_until_the_price_comes_down_then_its_exits_work(broker, heard):
    placed = broker.submit(order("buy", "10", "105", order_type="limit", limit_price="100",
                                 take_profit="110", stop_loss="95", cid="nva-limit-0"))
    assert (placed.status, placed.filled_qty) == (PENDING, 0)
    assert broker.position("AAPL").qty == 0
    broker.observe_price("AAPL", D("101"))
    assert broker.find_order("nva-limit-0").status == PENDING
    broker.observe_price("AAPL", D("99"))
    filled = broker.find_order("nva-limit-0")
    assert (filled.status, filled.filled_avg_price) == (FILLED, 100)  # resting: at its limit
    assert ("nva-limit-0", FILLED) in [(s.client_order_id, s.status) for s in heard]
    assert all(leg.status == PENDING for leg in filled.legs)
    broker.observe_price("AAPL", D("94"))
    assert broker.position("AAPL").qty == 0


def test_a_limit_that_can_fill_now_fills_at_the_better_price(broker):
    state = broker.submit(order("buy", "10", "98", order_type="limit", limit_price="100"))
    assert (state.status, state.filled_avg_price) == (FILLED, 98)
    sell = broker.submit(order("sell", "10", "99", order_type="limit", limit_price="101"))
    assert sell.status == PENDING
    broker.observe_price("AAPL", D("103"))
    assert broker.find_order(sell.client_order_id).filled_avg_price == 101


def test_a_trailing_stop_follows_the_price_up_and_fills_on_the_way_down(broker):
    broker.submit(order("buy", "10", "100"))
    trail = broker.submit(order("sell", "10", order_type="trailing_stop", trail_percent="5", cid="nva-trail-0"))
    assert (trail.status, trail.stop_price) == (PENDING, 95)
    for price, stop in (("110", "104.50"), ("105", "104.50"), ("120", "114")):
        broker.observe_price("AAPL", D(price))
        state = broker.find_order("nva-trail-0")
        assert (state.status, state.stop_price) == (PENDING, D(stop))
    broker.observe_price("AAPL", D("113"))
    state = broker.find_order("nva-trail-0")
    assert (state.status, state.filled_avg_price) == (FILLED, 113)
    assert broker.position("AAPL").qty == 0


def test_a_buy_trailing_stop_trails_above_the_low_by_dollars(broker):
    broker.submit(order("sell", "10", "100"))
    trail = broker.submit(order("buy", "10", order_type="trailing_stop", trail_price="3"))
    broker.observe_price("AAPL", D("90"))
    assert broker.find_order(trail.client_order_id).stop_price == 93
    broker.observe_price("AAPL", D("93.20"))
    assert broker.find_order(trail.client_order_id).filled_avg_price == D("93.20")


def test_cancelling_an_unfilled_entry_cancels_its_exits(broker, heard):
    placed = broker.submit(order("buy", "10", "105", order_type="limit", limit_price="100",
                                 take_profit="110", stop_loss="95", cid="nva-gone-0"))
    heard.clear()
    broker.cancel("nva-gone-0")
    state = broker.find_order("nva-gone-0")
    assert state.status == CANCELED and [leg.status for leg in state.legs] == [CANCELED, CANCELED]
    assert broker.open_orders("AAPL") == []
    assert {s.client_order_id for s in heard} == {"nva-gone-0", *(leg.client_order_id for leg in placed.legs)}
    broker.observe_price("AAPL", D("90"))
    assert broker.position("AAPL").qty == 0


def test_cancelling_one_exit_by_the_brokers_id_cancels_the_other(broker):
    entry, take, stop = bracket(broker)
    broker.cancel_by_id(take.broker_order_id)
    assert [leg.status for leg in broker.find_order("nva-entry-0").legs] == [CANCELED, CANCELED]
    assert broker.position("AAPL").qty == 10


def test_open_exits_hold_the_shares_so_a_plain_sell_is_blocked(broker):
    bracket(broker)
    with pytest.raises(BlockedByOpenOrders, match=r"^insufficient qty available for order \(requested: 10, "
                                                  r"available: 0\)$"):
        broker.submit(order("sell", "10", "101", cid="nva-close-0"))
    assert broker.find_order("nva-close-0") is None and broker.position("AAPL").qty == 10
    # Buying more leaves shares free to sell; the exits still hold their ten.
    broker.submit(order("buy", "5", "101"))
    assert broker.submit(order("sell", "5", "101")).status == FILLED
    with pytest.raises(BlockedByOpenOrders, match=r"available: 0"):
        broker.submit(order("sell", "1", "101"))
    # The executor's way out: cancel what holds them, then sell.
    for other in broker.open_orders("AAPL"):
        broker.cancel_by_id(other.broker_order_id)
    assert broker.submit(order("sell", "10", "101")).status == FILLED


def test_a_resting_sell_limit_holds_shares_too(broker):
    broker.submit(order("buy", "10", "100"))
    broker.submit(order("sell", "6", order_type="limit", limit_price="120"))
    with pytest.raises(BlockedByOpenOrders, match=r"requested: 5, available: 4"):
        broker.submit(order("sell", "5"))
    assert broker.submit(order("sell", "4")).status == FILLED


@pytest.mark.parametrize("request_, words", [
    pytest.param(dict(qty="2.5", take_profit="110", stop_loss="95"), "fractional orders are not supported for "
                 "bracket orders", id="fractional-bracket"),
    pytest.param(dict(qty=None, notional="1000", stop_loss="95"), "fractional orders are not supported for oto",
                 id="dollar-oto"),
    pytest.param(dict(qty="0.5", order_type="trailing_stop", trail_percent="2"), "fractional orders are not "
                 "supported for trailing_stop", id="fractional-trailing"),
    pytest.param(dict(order_type="market", extended_hours=True), "extended hours order must be DAY limit orders",
                 id="extended-market"),
    pytest.param(dict(order_type="limit", limit_price="100", time_in_force="gtc", extended_hours=True),
                 "extended hours order must be DAY limit orders", id="extended-gtc"),
    pytest.param(dict(take_profit="99", stop_loss="95"), r"take_profit.limit_price must be >= base_price \+ 0.01",
                 id="take-profit-below"),
    pytest.param(dict(take_profit="110", stop_loss="101"), r"stop_loss.stop_price must be <= base_price - 0.01",
                 id="stop-above"),
])
def test_what_alpaca_refuses_is_refused_and_nothing_is_placed(broker, request_, words):
    qty = request_.pop("qty", "10")
    with pytest.raises(OrderRejected, match=words):
        broker.submit(order("buy", qty, "100", cid="nva-no-0", **request_))
    assert broker.find_order("nva-no-0") is None
    assert broker.position("AAPL").qty == 0 and broker.account().cash == 100000


def test_an_extended_hours_limit_simply_fills_as_a_limit(broker):
    state = broker.submit(order("buy", "3", "50", order_type="limit", limit_price="50", extended_hours=True))
    assert (state.status, state.filled_avg_price) == (FILLED, 50)


def test_a_fill_made_by_another_process_reaches_the_first_ones_listener(data_dir):
    service = SimulatedBroker(data_dir, watch_every=0.05)
    heard: list = []
    handle = service.listen(heard.append, lambda: None)
    try:
        entry = service.submit(order("buy", "10", "100", take_profit="110", stop_loss="95", cid="nva-x-0"))
        take = entry.legs[0]
        heard.clear()
        cli = SimulatedBroker(data_dir, watch_every=0)  # e.g. ``novalgo sim price`` in its own process
        changed = cli.mark("AAPL", D("110"))
        assert [(s.client_order_id, s.status) for s in changed] == [(take.client_order_id, FILLED),
                                                                    (entry.legs[1].client_order_id, CANCELED)]
        deadline = time.monotonic() + 5
        while len(heard) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [(s.client_order_id, s.status) for s in heard] == [
            (take.client_order_id, FILLED), ("nva-x-0", FILLED), (entry.legs[1].client_order_id, CANCELED)]
        assert handle.check() == 0  # each change is heard once
    finally:
        handle.stop()
    assert handle.live is False


def test_changes_the_listener_made_itself_are_not_heard_twice(broker, heard):
    handle = broker.listen(lambda state: None, lambda: None)
    bracket(broker)
    count = len(heard)
    assert handle.check() == 0 and len(heard) == count


def test_a_data_dir_from_before_resting_orders_keeps_its_orders(data_dir):
    import sqlite3

    from novalgo.broker.simulated import SCHEMA

    data_dir.mkdir(parents=True)
    with sqlite3.connect(data_dir / "simbroker.sqlite3") as db:
        db.executescript(SCHEMA)
        db.execute("INSERT INTO orders VALUES ('nva-old-0', 'b1', 'AAPL', 'buy', '10', NULL, 'filled', '10', '100', "
                   "'', 0)")
    broker = SimulatedBroker(data_dir, watch_every=0)
    old = broker.find_order("nva-old-0")
    assert (old.status, old.filled_qty, old.order_type, old.legs) == (FILLED, 10, "market", ())
    assert broker.submit(order("buy", "1", "100", take_profit="110")).legs[0].status == PENDING


def test_a_working_exit_moves_to_a_new_price_under_a_new_id(broker):
    entry, take, stop = bracket(broker)
    moved = broker.replace_exit(take.broker_order_id, "nva-entry-0-tp", limit_price=D("112"))
    assert (moved.client_order_id, moved.limit_price, moved.status) == ("nva-entry-0-tp", 112, PENDING)
    assert broker.find_order(take.client_order_id) is None
    broker.observe_price("AAPL", D("111"))
    assert broker.find_order("nva-entry-0-tp").status == PENDING, "111 is short of the new 112"
    broker.observe_price("AAPL", D("112.5"))
    assert (broker.find_order("nva-entry-0-tp").status, broker.position("AAPL").qty) == (FILLED, 0)
    assert broker.find_order(stop.client_order_id).status == CANCELED
    with pytest.raises(OrderRejected, match="not open"):
        broker.replace_exit(stop.broker_order_id, "nva-x", stop_price=D("90"))


# -- exits for shares already held: OCO and lone stops (as the fake Alpaca's, tests/broker/test_alpaca_exit_orders.py)


def oco(qty="10", tp="110", sl="95", side="sell", symbol="AAPL", cid="nva-oco-0", price=None) -> OrderRequest:
    return order(side, qty, price, symbol=symbol, order_type="limit", limit_price=tp, stop_loss=sl, oco=True,
                 time_in_force="gtc", cid=cid)


def test_an_oco_on_a_held_long_rests_the_take_profit_with_its_stop_working_as_a_leg(broker, heard):
    broker.submit(order("buy", "10", "100"))
    heard.clear()
    state = broker.submit(oco())
    assert (state.client_order_id, state.side, state.qty, state.order_type, state.limit_price, state.status) == (
        "nva-oco-0", "sell", 10, "limit", 110, PENDING)
    (stop,) = state.legs
    assert (stop.side, stop.qty, stop.order_type, stop.stop_price, stop.status) == ("sell", 10, "stop", 95, PENDING)
    assert stop.client_order_id not in ("", "nva-oco-0") and broker.find_order(stop.client_order_id) == stop
    assert broker.find_order("nva-oco-0") == state == broker.orders(["nva-oco-0"])["nva-oco-0"]
    assert [o.client_order_id for o in broker.open_orders("AAPL")] == ["nva-oco-0", stop.client_order_id]
    assert (broker.label("nva-oco-0"), broker.label(stop.client_order_id)) == ("take-profit", "stop-loss")
    assert {s.client_order_id for s in heard} == {"nva-oco-0", stop.client_order_id}
    # The pair holds the ten shares once: a plain sell of any of them is refused as held for orders.
    with pytest.raises(BlockedByOpenOrders, match=r"requested: 1, available: 0"):
        broker.submit(order("sell", "1", "100"))


def test_a_rise_fills_the_oco_take_profit_at_its_limit_and_cancels_the_stop(broker, heard):
    broker.submit(order("buy", "10", "100"))
    broker.submit(oco())
    heard.clear()
    broker.observe_price("AAPL", D("112"))
    state = broker.find_order("nva-oco-0")
    (stop,) = state.legs
    assert (state.status, state.filled_qty, state.filled_avg_price) == (FILLED, 10, 110)
    assert stop.status == CANCELED and "take-profit filled" in stop.reason
    assert broker.position("AAPL").qty == 0 and broker.open_orders("AAPL") == []
    assert [(s.client_order_id, s.status) for s in heard] == [("nva-oco-0", FILLED), (stop.client_order_id, CANCELED)]


def test_a_fall_fills_the_oco_stop_at_the_price_that_crossed_it_and_cancels_the_take_profit(broker, heard):
    broker.submit(order("buy", "10", "100"))
    broker.submit(oco())
    heard.clear()
    broker.observe_price("AAPL", D("93.5"))
    state = broker.find_order("nva-oco-0")
    (stop,) = state.legs
    assert (stop.status, stop.filled_qty, stop.filled_avg_price) == (FILLED, 10, D("93.5"))
    assert (state.status, state.filled_qty) == (CANCELED, 0) and "stop-loss filled" in state.reason
    assert broker.position("AAPL").qty == 0
    # The stop's change is heard, then the OCO with its leg as it now is.
    assert [(s.client_order_id, s.status) for s in heard] == [(stop.client_order_id, FILLED), ("nva-oco-0", CANCELED)]


def test_a_short_is_protected_by_a_buy_oco(broker):
    broker.submit(order("sell", "10", "100"))
    state = broker.submit(oco(side="buy", tp="90", sl="105"))
    assert state.legs[0].side == "buy"
    broker.observe_price("AAPL", D("106"))
    assert broker.find_order(state.legs[0].client_order_id).filled_avg_price == 106
    assert broker.position("AAPL").qty == 0


def test_cancelling_the_oco_or_its_stop_cancels_both(broker):
    broker.submit(order("buy", "10", "100"))
    placed = broker.submit(oco())
    broker.cancel("nva-oco-0")
    state = broker.find_order("nva-oco-0")
    assert [state.status, state.legs[0].status] == [CANCELED, CANCELED]
    again = broker.submit(oco(cid="nva-oco-1"))
    broker.cancel_by_id(again.legs[0].broker_order_id)
    state = broker.find_order("nva-oco-1")
    assert [state.status, state.legs[0].status] == [CANCELED, CANCELED] and "stop-loss was canceled" in state.reason
    assert broker.open_orders("AAPL") == [] and placed.legs[0].client_order_id != again.legs[0].client_order_id
    assert broker.position("AAPL").qty == 10


def test_a_lone_stop_sell_rests_then_fills_at_the_price_that_crossed_it(broker, heard):
    broker.submit(order("buy", "10", "100"))
    state = broker.submit(order("sell", "10", order_type="stop", stop_price="95", time_in_force="gtc", cid="nva-stop-0"))
    assert (state.order_type, state.stop_price, state.status, state.legs) == ("stop", 95, PENDING, ())
    assert state.description == "sell 10 AAPL stop 95"
    with pytest.raises(BlockedByOpenOrders):
        broker.submit(order("sell", "1", "100"))
    broker.observe_price("AAPL", D("96"))
    assert broker.find_order("nva-stop-0").status == PENDING
    broker.observe_price("AAPL", D("94.2"))
    state = broker.find_order("nva-stop-0")
    assert (state.status, state.filled_avg_price) == (FILLED, D("94.2"))
    assert ("nva-stop-0", FILLED) in [(s.client_order_id, s.status) for s in heard]
    assert broker.position("AAPL").qty == 0


@pytest.mark.parametrize("request_, words", [
    pytest.param(dict(symbol="BTC/USD", qty="1", tp="70000", sl="50000", price="60000"),
                 "crypto orders must be simple orders", id="crypto"),
    pytest.param(dict(side="buy", tp="90", sl="110"), "oco orders must be exit orders", id="would-open"),
    pytest.param(dict(qty="2.5"), "fractional orders are not supported for oco orders", id="fractional"),
    pytest.param(dict(sl="109.995"), r"stop_loss.stop_price must be <= base_price - 0.01 \(base_price: 110\)",
                 id="stop-at-the-take-profit"),
    pytest.param(dict(sl="101"), r"stop_loss.stop_price must be <= base_price - 0.01 \(base_price: 100\)",
                 id="stop-above-the-market"),
])
def test_what_alpaca_refuses_of_an_oco_is_refused_and_nothing_is_placed(broker, request_, words):
    symbol = request_.get("symbol", "AAPL")
    broker.submit(order("buy", request_.get("qty", "10"), request_.pop("price", "100"), symbol=symbol))
    with pytest.raises(OrderRejected, match=words):
        broker.submit(oco(cid="nva-no-0", **request_))
    assert broker.find_order("nva-no-0") is None and broker.open_orders(symbol) == []


def test_a_stop_on_crypto_is_refused_like_alpaca(broker):
    with pytest.raises(OrderRejected, match="invalid crypto order type: stop"):
        broker.submit(order("sell", "1", "60000", symbol="BTC/USD", order_type="stop", stop_price="50000"))


def test_an_oco_for_more_shares_than_held_is_refused(broker):
    broker.submit(order("buy", "10", "100"))
    state = broker.submit(oco(qty="11"))
    assert (state.status, state.reason) == (REJECTED, "insufficient qty available for order (requested: 11, "
                                                      "available: 10)")
    assert state.legs == () and broker.open_orders("AAPL") == []


# -- a part-filled bracket entry, cancelled (Alpaca: its exits are cancelled with it)


def test_cancelling_a_part_filled_bracket_entry_cancels_its_waiting_exits(broker, heard):
    entry = broker.submit(order("buy", "10", "150", order_type="limit", limit_price="145", take_profit="160",
                                stop_loss="140", time_in_force="gtc", cid="nva-entry-0"))
    part = broker.fill_part("nva-entry-0", D(4), D(145))
    assert (part.status, part.filled_qty, part.filled_avg_price) == (PARTIALLY_FILLED, 4, 145)
    assert [leg.status for leg in part.legs] == [PENDING, PENDING]  # Alpaca's "held": not completely filled
    assert broker.position("AAPL").qty == 4
    broker.observe_price("AAPL", D("147"))  # above the entry's limit: the rest keeps resting
    assert broker.find_order("nva-entry-0").status == PARTIALLY_FILLED
    heard.clear()
    broker.cancel("nva-entry-0")
    state = broker.find_order("nva-entry-0")
    assert (state.status, state.filled_qty, state.filled_avg_price) == (CANCELED, 4, 145)
    assert [(leg.order_type, leg.status, leg.filled_qty) for leg in state.legs] == [
        ("limit", CANCELED, 0), ("stop", CANCELED, 0)]
    assert {s.client_order_id for s in heard} == {"nva-entry-0", *(leg.client_order_id for leg in entry.legs)}
    assert broker.position("AAPL").qty == 4 and broker.open_orders("AAPL") == []  # four held, unprotected


def test_a_part_filled_limit_fills_the_rest_when_the_price_returns(broker):
    broker.submit(order("buy", "10", "150", order_type="limit", limit_price="145", take_profit="160",
                        stop_loss="140", cid="nva-entry-0"))
    broker.fill_part("nva-entry-0", D(4), D(145))
    assert [o.client_order_id for o in broker.open_orders("AAPL")][0] == "nva-entry-0"
    broker.observe_price("AAPL", D("144"))
    state = broker.find_order("nva-entry-0")
    assert (state.status, state.filled_qty, state.filled_avg_price) == (FILLED, 10, 145)
    assert [leg.status for leg in state.legs] == [PENDING, PENDING] and broker.position("AAPL").qty == 10
    broker.observe_price("AAPL", D("139"))  # now working: the stop fills the ten
    assert broker.position("AAPL").qty == 0
