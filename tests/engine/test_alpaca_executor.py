"""The real executor trading through AlpacaBroker → alpaca-py → the fake Alpaca: what a trader sees."""

from __future__ import annotations

import csv

import pytest

from novalgo.broker.alpaca import AlpacaBroker
from novalgo.broker.throttle import RequestBudget
from novalgo.domain.alerts import parse_alert, read_delivery
from tests.support.alerts import alert_body, run_queue
from tests.support.alpaca import fake_alpaca_broker


@pytest.fixture
def services(settings, fake):
    from novalgo.web import create_app

    settings = settings.with_overrides(fill_wait=0.3)
    broker = fake_alpaca_broker(fake)
    return create_app(settings, broker=broker, start_background=False).extensions["novalgo"]


def send(services, action: str, symbol: str = "AAPL", price=None) -> list[str]:
    delivery = read_delivery(alert_body(action, symbol, "15", price).encode())
    services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return run_queue(services)


def sheet_status(settings, symbol: str = "AAPL") -> str:
    with open(settings.data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["symbol"] == symbol)["Order Status"]


def test_long_flip_to_short_and_close_at_alpaca(services, fake, settings):
    assert send(services, "buy") == ["FILLED"]
    long_qty = services.broker.position("AAPL").qty
    assert long_qty > 0
    assert sheet_status(settings) == "FILLED"

    # A SELL while long: the executor closes first (Alpaca refuses to cross zero), then shorts.
    assert send(services, "sell") == ["FILLED"]
    short = services.broker.position("AAPL").qty
    assert short < 0 and short == short.to_integral_value()  # shorts are whole shares
    sides = [(o["side"], o["qty"] is not None) for o in fake.orders.values()]
    assert sides[1:] == [("sell", True), ("sell", True)]  # the close, then the short

    assert send(services, "close") == ["WAITING"]
    assert services.broker.position("AAPL").qty == 0
    assert len({o["client_order_id"] for o in fake.orders.values()}) == len(fake.orders) == 4


def test_not_shortable_fails_with_the_reason_in_the_sheet(services, fake, settings):
    fake.add_asset("AAPL", "150", shortable=False, easy_to_borrow=False)
    assert send(services, "sell") == ["FAILED"]
    assert list(fake.orders.values()) == []
    assert sheet_status(settings) == "FAILED"


def test_market_closed_shows_order_submitted_until_the_open(services, fake, settings):
    fake.market.close()
    assert send(services, "buy") == ["ORDER SUBMITTED"]
    assert sheet_status(settings) == "ORDER SUBMITTED"
    assert [o["status"] for o in fake.orders.values()] == ["accepted"]
    assert services.broker.position("AAPL").qty == 0
    fake.market.open()
    assert [o["status"] for o in fake.orders.values()] == ["filled"]
    assert services.broker.position("AAPL").qty > 0
    # The tracker learns the fill in one batched read and the row turns FILLED.
    lists_before = fake.count("GET", "/v2/orders")
    assert services.executor.track() == 1
    assert fake.count("GET", "/v2/orders") == lists_before + 1
    assert run_queue(services) == ["FILLED"]
    assert sheet_status(settings) == "FILLED"


def test_outside_hours_skip_records_skipped_and_places_nothing(settings, fake):
    from novalgo.web import create_app

    settings = settings.with_overrides(outside_hours="skip", fill_wait=0.3)
    broker = AlpacaBroker(fake.key_id, fake.secret_key, base_url=fake.url, data_url=fake.url, wall_clock=fake.clock,
                          budget=RequestBudget(), sdk_retry_wait=0)
    services = create_app(settings, broker=broker, start_background=False).extensions["novalgo"]
    fake.market.close()
    assert send(services, "buy") == ["SKIPPED"]
    assert "market closed" in services.journal.recent(1)[0]["reason"]
    assert fake.orders == {}


def test_a_second_buy_while_the_first_waits_for_the_open_buys_nothing(services, fake):
    fake.market.close()
    assert send(services, "buy") == ["ORDER SUBMITTED"]
    assert send(services, "buy") == ["ALREADY LONG"]
    assert len(fake.orders) == 1
