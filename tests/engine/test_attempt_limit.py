"""The dispatcher's limit on an alert that keeps raising an error nobody foresaw counts only the
attempts that failed, and never fails an alert whose order is live at the broker: the tracker
follows that order (issue 19, item 11)."""

from __future__ import annotations

from novalgo.broker.alpaca import AlpacaBroker
from novalgo.broker.simulated import SimulatedBroker
from novalgo.broker.throttle import RequestBudget
from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.engine.background import MAX_ATTEMPTS, Background
from novalgo.errors import RetryableError
from tests.support.alerts import alert_body
from tests.support.clock import Clock

START = 1_900_000_000.0


class OutageThenBug(SimulatedBroker):
    """Alpaca is down for a while (retried, as it should be), then one read hits a bug once."""

    outage = MAX_ATTEMPTS
    bugs = 1

    def position(self, symbol):
        if self.outage:
            self.outage -= 1
            raise RetryableError("Alpaca is down (503)")
        if self.bugs:
            self.bugs -= 1
            raise ZeroDivisionError("unforeseen")
        return super().position(symbol)


class BuggyLookups(AlpacaBroker):
    """Every look-up of an order hits a bug while ``bug`` is set."""

    bug = False

    def find_order(self, client_order_id):
        if self.bug:
            raise ZeroDivisionError("unforeseen")
        return super().find_order(client_order_id)


def setup(settings, broker, clock: Clock):
    from novalgo.engine.services import build_services

    services = build_services(settings.with_overrides(fill_wait=0.3), broker=broker)
    for part in (services.journal, services.work_journal, services.executor):
        part.clock = clock
    services.executor.sleep = clock.sleep
    return services, Background(services)


def journal(services, action: str = "buy") -> str:
    delivery = read_delivery(alert_body(action, "AAPL", "15", 150).encode())
    return services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)[0]


def attempt(services, background: Background, alert_id: str) -> str:
    """One pass of the dispatcher over the alert: claim it, run it as the leader's pool does."""
    services.journal.requeue(alert_id, "woken")  # as a retry or the tracker puts it back
    assert services.journal.claim(alert_id)
    background._process(alert_id, "AAPL")
    return services.journal.status_of(alert_id)


def test_retries_after_outages_do_not_count_against_the_limit(settings):
    clock = Clock(START)
    services, background = setup(settings, OutageThenBug(settings.data_dir), clock)
    alert_id = journal(services)
    for _ in range(MAX_ATTEMPTS):
        assert attempt(services, background, alert_id) == "QUEUED"  # the outage: retried
    assert attempt(services, background, alert_id) == "QUEUED", "one bug, not the fifth failure"
    assert attempt(services, background, alert_id) == "FILLED"


def test_an_alert_whose_order_is_live_is_never_failed_by_the_limit(settings, fake):
    clock = Clock(START)
    broker = BuggyLookups(fake.key_id, fake.secret_key, base_url=fake.url, data_url=fake.url, budget=RequestBudget(),
                          sdk_retry_wait=0, share_window=0, clock_ttl=0)
    services, background = setup(settings, broker, clock)
    fake.fill_delay = 3600.0  # the BUY rests at Alpaca
    alert_id = journal(services)
    assert services.journal.claim(alert_id)
    assert services.executor.process(alert_id) == "ORDER SUBMITTED"

    broker.bug = True
    for _ in range(MAX_ATTEMPTS):
        status = attempt(services, background, alert_id)
    assert status == "ORDER SUBMITTED", services.journal.get(alert_id)["reason"]
    assert "unforeseen" in services.journal.get(alert_id)["reason"]
    order = next(iter(fake.orders.values()))
    assert order["status"] == "new", "left at the broker, live"

    broker.bug = False
    fake.fill_order(order["id"])
    services.executor.track()
    assert services.journal.status_of(alert_id) == "QUEUED"
    assert services.journal.claim(alert_id)
    assert services.executor.process(alert_id) == "FILLED"
