"""The first order of a plan never waits on a read, and the trader's own orders holding the
shares are released before a close goes, never after Alpaca refuses it (issue 21).

Through AlpacaBroker → alpaca-py → the fake, reading what the fake received in order.
"""

from __future__ import annotations

from tests.engine.test_alpaca_rules import held, make_services, rejected, row, send, services  # noqa: F401 (the fixture)


def requests_of(fake, first: int = 0) -> list[tuple[str, str]]:
    return [(method, path) for _, method, path in fake.request_log[first:]]


def first(log: list[tuple[str, str]], wanted) -> int:
    return next((i for i, request in enumerate(log) if wanted(request)), len(log))


def is_order_post(request) -> bool:
    return request == ("POST", "/v2/orders")


def is_market_data(request) -> bool:
    return request[1].startswith("/v2/stocks/") or request[1].startswith("/v1beta3/")


def test_a_sell_without_a_price_sends_the_close_before_reading_the_price(services, fake, settings):
    fake.set_position("AAPL", 100)
    services.broker.asset("AAPL")  # known already, as for any symbol the leader traded before
    start = len(fake.request_log)
    assert send(services, "sell") == ["FILLED"]
    log = requests_of(fake, start)
    assert first(log, is_order_post) < first(log, is_market_data) < len(log), log
    assert held(fake) == -100  # 15000 / 150: the short sized from the price read after the close
    assert rejected(fake) == [] and row(settings) == "FILLED"
    closing, opening = (o for o in fake.orders.values())
    assert (closing["side"], closing["qty"], closing["position_intent"]) == ("sell", "100", "sell_to_close")
    assert (opening["side"], opening["qty"]) == ("sell", "100")


def test_a_close_without_a_price_reads_no_price(services, fake, settings):
    fake.set_position("AAPL", 100)
    start = len(fake.request_log)
    assert send(services, "close") == ["WAITING"]
    log = requests_of(fake, start)
    assert first(log, is_market_data) == len(log), log
    assert held(fake) == 0 and rejected(fake) == []


def test_a_flip_whose_short_buys_no_share_closes_and_says_why(settings, fake):
    services = make_services(settings, fake)
    fake.set_position("AAPL", 100)
    fake.set_price("AAPL", 20000)  # 15000 dollars buys no whole share
    assert send(services, "sell") == ["FAILED"]
    assert held(fake) == 0, "the long is closed: the signal said not long"
    reason = services.journal.recent(1)[0]["reason"]
    assert reason.startswith("closed the old position;") and "no whole share" in reason


def test_the_traders_own_stop_is_cancelled_before_the_close_is_sent(services, fake, settings):
    fake.set_position("AAPL", 100)
    stop = fake.place_order(symbol="AAPL", side="sell", type="stop", stop_price="120", qty="100",
                            time_in_force="gtc", client_order_id="my-own-stop")
    start = len(fake.request_log)
    assert send(services, "sell") == ["FILLED"]
    assert rejected(fake) == [] and fake.orders_refused == [], "Alpaca never refused an order: the shares were released first"
    log = requests_of(fake, start)
    assert first(log, lambda r: r == ("DELETE", f"/v2/orders/{stop['id']}")) < first(log, is_order_post) < len(log)
    assert fake.orders[stop["id"]]["status"] == "canceled"
    assert held(fake) == -100
    cancelled = [o for o in services.journal.recent(1)[0]["orders"] if o["purpose"] == "cancelled other"]
    assert [o["client_order_id"] for o in cancelled] == ["my-own-stop"]


def test_a_stop_for_fewer_shares_is_released_too(services, fake, settings):
    fake.set_position("AAPL", 100)
    stop = fake.place_order(symbol="AAPL", side="sell", type="stop", stop_price="120", qty="40",
                            time_in_force="gtc", client_order_id="my-small-stop")
    assert send(services, "close", price=150) == ["WAITING"]
    assert rejected(fake) == [] and held(fake) == 0
    assert fake.orders[stop["id"]]["status"] == "canceled"


def test_with_cancel_other_orders_false_nothing_is_sent_and_the_stop_is_named(settings, fake):
    services = make_services(settings, fake, cancel_other_orders=False)
    fake.set_position("AAPL", 100)
    stop = fake.place_order(symbol="AAPL", side="sell", type="stop", stop_price="120", qty="100",
                            time_in_force="gtc", client_order_id="my-own-stop")
    start = len(fake.request_log)
    assert send(services, "sell") == ["FAILED"]
    assert first(requests_of(fake, start), is_order_post) == len(requests_of(fake, start)), "nothing sent"
    assert list(fake.orders) == [stop["id"]] and fake.orders[stop["id"]]["status"] == "new"
    assert held(fake) == 100
    reason = services.journal.recent(1)[0]["reason"]
    assert "sell 100 AAPL stop" in reason and "NOVALGO_CANCEL_OTHER_ORDERS=false" in reason
