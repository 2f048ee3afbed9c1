"""Exits at the broker meeting signals, through alpaca-py and the fake's trade stream: the money cases.

An exit that filled while the stream was down is found by the tracker's batched read and told
once; a CLOSE racing an exit that already filled ends flat, never short; a newer alert replaces
a resting limit; a trailing stop Alpaca refuses fails the alert, saying the entry filled.
"""

from __future__ import annotations

import threading

import pytest

from novalgo.domain.alerts import parse_alert, read_delivery
from tests.support.alerts import alert_body, run_queue
from tests.support.alpaca import fake_alpaca_broker, follow_stream
from tests.support.gunicorn import wait_for

pytestmark = pytest.mark.timeout(90)
HEADER = "symbol,position_size,active,Time Frame,Order Status,Last Updated,Take Profit,Stop Loss,Trailing Stop," \
         "Order Type,Limit Offset\n"
ROWS = {
    "AAPL": "AAPL,$1000,TRUE,15 Min,,,2%,1%,,,\n",
    "TSLA": "TSLA,$2000,TRUE,15 Min,,,,,1%,,\n",
    "MSFT": "MSFT,$1000,TRUE,15 Min,,,,,,limit,$0.05\n",
}


@pytest.fixture
def services(settings, fake):
    from novalgo.web import create_app

    settings = settings.with_overrides(fill_wait=2.0)  # a resting limit is left to the tracker after this
    folder = settings.data_dir / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Config.csv").write_text(HEADER + "".join(ROWS.values()))
    for symbol, price in (("AAPL", 100), ("TSLA", 200), ("MSFT", 100)):
        fake.add_asset(symbol, price)
    broker = fake_alpaca_broker(fake, stream_url=fake.stream_url)
    services = create_app(settings, broker=broker, start_background=False).extensions["novalgo"]
    updates = follow_stream(services, fake)
    yield services
    updates.stop()
    fake.stream.drop()


def send(services, action: str, symbol: str, price) -> list[str]:
    delivery = read_delivery(alert_body(action, symbol, "15", price).encode())
    services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return run_queue(services)


def exit_records(services, symbol: str) -> list[dict]:
    return [a for a in services.journal.recent(100) if a["symbol"] == symbol and a["source_ip"] == "exit"]


def test_an_exit_filled_while_the_stream_was_down_is_found_by_the_tracker_and_told_once(services, fake):
    assert send(services, "buy", "AAPL", 100) == ["FILLED"]
    fake.stream.refuse()
    fake.stream.drop()
    wait_for(lambda: not services.updates.live, "the stream to be down")
    fake.set_price("AAPL", 103)  # the take-profit at 102 fills; nobody hears
    assert exit_records(services, "AAPL") == []
    services.executor._last_exit_read = 0.0  # the tracker's next pass is due
    services.executor.track()
    records = exit_records(services, "AAPL")
    assert [(r["status"], r["action"]) for r in records] == [("TAKE PROFIT", "sell")]
    assert records[0]["orders"][0]["filled_avg_price"] == "102"
    services.executor.check_exits()  # read again: nothing new, nothing told twice
    assert len(exit_records(services, "AAPL")) == 1
    assert services.journal.open_exits("AAPL") == []  # the stop-loss was cancelled with it


def test_a_close_racing_an_exit_that_already_filled_ends_flat_not_short(services, fake):
    assert send(services, "buy", "AAPL", 100) == ["FILLED"]
    fake.stream.refuse()
    fake.stream.drop()
    wait_for(lambda: not services.updates.live, "the stream to be down")
    fake.set_price("AAPL", "98.5")  # the stop-loss fills at the broker; the service has not heard
    assert send(services, "close", "AAPL", "98.5") == ["WAITING"]
    with fake.lock:
        assert fake.positions.get("AAPL", [0])[0] == 0
        assert not [o for o in fake.orders.values() if o["status"] == "rejected"]
        sells = [o for o in fake.orders.values() if o["side"] == "sell" and o["status"] == "filled"]
    assert len(sells) == 1, "only the stop-loss sold: the CLOSE found the position already flat"
    services.executor.check_exits()  # the tracker's batched read tells the row what happened
    assert [r["status"] for r in exit_records(services, "AAPL")] == ["STOP LOSS"]


def test_a_newer_alert_replaces_a_resting_limit(services, fake):
    fake.set_price("MSFT", "101")
    assert send(services, "buy", "MSFT", 100) == ["ORDER SUBMITTED"]  # a buy limit at 100.05 rests
    assert send(services, "buy", "MSFT", "100.5") == ["ORDER SUBMITTED"]  # at 100.55 now
    with fake.lock:
        limits = [(o["limit_price"], o["status"]) for o in fake.orders.values() if o["symbol"] == "MSFT"]
    assert limits == [("100.05", "canceled"), ("100.55", "new")]
    first = [a for a in services.journal.recent(10) if a["symbol"] == "MSFT"][-1]
    assert first["status"] == "WAITING" and "replaced it" in first["reason"]
    fake.set_price("MSFT", "100.5")
    wait_for(lambda: services.broker.position("MSFT").qty > 0, "the newer limit to fill")


def test_a_trailing_stop_alpaca_refuses_fails_the_alert_saying_the_entry_filled(services, fake):
    fake.fill_delay = 0.5  # the entry rests a moment: time to make Alpaca refuse the next order

    def refuse_the_next_post() -> None:
        wait_for(lambda: any(o["symbol"] == "TSLA" for o in list(fake.orders.values())), "the entry", 10)
        fake.fail("POST", "/v2/orders", 422, body={"code": 42210000, "message": "trailing stops are unavailable"})

    helper = threading.Thread(target=refuse_the_next_post)
    helper.start()
    assert send(services, "buy", "TSLA", 200) == ["FAILED"]
    helper.join()
    alert = [a for a in services.journal.recent(10) if a["symbol"] == "TSLA"][0]
    assert alert["reason"] == ("the entry filled, but the trailing stop was refused: "
                               "Alpaca refused the order (422): trailing stops are unavailable")
    assert services.broker.position("TSLA").qty == 10, "the position is what the row holds: long, no exit"


def test_a_brackets_exits_are_placed_again_from_the_entrys_fill_price(services, fake):
    """The row's 2% / 1% are from the fill: the bracket goes at the alert's 100, the entry fills at
    101, and the exits move to 103.02 and 99.99 (Alpaca replaces each leg with a new order)."""
    fake.set_price("AAPL", 101)
    assert send(services, "buy", "AAPL", 100) == ["FILLED"]
    with fake.lock:
        working = {o["type"]: o for o in fake.orders.values()
                   if o["symbol"] == "AAPL" and o["status"] in ("new", "held")}
    assert (working["limit"]["limit_price"], working["stop"]["stop_price"]) == ("103.02", "99.99")
    exits = {o["purpose"]: o for o in services.journal.open_exits("AAPL")}
    assert exits["take_profit"]["client_order_id"] == working["limit"]["client_order_id"]
    fake.set_price("AAPL", "103.5")
    wait_for(lambda: [r["status"] for r in exit_records(services, "AAPL")] == ["TAKE PROFIT"],
             "the moved take-profit's fill to reach the row")
