"""With the trade stream down, the tracker follows an extended-hours order through pre- and
post-market (04:00-09:30 and 16:00-20:00 New York): it can fill then, while other stock orders
wait for the open and are not read (issue 19, item 11). Through AlpacaBroker → alpaca-py → the
fake Alpaca, whose market and extended session the test runs, on the tests' own clock."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from novalgo.domain.alerts import parse_alert, read_delivery
from tests.support.alerts import alert_body, drain
from tests.support.alpaca import services_on_fake
from tests.support.clock import Clock

NEW_YORK = ZoneInfo("America/New_York")
POST_MARKET = datetime(2026, 12, 8, 17, 0, tzinfo=NEW_YORK).timestamp()  # a Tuesday, 17:00
EVENING = datetime(2026, 12, 8, 21, 0, tzinfo=NEW_YORK).timestamp()  # after the post-market session


def make_services(settings, fake, clock: Clock):
    folder = settings.data_dir / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "Config.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated",
                         "Extended Hours"])
        writer.writerow(["AAPL", "1400", "TRUE", "15 Min", "", "", "TRUE"])
        writer.writerow(["MSFT", "4000", "TRUE", "15 Min", "", "", ""])
    return services_on_fake(settings, fake, clock)


def send(services, clock: Clock, symbol: str, price) -> list[str]:
    delivery = read_delivery(alert_body("buy", symbol, "15", price).encode())
    services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return drain(services, clock)




def order_reads(fake) -> int:
    return sum(n for (method, path), n in fake.calls.items() if method == "GET" and "/orders" in path)


def held(fake, symbol: str) -> Decimal:
    with fake.lock:
        return Decimal(fake.positions.get(symbol, [0])[0])


def test_an_extended_hours_order_that_fills_after_the_close_is_followed(settings, fake):
    clock = Clock(POST_MARKET)
    services = make_services(settings, fake, clock)
    fake.market.close()
    fake.market.extended_session(True)
    assert send(services, clock, "AAPL", 140) == ["ORDER SUBMITTED"]
    order = next(iter(fake.orders.values()))
    assert (order["type"], order["extended_hours"]) == ("limit", True)
    assert send(services, clock, "MSFT", 400) == ["ORDER SUBMITTED"]  # a market order, for the open
    services.executor.track()  # the pass after the close, which reads every open order once

    fake.set_price("AAPL", 140)  # the post-market trades down to the limit: it fills
    assert held(fake, "AAPL") > 0
    services.executor.track()
    assert drain(services, clock) == ["FILLED"]
    assert services.journal.recent(2)[1]["status"] == "FILLED"


def test_after_the_post_market_session_no_order_is_read(settings, fake):
    clock = Clock(POST_MARKET)
    services = make_services(settings, fake, clock)
    fake.market.close()
    fake.market.extended_session(True)
    assert send(services, clock, "AAPL", 140) == ["ORDER SUBMITTED"]
    services.executor.track()
    clock.now = EVENING
    fake.market.extended_session(False)
    reads = order_reads(fake)
    for _ in range(10):
        services.executor.track()
    assert order_reads(fake) == reads, "nothing can fill until 04:00: the budget is kept"
