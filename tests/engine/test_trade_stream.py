"""Fills as events: the leader follows Alpaca's trade_updates stream (alpaca-py's TradingStream
against the fake's WebSocket) instead of polling order states, and falls back to REST reads,
with a reconcile after every reconnect, when the stream drops."""

from __future__ import annotations

from decimal import Decimal

import pytest

from novalgo.domain.alerts import parse_alert, read_delivery
from tests.support.alerts import alert_body, run_queue
from tests.support.alpaca import fake_alpaca_broker
from tests.support.gunicorn import wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def services(settings, fake):
    from novalgo.web import create_app

    settings = settings.with_overrides(fill_wait=10.0)
    folder = settings.data_dir / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Config.csv").write_text("symbol,position_size,active,Time Frame,Order Status,Last Updated\n"
                                       + "".join(f"{s},5000,TRUE,15 Min,,\n" for s in ("AAPL", "MSFT", "TSLA")))
    broker = fake_alpaca_broker(fake, stream_url=fake.stream_url)
    services = create_app(settings, broker=broker, start_background=False).extensions["novalgo"]
    executor = services.executor
    updates = broker.listen(executor.on_order_update, executor.reconcile_soon)
    updates._stream._reconnect_min_backoff = 0.1  # alpaca-py waits 1 s or more before reconnecting
    executor.stream_live = lambda: updates.live
    fake.stream.wait_listening()
    wait_for(lambda: updates.live, "the stream to be live")
    services.updates = updates
    yield services
    updates.stop()
    fake.stream.drop()


def send(services, action: str, symbol: str = "AAPL", price=150) -> list[str]:
    delivery = read_delivery(alert_body(action, symbol, "15", price).encode())
    services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return run_queue(services)


def order_reads(fake) -> int:
    return sum(n for (method, path), n in fake.calls.items() if method == "GET" and path.startswith("/v2/orders"))


def test_a_fill_is_seen_from_the_stream_without_any_order_read(services, fake):
    fake.fill_delay = 0.5  # the order rests, then fills: only the stream says so
    fake.calls.clear()
    assert send(services, "buy") == ["FILLED"]
    assert order_reads(fake) == 0
    assert services.broker.position("AAPL").qty > 0
    # The tracker's first pass after the stream connected lists the account's open orders once (the
    # trader's own hold shares a close needs); then no order read while the stream is up.
    services.executor.track()
    assert order_reads(fake) == 1
    fake.calls.clear()
    services.executor.track()
    assert order_reads(fake) == 0


def test_an_order_queued_for_the_open_settles_from_its_event(services, fake):
    fake.market.close()
    assert send(services, "buy") == ["ORDER SUBMITTED"]
    fake.calls.clear()
    fake.market.open()  # the fill is pushed; the alert is woken by the event, no tracker needed
    wait_for(lambda: services.journal.queued(), "the event to requeue the alert")
    assert run_queue(services) == ["FILLED"]
    assert order_reads(fake) == 0


def test_a_drop_mid_burst_misses_nothing_and_doubles_nothing(services, fake):
    fake.market.close()
    symbols = ["AAPL", "MSFT", "TSLA"]
    for symbol in symbols:
        fake.set_price(symbol, 150)
    for symbol in symbols:
        send(services, "buy", symbol)
    fake.stream.refuse(True)
    fake.stream.drop()  # down: the fills at the open are pushed to nobody
    wait_for(lambda: not services.updates.live, "the stream to be seen down")
    fake.market.open()
    services.executor.track()  # the fallback: one REST read finds the fills
    statuses_after_fallback = run_queue(services)
    fake.stream.refuse(False)
    wait_for(lambda: services.updates.live, "alpaca-py to reconnect")
    assert statuses_after_fallback.count("FILLED") == len(statuses_after_fallback) > 0
    held = {symbol: services.broker.position(symbol).qty for symbol in symbols}
    assert all(qty > 0 for qty in held.values()), held
    assert len({o["client_order_id"] for o in fake.orders.values()}) == len(fake.orders) == len(symbols)
    assert [a["status"] for a in services.journal.recent(10)].count("FILLED") == len(symbols)


def test_after_a_reconnect_the_next_tracker_pass_reconciles_over_rest(services, fake):
    fake.market.close()
    assert send(services, "buy") == ["ORDER SUBMITTED"]
    services.executor.track()
    fake.calls.clear()
    services.executor.track()
    assert order_reads(fake) == 0, "stream up, reconcile done: no reads"
    fake.stream.drop()  # alpaca-py reconnects; events in between are lost
    wait_for(lambda: fake.stream.connections >= 2 and services.updates.live, "the reconnect")
    services.executor.track()
    assert order_reads(fake) == 2, "one list of our orders and one of every open order after the reconnect"
    assert services.broker.position("AAPL").qty == Decimal(0), "still queued for the open"


def requests_before_the_post(fake, since: int) -> list[str]:
    log = fake.request_log[since:]
    post = next(i for i, (_, method, path) in enumerate(log) if method == "POST" and path == "/v2/orders")
    return [f"{method} {path}" for _, method, path in log[:post]]


def test_with_the_stream_current_an_alert_goes_to_the_broker_in_one_round_trip(services, fake):
    assert send(services, "buy") == ["FILLED"]  # the first look at AAPL: positions list, asset
    # Its REST answer may come before its fill event: until the event is in, AAPL is listed again.
    wait_for(lambda: services.broker.position_is_current("AAPL"), "the stream to catch up with the fill")
    since = len(fake.request_log)
    assert send(services, "close") == ["WAITING"]
    assert requests_before_the_post(fake, since) == [], "the position came from the stream's fill events"
    assert services.broker.position("AAPL").qty == 0


def test_someone_elses_fill_moves_the_position_the_next_alert_decides_on(services, fake):
    assert send(services, "buy") == ["FILLED"]
    wait_for(lambda: services.broker.position_is_current("AAPL"), "the stream to catch up with the fill")
    held = services.broker.position("AAPL").qty
    fake.place_order(symbol="AAPL", side="buy", type="market", qty="10", client_order_id="traders-own-buy")
    wait_for(lambda: services.broker.position_is_current("AAPL") and services.broker.position("AAPL").qty == held + 10,
             "the trader's fill to reach the cache")
    since = len(fake.request_log)
    assert send(services, "close") == ["WAITING"]
    assert requests_before_the_post(fake, since) == []
    assert [Decimal(o["qty"]) for o in fake.orders.values() if o["side"] == "sell"] == [held + 10]


def test_after_a_reconnect_positions_are_listed_again_before_they_are_trusted(services, fake):
    assert send(services, "buy") == ["FILLED"]
    fake.stream.drop()
    wait_for(lambda: fake.stream.connections >= 2 and services.updates.live, "the reconnect")
    since = len(fake.request_log)
    assert send(services, "close") == ["WAITING"]
    assert requests_before_the_post(fake, since) == ["GET /v2/positions"]


def test_a_rest_answer_ahead_of_the_stream_is_not_outrun_by_a_stale_cache(services, fake):
    assert send(services, "buy") == ["FILLED"]
    wait_for(lambda: services.broker.position_is_current("AAPL"), "the stream to catch up with the fill")
    fake.stream.delay = 1.0  # the next fill's event comes a second after the order's answer
    before = services.broker.position("AAPL").qty
    assert send(services, "close") == ["WAITING"]
    assert not services.broker.position_is_current("AAPL"), "the close's event is not in yet"
    assert services.broker.position("AAPL").qty == 0 != before, "so the position is listed, not cached"
    wait_for(lambda: services.broker.position_is_current("AAPL"), "the late event")
    assert services.broker.position("AAPL").qty == 0


def test_a_refusal_for_a_position_we_did_not_have_reads_it_again_and_decides_once_more(services, fake):
    assert send(services, "buy") == ["FILLED"]
    wait_for(lambda: services.broker.position_is_current("AAPL"), "the stream to catch up with the fill")
    fake.set_position("AAPL", 0)  # gone without an order (a transfer, say): the stream says nothing
    assert services.broker.position("AAPL").qty > 0, "the cache still believes the long"
    since = len(fake.request_log)
    assert send(services, "close") == ["WAITING"]  # the close is refused; flat after a fresh read
    record = services.journal.recent(1)[0]
    assert record["reason"] == "already flat"
    [refused] = record["orders"]
    # The close went as a close (position_intent sell_to_close): Alpaca, flat, refuses it rather
    # than open a short.
    assert refused["state"] == "replanned" and "position intent mismatch" in refused["reason"]
    calls = [f"{m} {p}" for _, m, p in fake.request_log[since:]]
    assert calls.index("GET /v2/positions") > calls.index("POST /v2/orders")
    assert services.broker.position("AAPL").qty == 0


def test_the_traders_stop_told_by_the_stream_is_cancelled_before_the_close_with_no_read(services, fake):
    assert send(services, "buy") == ["FILLED"]
    services.executor.track()  # the pass after the connect: the account's open orders, listed once
    wait_for(lambda: services.broker.position_is_current("AAPL"), "the stream to catch up with the fill")
    shares = int(services.broker.position("AAPL").qty)
    stop = fake.place_order(symbol="AAPL", side="sell", type="stop", stop_price="100", qty=str(shares),
                            time_in_force="gtc", client_order_id="my-own-stop")
    wait_for(lambda: any(o.broker_order_id == stop["id"] for o in services.broker.open_orders_known("AAPL") or ()),
             "the stop's event")
    since = len(fake.request_log)
    assert send(services, "close") == ["WAITING"]
    assert requests_before_the_post(fake, since) == [f"DELETE /v2/orders/{stop['id']}"], "no read: the stream told"
    assert fake.orders_refused == [] and fake.orders[stop["id"]]["status"] == "canceled"
    assert services.broker.position("AAPL").qty == 0
