"""The fake's trade_updates WebSocket, driven by alpaca-py's own TradingStream and, for the wire
details alpaca-py hides (frames, replies to bad keys), by a plain WebSocket client.

TradingStream runs in a thread as an engine would run it. Every wait has a deadline; stopping it is
``stream.stop()`` then ``fake.stream.drop()``: stop() alone only takes effect when TradingStream's
5-second receive timeout runs out, a dropped connection ends it at once.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from decimal import Decimal

import msgpack
import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest, ReplaceOrderRequest
from alpaca.trading.stream import TradingStream
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.fakes.alpaca_server import FakeAlpaca

pytestmark = pytest.mark.timeout(60)


def wait_until(check, timeout: float = 5.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


@contextmanager
def trading_stream(fake: FakeAlpaca, key: str | None = None, secret: str | None = None, *, raw: bool = False,
                   backoff: float | None = None):
    """alpaca-py's TradingStream on the fake, in a thread; yields (stream, the updates it handed over)."""
    updates: list = []
    stream = TradingStream(key or fake.key_id, secret or fake.secret_key, raw_data=raw, url_override=fake.stream_url)
    if backoff is not None:
        stream._reconnect_min_backoff = backoff  # alpaca-py's private knob: 1 s by default, doubling to 30 s

    async def handler(update):
        updates.append(update)

    stream.subscribe_trade_updates(handler)
    thread = threading.Thread(target=stream.run, name="trading-stream", daemon=True)
    thread.start()
    try:
        yield stream, updates
    finally:
        wait_until(lambda: stream._loop is not None, what="TradingStream's loop")  # stop() needs it
        stream.stop()
        fake.stream.drop()
        thread.join(timeout=10)
        assert not thread.is_alive(), "TradingStream did not stop"


def events(updates) -> list[str]:
    return [u.event.value if hasattr(u.event, "value") else u.event for u in updates]


def buy(client: TradingClient, qty: int = 2, client_order_id: str | None = None, symbol: str = "AAPL"):
    return client.submit_order(MarketOrderRequest(symbol=symbol, qty=qty, side=OrderSide.BUY,
                                                  time_in_force=TimeInForce.DAY, client_order_id=client_order_id))


# -- through alpaca-py's TradingStream -------------------------------------------------------


def test_a_market_order_streams_new_then_fill_with_its_client_order_id(fake, client):
    with trading_stream(fake) as (_stream, updates):
        fake.stream.wait_listening()
        order = buy(client, qty=2, client_order_id="alert-42")
        wait_until(lambda: len(updates) >= 2, what="new and fill")
        assert events(updates) == ["new", "fill"]
        new, fill = updates
        assert {str(u.order.id) for u in updates} == {str(order.id)}
        assert {u.order.client_order_id for u in updates} == {"alert-42"}
        assert new.order.status.value == "new" and new.price is None
        assert fill.order.status.value == "filled"
        assert (fill.price, fill.qty, fill.position_qty) == (150.0, 2.0, 2.0)
        assert fill.execution_id is not None and fill.timestamp is not None


def test_the_order_in_an_event_is_the_order_rest_shows(fake, client):
    with trading_stream(fake, raw=True) as (_stream, updates):
        fake.stream.wait_listening()
        order = buy(client, qty=3)
        wait_until(lambda: len(updates) >= 2, what="new and fill")
        fill = updates[-1]
        assert fill["stream"] == "trade_updates" and fill["data"]["event"] == "fill"
        assert fill["data"]["order"] == client.get(f"/orders/{order.id}")
        # Numbers as strings, as the docs' example writes them.
        assert (fill["data"]["price"], fill["data"]["qty"], fill["data"]["position_qty"]) == ("150", "3", "3")


def test_a_partial_fill_then_the_close_streams_partial_fill_and_expired(fake, client):
    fake.partial, fake.partial_delay = True, 3600.0  # half now, the rest never
    with trading_stream(fake) as (_stream, updates):
        fake.stream.wait_listening()
        order = buy(client, qty=10, client_order_id="half")
        wait_until(lambda: len(updates) >= 2, what="new and partial_fill")
        fake.market.close()
        wait_until(lambda: len(updates) >= 3, what="expired")
        assert events(updates) == ["new", "partial_fill", "expired"]
        partial, expired = updates[1], updates[2]
        assert (partial.qty, partial.position_qty, partial.order.filled_qty) == (5.0, 5.0, "5")
        assert partial.order.status.value == "partially_filled"
        assert expired.order.status.value == "expired" and expired.order.filled_qty == "5"
        assert str(expired.order.id) == str(order.id) and expired.order.client_order_id == "half"


def test_a_fill_that_comes_due_is_pushed_without_anyone_polling(fake, client):
    fake.fill_delay = 0.2  # "new" for 0.2 s, then filled: REST would only see it at the next request
    with trading_stream(fake) as (_stream, updates):
        fake.stream.wait_listening()
        buy(client, qty=1)
        calls = fake.total_calls()
        wait_until(lambda: len(updates) >= 2, what="the due fill")
        assert events(updates) == ["new", "fill"]
        assert fake.total_calls() == calls  # nobody asked the REST API in between


def test_cancel_replace_reject_and_the_queue_outside_hours_each_stream(fake, client):
    with trading_stream(fake) as (_stream, updates):
        fake.stream.wait_listening()
        resting = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, limit_price=100,
                                                        time_in_force=TimeInForce.DAY))
        newer = client.replace_order_by_id(resting.id, ReplaceOrderRequest(limit_price=101))
        client.cancel_order_by_id(newer.id)
        doomed = fake.place_order(type="limit", limit_price="99", qty="1")
        fake.reject_order(doomed["id"])
        fake.market.close()
        queued = buy(client, qty=1)
        fake.market.open()
        wait_until(lambda: len(updates) >= 9, what="nine events")
        time.sleep(0.1)  # and no more
    seen = [(e, str(u.order.id)) for e, u in zip(events(updates), updates)]
    assert seen == [("new", str(resting.id)), ("replaced", str(resting.id)), ("new", str(newer.id)),
                    ("canceled", str(newer.id)), ("new", doomed["id"]), ("rejected", doomed["id"]),
                    ("accepted", str(queued.id)), ("new", str(queued.id)), ("fill", str(queued.id))]
    replaced = updates[1].order
    assert replaced.status.value == "replaced" and str(replaced.replaced_by) == str(newer.id)
    assert str(updates[2].order.replaces) == str(resting.id)
    assert updates[5].order.status.value == "rejected" and updates[5].order.failed_at is not None
    assert updates[6].order.status.value == "accepted"


def test_a_dropped_connection_reconnects_and_later_events_arrive(fake, client):
    with trading_stream(fake) as (_stream, updates):
        fake.stream.wait_listening()
        buy(client, client_order_id="before")
        wait_until(lambda: len(updates) >= 2, what="the first order's events")
        assert fake.stream.drop() == 1
        # alpaca-py reconnects by itself, after 0.5-1 s (its backoff, with data received before).
        wait_until(lambda: fake.stream.connections >= 2 and fake.stream.listening == 1, timeout=10,
                   what="the reconnection")
        buy(client, client_order_id="after")
        wait_until(lambda: len(updates) >= 4, what="the second order's events")
        assert [u.order.client_order_id for u in updates] == ["before", "before", "after", "after"]


@pytest.mark.parametrize("how", ["close", "unauthorized", "http"])
def test_refuse_keeps_the_stream_out_and_what_happens_meanwhile_is_lost(fake, client, how):
    fake.stream.refuse(True, how=how)
    with trading_stream(fake, backoff=0.05) as (_stream, updates):
        wait_until(lambda: fake.stream.refused >= 3, what="three refused attempts (alpaca-py retries)")
        buy(client, client_order_id="missed")
        time.sleep(0.2)
        assert updates == [] and fake.stream.listening == 0
        fake.stream.refuse(False)
        fake.stream.wait_listening(timeout=10)
        buy(client, client_order_id="seen")
        wait_until(lambda: len(updates) >= 2, what="events after the refusal ended")
        # Nothing is replayed: an engine must ask REST about what happened while it was out.
        assert {u.order.client_order_id for u in updates} == {"seen"}


def test_bad_keys_are_refused_and_alpaca_py_keeps_retrying(fake, client):
    with trading_stream(fake, secret="wrong", backoff=0.05) as (_stream, updates):
        wait_until(lambda: fake.stream.auth_failures >= 2, what="two refused authentications")
        buy(client)
        time.sleep(0.2)
        assert updates == [] and fake.stream.listening == 0 and fake.stream.events_sent == 0
        assert fake.stream.received[0] == {"action": "authenticate",
                                           "data": {"key_id": fake.key_id, "secret_key": "wrong"}}


# -- the wire, with a plain WebSocket client ----------------------------------------------------


def authenticate(ws, fake: FakeAlpaca, secret: str | None = None) -> dict:
    ws.send(json.dumps({"action": "authenticate",
                        "data": {"key_id": fake.key_id, "secret_key": secret or fake.secret_key}}))
    return json.loads(ws.recv(timeout=5))


def test_wire_authorization_listen_and_binary_frames(fake, client):
    with connect(fake.stream_url) as ws:
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert json.loads(ws.recv(timeout=5)) == {"stream": "authorization",
                                                  "data": {"status": "unauthorized", "action": "listen"}}
        assert authenticate(ws, fake, secret="wrong") == {
            "stream": "authorization",
            "data": {"status": "unauthorized", "action": "authenticate", "message": "access key verification failed"}}
        assert authenticate(ws, fake) == {"stream": "authorization",
                                          "data": {"status": "authorized", "action": "authenticate"}}
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates", "account_updates"]}}))
        assert json.loads(ws.recv(timeout=5)) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
        buy(client, qty=1)
        frame = ws.recv(timeout=5)
        assert isinstance(frame, bytes)  # the paper stream's binary frames
        assert json.loads(frame)["data"]["event"] == "new"


def test_wire_the_newer_auth_form_text_frames_and_listening_to_nothing(fake, client):
    fake.stream.binary = False
    with connect(fake.stream_url) as ws:
        ws.send(json.dumps({"action": "auth", "key": fake.key_id, "secret": fake.secret_key}))
        assert json.loads(ws.recv(timeout=5))["data"]["status"] == "authorized"
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        ws.recv(timeout=5)
        buy(client, qty=1)
        frame = ws.recv(timeout=5)
        assert isinstance(frame, str) and json.loads(frame)["data"]["event"] == "new"
        assert json.loads(ws.recv(timeout=5))["data"]["event"] == "fill"
        ws.send(json.dumps({"action": "listen", "data": {"streams": []}}))
        assert json.loads(ws.recv(timeout=5)) == {"stream": "listening", "data": {"streams": []}}
        buy(client, qty=1)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)


def test_wire_messagepack_when_asked_for(fake, client):
    with connect(fake.stream_url, additional_headers={"Content-Type": "application/msgpack"}) as ws:
        ws.send(msgpack.packb({"action": "authenticate",
                               "data": {"key_id": fake.key_id, "secret_key": fake.secret_key}}))
        assert msgpack.unpackb(ws.recv(timeout=5))["data"]["status"] == "authorized"
        ws.send(msgpack.packb({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert msgpack.unpackb(ws.recv(timeout=5))["stream"] == "listening"
        buy(client, qty=1)
        assert msgpack.unpackb(ws.recv(timeout=5))["data"]["order"]["symbol"] == "AAPL"


def test_wire_delay_holds_events_back(fake, client):
    fake.stream.delay = 0.3
    with connect(fake.stream_url) as ws:
        authenticate(ws, fake)
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        ws.recv(timeout=5)  # the listening answer is not held back
        started = time.monotonic()
        buy(client, qty=1)
        assert json.loads(ws.recv(timeout=5))["data"]["event"] == "new"
        assert time.monotonic() - started >= 0.3
        assert fake.stream.events_sent >= 1


def test_wire_refusals_and_unknown_paths(fake):
    base = fake.stream_url.rsplit("/", 1)[0]
    with pytest.raises(InvalidStatus) as missing:
        connect(base + "/v2/stream").close()
    assert missing.value.response.status_code == 404
    fake.stream.refuse(True, how="http", status=429)
    with pytest.raises(InvalidStatus) as busy:
        connect(fake.stream_url).close()
    assert busy.value.response.status_code == 429
    assert (fake.stream.connections, fake.stream.refused) == (2, 1)


def test_history_and_a_stream_nobody_started_stay_silent(client):
    with FakeAlpaca() as quiet:
        TradingClient(quiet.key_id, quiet.secret_key, url_override=quiet.url).submit_order(
            MarketOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY))
        assert not quiet.stream.running and quiet.stream.published == []
    with FakeAlpaca() as fake:
        fake.stream.start()
        fake.add_fills("AAPL", 3)
        assert fake.stream.published == []
        fake.place_order(qty=Decimal(1))
        assert [m["data"]["event"] for m in fake.stream.published] == ["new", "fill"]
