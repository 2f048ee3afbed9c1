"""An alert whose plan expires before its order is sent (a long wait for Alpaca's budget in a
burst) leaves the Config row as it was: never ORDER SUBMITTED with nothing at the broker."""

from __future__ import annotations

import csv

from novalgo.broker.simulated import SimulatedBroker
from novalgo.domain.alerts import parse_alert, read_delivery
from tests.support.alerts import alert_body, run_queue


class SlowToPlan(SimulatedBroker):
    """Reading the position takes longer than NOVALGO_MAX_ALERT_AGE once armed."""

    executor = None

    def position(self, symbol):
        if self.executor is not None:
            age = self.executor.max_alert_age
            journal_clock = self.executor.journal.clock
            self.executor.clock = lambda: journal_clock() + age + 1
        return super().position(symbol)


def send(services, action: str, price: int) -> list[str]:
    delivery = read_delivery(alert_body(action, "AAPL", "15", price).encode())
    services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return run_queue(services)


def row_status(settings) -> str:
    with open(settings.data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["symbol"] == "AAPL")["Order Status"]


def test_a_plan_that_expires_unsent_leaves_the_row_status_alone(settings):
    from novalgo.engine.services import build_services

    broker = SlowToPlan(settings.data_dir)
    services = build_services(settings, broker=broker)
    assert send(services, "buy", 200) == ["FILLED"]
    assert row_status(settings) == "FILLED"

    broker.executor = services.executor
    assert send(services, "sell", 250) == ["EXPIRED"]
    assert broker.position("AAPL").qty == 25, "nothing was sent"
    assert row_status(settings) == "FILLED", "not ORDER SUBMITTED: no order is at the broker"


class SlowBetweenLegs(SimulatedBroker):
    """The closing order fills, then the wait before the opening order outlasts the alert's age."""

    executor = None

    def submit(self, order):
        state = super().submit(order)
        if self.executor is not None:
            age = self.executor.max_alert_age
            journal_clock = self.executor.journal.clock
            self.executor.clock = lambda: journal_clock() + age + 1
        return state


def test_a_flip_whose_close_went_out_finishes_however_old_the_alert_gets(settings):
    """NOVALGO_MAX_ALERT_AGE decides whether an alert is acted on at all; a plan in progress
    finishes (before, the short was dropped and the trader was left flat instead of short)."""
    from novalgo.engine.services import build_services

    broker = SlowBetweenLegs(settings.data_dir)
    services = build_services(settings, broker=broker)
    assert send(services, "buy", 200) == ["FILLED"]

    broker.executor = services.executor
    assert send(services, "sell", 250) == ["FILLED"]
    assert broker.position("AAPL").qty == -20, "closed the long, then opened the short"
    assert row_status(settings) == "FILLED"
