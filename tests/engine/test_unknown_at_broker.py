"""An order the journal holds open that Alpaca no longer knows (the paper account was reset, the
keys are another account's) ends as unknown at the broker and frees its symbol (issue 19, item 7).

Before, such an order blocked the symbol for ever: its alert said ORDER SUBMITTED, a BUY was
ALREADY LONG against it, a SELL and a CLOSE failed. Through AlpacaBroker → alpaca-py → the fake.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from novalgo.domain.alerts import parse_alert, read_delivery
from tests.fakes.alpaca_server import FakeAlpaca
from tests.support.alerts import alert_body, drain
from tests.support.alpaca import fake_alpaca_broker, services_on_fake
from tests.support.clock import Clock

START = 1_900_000_000.0
UNKNOWN = "unknown at the broker: the account was reset or the keys changed"


def make_services(settings, fake, clock: Clock):
    return services_on_fake(settings, fake, clock)


def send(services, clock: Clock, action: str) -> list[str]:
    clock.now += 1
    delivery = read_delivery(alert_body(action, "AAPL", "15", 150).encode())
    services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return drain(services, clock)




def held(fake) -> Decimal:
    with fake.lock:
        return Decimal(fake.positions.get("AAPL", [0])[0])


def row_status(settings) -> str:
    with open(settings.data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["symbol"] == "AAPL")["Order Status"]


def trades_normally(services, fake, clock: Clock) -> None:
    assert send(services, clock, "buy") == ["FILLED"]
    assert held(fake) > 0
    assert send(services, clock, "sell") == ["FILLED"]
    assert held(fake) < 0
    assert send(services, clock, "close") == ["WAITING"]
    assert held(fake) == 0


@pytest.fixture
def clock():
    return Clock(START)


def test_an_order_the_reset_account_no_longer_knows_ends_and_the_symbol_trades_again(settings, fake, clock):
    services = make_services(settings, fake, clock)
    fake.fill_delay = 3600.0  # the BUY rests at Alpaca, open
    assert send(services, clock, "buy") == ["ORDER SUBMITTED"]
    first = services.journal.recent(1)[0]
    fake.reset_account()
    fake.fill_delay = 0.0

    services.executor.track()  # the tracker's next pass: Alpaca answers 404 for our order
    assert drain(services, clock) == ["FAILED"]
    old = services.journal.get(first["id"])
    assert old["reason"] == UNKNOWN
    assert old["orders"][0]["state"] == "unknown"
    assert services.journal.open_orders("AAPL") == []
    assert row_status(settings) == "FAILED"

    trades_normally(services, fake, clock)
    assert services.journal.get(first["id"])["reason"] == UNKNOWN, "the old alert still says why it ended"


def test_a_signal_decided_before_the_trackers_pass_is_not_blocked_by_the_vanished_order(settings, fake, clock):
    """The next alert reads our older open orders on the symbol from Alpaca before planning on them."""
    services = make_services(settings, fake, clock)
    fake.fill_delay = 3600.0
    assert send(services, clock, "buy") == ["ORDER SUBMITTED"]
    first = services.journal.recent(1)[0]
    fake.reset_account()
    fake.fill_delay = 0.0
    assert send(services, clock, "buy") == ["FILLED"], "not ALREADY LONG against an order that is gone"
    assert held(fake) > 0
    assert services.journal.get(first["id"])["orders"][0]["state"] == "unknown"


def test_an_open_order_met_while_resuming_its_alert_ends_as_unknown(settings, fake, clock):
    """The alert itself finds it gone (the leader restarted after the reset): no endless retry."""
    services = make_services(settings, fake, clock)
    fake.market.close()
    assert send(services, clock, "buy") == ["ORDER SUBMITTED"]
    first = services.journal.recent(1)[0]
    fake.reset_account()
    fake.market.open()
    services.work_journal.requeue(first["id"], "resumed")
    assert drain(services, clock) == ["FAILED"]
    assert services.journal.get(first["id"])["reason"] == UNKNOWN
    trades_normally(services, fake, clock)


def test_orders_placed_with_another_accounts_keys_never_block_this_account(settings, fake, clock):
    services = make_services(settings, fake, clock)
    fake.fill_delay = 3600.0
    assert send(services, clock, "buy") == ["ORDER SUBMITTED"]
    first = services.journal.recent(1)[0]
    assert services.journal.order(first["orders"][0]["client_order_id"])["account"] == fake.account_id

    with FakeAlpaca() as other:  # the operator put in another account's keys and restarted
        restarted = make_services(settings, other, clock)
        restarted.executor.learn_account()  # what the leader does when it starts
        trades_normally(restarted, other, clock)
        assert [o["side"] for o in other.orders.values()] == ["buy", "sell", "sell", "buy"]
        restarted.executor.track()
        drain(restarted, clock)
        old = restarted.journal.get(first["id"])
        assert (old["status"], old["reason"]) == ("FAILED", UNKNOWN)


def test_a_brackets_exits_the_reset_account_no_longer_knows_never_block_the_next_signal(settings, fake, clock):
    """A SELL first cancels the row's exits; exits Alpaca answers 404 for are ended, not waited on."""
    from novalgo.web import create_app

    folder = settings.data_dir / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Config.csv").write_text("symbol,position_size,active,Time Frame,Order Status,Last Updated,"
                                       "Take Profit,Stop Loss\nAAPL,$1500,TRUE,15 Min,,,2%,1%\n")
    services = create_app(settings.with_overrides(fill_wait=0.3), broker=fake_alpaca_broker(fake),
                          start_background=False).extensions["novalgo"]
    for part in (services.journal, services.work_journal, services.executor):
        part.clock = clock
    services.executor.sleep = clock.sleep
    assert send(services, clock, "buy") == ["FILLED"]
    exits = services.journal.open_exits("AAPL")
    assert len(exits) == 2  # the bracket's take-profit and stop-loss
    fake.reset_account()

    assert send(services, clock, "sell") == ["FILLED"]
    assert held(fake) < 0
    for old in exits:
        assert services.journal.order(old["client_order_id"])["reason"] == UNKNOWN
    assert {o["alert_id"] for o in services.journal.open_exits("AAPL")} == {services.journal.recent(1)[0]["id"]}, \
        "only the short's own exits are working"
