"""A leg Alpaca never placed is not sent however old its alert grows (issue 19, item 5).

A POST answered 429 ("not placed") goes back to PLANNED, so the retry checks the alert's age
again; a leg left SENDING (a 5xx outage, a restart) that Alpaca does not know is checked for
age too, unless something of the alert has already filled. The newer alert queued behind it
on the symbol is decided on its own age. Through AlpacaBroker → alpaca-py → the fake Alpaca.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from novalgo.broker.simulated import SimulatedBroker
from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.errors import AmbiguousOrderError
from tests.support.alerts import alert_body, drain
from tests.support.alpaca import services_on_fake
from tests.support.clock import Clock

START = 1_900_000_000.0  # the tests' own time: alerts are received and aged on this clock


def make_services(settings, fake, clock: Clock):
    return services_on_fake(settings, fake, clock, max_alert_age=120.0)


def journal(services, action: str) -> str:
    delivery = read_delivery(alert_body(action, "AAPL", "15", 150).encode())
    alert_id, _, _ = services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return alert_id




def held(fake) -> Decimal:
    with fake.lock:
        return Decimal(fake.positions.get("AAPL", [0])[0])


def row_status(settings) -> str:
    with open(settings.data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["symbol"] == "AAPL")["Order Status"]


@pytest.fixture
def clock():
    return Clock(START)


def test_a_buy_answered_429_is_not_sent_three_minutes_later_and_the_newer_sell_trades(settings, fake, clock):
    services = make_services(settings, fake, clock)
    fake.fail("POST", "/v2/orders", 429, times=3)  # alpaca-py's own two retries included
    buy = journal(services, "buy")
    assert drain(services, clock) == ["QUEUED"], "a 429 is retried later"
    assert services.journal.get(buy)["orders"][0]["state"] == "planned", "Alpaca placed nothing"
    assert fake.orders == {}

    clock.now += 180  # Alpaca's limit lasted three minutes; a SELL came in meanwhile
    sell = journal(services, "sell")
    posts = fake.count("POST", "/v2/orders")
    assert drain(services, clock) == ["EXPIRED", "FILLED"]
    bought = services.journal.get(buy)
    assert bought["status"] == "EXPIRED" and "NOVALGO_MAX_ALERT_AGE" in bought["reason"]
    assert bought["orders"][0]["state"] == "void"
    assert services.journal.get(sell)["status"] == "FILLED", "decided on its own age, not the BUY's"
    assert [o["side"] for o in fake.orders.values()] == ["sell"]
    assert fake.count("POST", "/v2/orders") == posts + 1, "the stale BUY never went out"
    assert held(fake) < 0
    assert row_status(settings) == "FILLED"


def test_a_429_retried_while_the_alert_is_current_places_one_order(settings, fake, clock):
    services = make_services(settings, fake, clock)
    fake.fail("POST", "/v2/orders", 429, times=3)
    journal(services, "buy")
    assert drain(services, clock) == ["QUEUED"]
    clock.now += 5
    assert drain(services, clock) == ["FILLED"]
    assert len(fake.orders) == 1 and held(fake) > 0


def crash_while_sending(settings, fake, clock: Clock) -> str:
    """The POST never reached Alpaca (a 5xx the gateway answered), then the process restarted:
    the journal holds the leg SENDING and the alert back in the queue."""
    services = make_services(settings, fake, clock)
    fake.fail("POST", "/v2/orders", 500, times=2)  # our one resubmit with the same id included
    alert_id = journal(services, "buy")
    assert drain(services, clock) == ["QUEUED"]
    assert services.journal.get(alert_id)["orders"][0]["state"] == "sending"
    assert fake.orders == {}
    assert services.journal.claim(alert_id)  # taken up again, and the process died mid-way
    return alert_id


def test_a_sending_leg_the_broker_never_got_is_not_sent_after_a_restart_three_minutes_on(settings, fake, clock):
    alert_id = crash_while_sending(settings, fake, clock)
    clock.now += 180
    restarted = make_services(settings, fake, clock)
    assert restarted.work_journal.resume_interrupted() == 1
    posts = fake.count("POST", "/v2/orders")
    assert drain(restarted, clock) == ["EXPIRED"]
    alert = restarted.journal.get(alert_id)
    assert alert["orders"][0]["state"] == "void"
    assert "NOVALGO_MAX_ALERT_AGE" in alert["reason"]
    assert fake.orders == {} and fake.count("POST", "/v2/orders") == posts


def test_a_sending_leg_the_broker_never_got_is_sent_once_while_the_alert_is_fresh(settings, fake, clock):
    alert_id = crash_while_sending(settings, fake, clock)
    clock.now += 10
    restarted = make_services(settings, fake, clock)
    assert restarted.work_journal.resume_interrupted() == 1
    assert drain(restarted, clock) == ["FILLED"]
    assert restarted.journal.get(alert_id)["status"] == "FILLED"
    assert len(fake.orders) == 1 and held(fake) > 0
    assert drain(restarted, clock) == [], "nothing left to send"
    assert len(fake.orders) == 1


class OpeningLegLost(SimulatedBroker):
    """The flip's close fills; the POST of its opening order is lost in an outage (never placed)."""

    lose_next_open = False

    def submit(self, order):
        if self.lose_next_open and not order.closing:
            self.lose_next_open = False
            raise AmbiguousOrderError(f"could not learn whether the broker placed {order.client_order_id}")
        return super().submit(order)


def test_a_sending_leg_after_a_filled_close_is_sent_however_old(settings, clock):
    """Something of the alert has traded: its plan finishes (else the trader is left flat)."""
    from novalgo.engine.services import build_services

    broker = OpeningLegLost(settings.data_dir)
    services = build_services(settings.with_overrides(max_alert_age=120.0), broker=broker)
    for part in (services.journal, services.work_journal, services.executor):
        part.clock = clock
    services.executor.sleep = clock.sleep
    journal(services, "buy")
    assert drain(services, clock) == ["FILLED"]

    broker.lose_next_open = True
    sell = journal(services, "sell")
    assert drain(services, clock) == ["QUEUED"]
    # The opening leg was decided once the close filled (the unsized one it replaced was never sent).
    assert [o["state"] for o in services.journal.get(sell)["orders"]] == ["filled", "replanned", "sending"]
    clock.now += 180
    assert drain(services, clock) == ["FILLED"]
    assert broker.position("AAPL").qty < 0, "closed the long, then opened the short"
