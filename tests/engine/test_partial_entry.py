"""An entry that fills in part and then ends (expired at the close, cancelled) says PARTIAL with
what filled, on the alert and on its Config row, not FILLED (issue 19, item 11). Through
AlpacaBroker → alpaca-py → the fake Alpaca, on the tests' own clock."""

from __future__ import annotations

import csv
from decimal import Decimal

from novalgo.domain import statuses
from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.sheet.layout import STATUS_COLOURS
from tests.support.alerts import alert_body, drain
from tests.support.alpaca import services_on_fake
from tests.support.clock import Clock

START = 1_900_000_000.0


def make_services(settings, fake, clock: Clock):
    folder = settings.data_dir / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "Config.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"])
        writer.writerow(["AAPL", "10 sh", "TRUE", "15 Min", "", ""])
    return services_on_fake(settings, fake, clock)




def row_status(settings) -> str:
    with open(settings.data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["symbol"] == "AAPL")["Order Status"]


def test_an_entry_part_filled_then_expired_at_the_close_says_partial_with_the_quantity(settings, fake):
    clock = Clock(START)
    services = make_services(settings, fake, clock)
    fake.fill_delay = 3600.0  # the BUY rests at Alpaca
    delivery = read_delivery(alert_body("buy", "AAPL", "15", 150).encode())
    alert_id, _, _ = services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    assert drain(services, clock) == ["ORDER SUBMITTED"]
    order = next(iter(fake.orders.values()))
    assert Decimal(order["qty"]) == 10
    fake.fill_order(order["id"], qty=4)
    fake.market.close()  # the DAY order expires with 4 of its 10 filled
    assert fake.orders[order["id"]]["status"] == "expired"

    services.executor.track()
    assert drain(services, clock) == ["PARTIAL"]
    alert = services.journal.get(alert_id)
    assert (alert["status"], alert["reason"]) == ("PARTIAL", "filled 4 of 10 AAPL")
    assert row_status(settings) == "PARTIAL"


def test_partial_is_a_row_status_that_sheet_init_colours():
    assert statuses.PARTIAL in statuses.SHEET_STATUSES and statuses.PARTIAL in statuses.FINAL
    assert statuses.PARTIAL in {text for text, _colour in STATUS_COLOURS}
