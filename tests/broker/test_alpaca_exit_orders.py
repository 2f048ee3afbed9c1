"""Exit orders for shares already held, through AlpacaBroker and alpaca-py against the fake Alpaca: an OCO
(the take-profit limit with its stop-loss leg), a lone stop, and what a cancelled part-filled bracket
entry leaves. The fake's rules and their documents are in tests/fakes/alpaca_rules.py and alpaca_exits.py."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from novalgo.broker.base import CANCELED, FILLED, PARTIALLY_FILLED, PENDING, OrderRequest
from novalgo.errors import BlockedByOpenOrders, OrderRejected
from tests.broker.test_alpaca_broker import broker, fake  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(30)


def oco(cid="nva-oco-0", qty=10, tp="160", sl="140", symbol="AAPL", side="sell") -> OrderRequest:
    return OrderRequest(cid, symbol, side, qty=D(qty), order_type="limit", limit_price=D(tp), stop_loss=D(sl),
                        oco=True, time_in_force="gtc")


def stop(cid="nva-stop-0", qty=10, price="140") -> OrderRequest:
    return OrderRequest(cid, "AAPL", "sell", qty=D(qty), order_type="stop", stop_price=D(price), time_in_force="gtc")


def test_an_oco_on_a_held_long_rests_the_take_profit_with_its_stop_as_a_leg(fake, broker):
    fake.set_position("AAPL", 10)
    state = broker.submit(oco())
    assert (state.client_order_id, state.side, state.qty, state.order_type, state.limit_price, state.status) == (
        "nva-oco-0", "sell", 10, "limit", 160, PENDING)
    (loss,) = state.legs
    assert (loss.side, loss.qty, loss.order_type, loss.stop_price, loss.status) == ("sell", 10, "stop", 140, PENDING)
    assert loss.client_order_id not in ("", "nva-oco-0")  # the leg's own, Alpaca's
    body = next(o for o in fake.orders.values() if o["client_order_id"] == "nva-oco-0")
    assert (body["order_class"], body["time_in_force"], body["limit_price"]) == ("oco", "gtc", "160")
    assert broker.find_order("nva-oco-0") == state
    assert {o.client_order_id for o in broker.open_orders("AAPL")} == {"nva-oco-0", loss.client_order_id}
    # The pair holds the ten shares once: a plain sell of any of them is refused as held for orders.
    with pytest.raises(BlockedByOpenOrders, match="insufficient qty available"):
        broker.submit(OrderRequest("nva-sell-0", "AAPL", "sell", qty=D(1)))


def test_a_rise_fills_the_take_profit_and_cancels_the_stop(fake, broker):
    fake.set_position("AAPL", 10)
    broker.submit(oco())
    fake.set_price("AAPL", 165)
    state = broker.find_order("nva-oco-0")
    assert (state.status, state.filled_qty, state.filled_avg_price) == (FILLED, 10, 160)
    assert [leg.status for leg in state.legs] == [CANCELED]
    assert broker.position("AAPL").qty == 0


def test_a_fall_fills_the_stop_at_the_price_that_crossed_it_and_cancels_the_take_profit(fake, broker):
    fake.set_position("AAPL", 10)
    broker.submit(oco())
    fake.set_price("AAPL", 138)
    state = broker.find_order("nva-oco-0")
    (loss,) = state.legs
    assert (state.status, state.filled_qty) == (CANCELED, 0)
    assert (loss.status, loss.filled_qty, loss.filled_avg_price) == (FILLED, 10, 138)
    assert broker.position("AAPL").qty == 0


def test_cancelling_the_oco_cancels_its_stop(fake, broker):
    fake.set_position("AAPL", 10)
    broker.submit(oco())
    broker.cancel("nva-oco-0")
    state = broker.find_order("nva-oco-0")
    assert [state.status] + [leg.status for leg in state.legs] == [CANCELED, CANCELED]
    assert broker.open_orders("AAPL") == []


def test_a_lone_stop_sell_rests_then_fills_when_crossed(fake, broker):
    fake.set_position("AAPL", 10)
    state = broker.submit(stop())
    assert (state.order_type, state.stop_price, state.status, state.legs) == ("stop", 140, PENDING, ())
    assert "stop 140" in state.description
    fake.set_price("AAPL", 139.5)
    state = broker.find_order("nva-stop-0")
    assert (state.status, state.filled_avg_price) == (FILLED, D("139.5"))


def test_an_oco_on_crypto_is_refused(fake, broker):
    fake.set_position("BTC/USD", 1)
    with pytest.raises(OrderRejected, match="crypto orders must be simple orders"):
        broker.submit(oco(symbol="BTC/USD", qty=1, tp="70000", sl="50000"))


def test_an_oco_for_more_shares_than_held_is_refused(fake, broker):
    fake.set_position("AAPL", 10)
    with pytest.raises(OrderRejected, match=r"insufficient qty available for order \(requested: 11, available: 10\)"):
        broker.submit(oco(qty=11))
    with pytest.raises(OrderRejected, match="oco orders must be exit orders"):
        broker.submit(oco(cid="nva-oco-1", side="buy", tp="140", sl="160"))  # a buy OCO on a long would open


def test_cancelling_a_part_filled_bracket_entry_cancels_its_waiting_exits(fake, broker):
    entry = broker.submit(OrderRequest("nva-entry-0", "AAPL", "buy", qty=D(10), order_type="limit",
                                       limit_price=D(145), take_profit=D(160), stop_loss=D(140), time_in_force="gtc"))
    assert [leg.status for leg in entry.legs] == [PENDING, PENDING]  # Alpaca's "held": nothing to exit yet
    fake.fill_order(entry.broker_order_id, qty=4, price=145)
    assert broker.find_order("nva-entry-0").status == PARTIALLY_FILLED
    assert [leg["status"] for leg in fake.legs_of(entry.broker_order_id)] == ["held", "held"]  # not "completely filled"
    broker.cancel("nva-entry-0")
    state = broker.find_order("nva-entry-0")
    assert (state.status, state.filled_qty, state.filled_avg_price) == (CANCELED, 4, 145)
    assert [(leg.order_type, leg.status, leg.filled_qty) for leg in state.legs] == [
        ("limit", CANCELED, 0), ("stop", CANCELED, 0)]
    assert broker.position("AAPL").qty == 4  # the four bought stay, with no exit on them
    assert broker.open_orders("AAPL") == []
