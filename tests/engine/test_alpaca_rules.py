"""The executor against Alpaca's documented rules, through AlpacaBroker → alpaca-py → the fake.

Each test is a situation a trader meets: a flip after the close, CLOSE then SELL, a close that
fills in part and expires, their own stop in the way, crypto, an answer lost after the order was
placed, an order replaced by hand, and the request budget while the market is closed.
"""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import ReplaceOrderRequest

from novalgo.domain.alerts import parse_alert, read_delivery
from tests.support.alerts import alert_body, run_queue
from tests.support.alpaca import fake_alpaca_broker

ROWS = [("AAPL", "15000", "TRUE", "15 Min"), ("BTCUSD", "6000", "TRUE", "15 Min")]


def make_services(settings, fake, **overrides):
    from novalgo.web import create_app

    folder = settings.data_dir / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "Config.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"])
        writer.writerows([list(row) + ["", ""] for row in ROWS])
    settings = settings.with_overrides(fill_wait=0.3, **overrides)
    broker = fake_alpaca_broker(fake)
    return create_app(settings, broker=broker, start_background=False).extensions["novalgo"]


@pytest.fixture
def services(settings, fake):
    return make_services(settings, fake)


def send(services, action: str, symbol: str = "AAPL", price=None) -> list[str]:
    delivery = read_delivery(alert_body(action, symbol, "15", price).encode())
    services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return run_queue(services)


def settle(services) -> list[str]:
    """What the leader does after the broker moved: one tracker pass, then the woken alerts."""
    services.executor.track()
    return run_queue(services)


def held(fake, symbol: str = "AAPL") -> Decimal:
    with fake.lock:
        return Decimal(fake.positions.get(symbol, [0])[0])


def row(settings, symbol: str = "AAPL") -> str:
    with open(settings.data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["symbol"] == symbol)["Order Status"]


def statuses_of(services) -> list[str]:
    return [a["status"] for a in reversed(services.journal.recent(100))]


def age_alerts(services, seconds: float) -> None:
    """Let time pass for the executor (hours after the close, say) without sleeping."""
    services.executor.clock = lambda: services.clock() + seconds


def rejected(fake) -> list[dict]:
    return [o for o in fake.orders.values() if o["status"] == "rejected"]


def test_a_flip_after_the_close_opens_the_other_side_at_the_open(services, fake, settings):
    fake.set_position("AAPL", 100)
    fake.market.close()
    assert send(services, "sell", price=150) == ["ORDER SUBMITTED"]
    assert row(settings) == "ORDER SUBMITTED"
    assert [o["side"] for o in fake.orders.values()] == ["sell"], "only the close is queued for the open"

    age_alerts(services, 17 * 3600)  # the close fills at 09:30, hours after the 16:00 alert
    fake.market.open()
    assert settle(services) == ["FILLED"]
    assert held(fake) == -100  # 15000 / 150 whole shares short, not flat
    assert row(settings) == "FILLED"
    assert rejected(fake) == []


def test_close_then_sell_after_hours_ends_short(services, fake, settings):
    fake.set_position("AAPL", 100)
    fake.market.close()
    assert send(services, "close", price=150) == ["ORDER SUBMITTED"]
    # The SELL must not open a short while our close still holds the shares: it waits.
    assert send(services, "sell", price=150) == ["ORDER SUBMITTED"]
    assert len(fake.orders) == 1 and rejected(fake) == []
    assert "waiting for order" in services.journal.recent(1)[0]["reason"]

    age_alerts(services, 17 * 3600)
    fake.market.open()
    assert sorted(settle(services)) == ["FILLED", "WAITING"]
    assert held(fake) == -100
    assert statuses_of(services) == ["WAITING", "FILLED"]
    assert row(settings) == "FILLED"
    assert rejected(fake) == []


def part_filled_close(services, fake, action: str) -> dict:
    """Long 100; the alert's close rests, fills 40, then expires at the close."""
    fake.set_position("AAPL", 100)
    fake.fill_delay = 3600.0  # resting, as a market order in a halted or thin market
    assert send(services, action, price=150) == ["ORDER SUBMITTED"]
    close = next(iter(fake.orders.values()))
    fake.fill_order(close["id"], qty=40)
    fake.fill_delay = 0.0
    fake.market.close()  # DAY orders expire, keeping what filled
    assert fake.orders[close["id"]]["status"] == "expired"
    assert held(fake) == 60
    return close


def test_a_close_part_filled_then_expired_is_completed_while_the_alert_is_current(services, fake, settings):
    part_filled_close(services, fake, "close")
    assert settle(services) == ["ORDER SUBMITTED"], services.journal.recent(1)[0]["reason"]  # a close for the other 60, queued for the open
    fake.market.open()
    assert settle(services) == ["WAITING"]
    assert held(fake) == 0
    assert [Decimal(o["qty"]) for o in fake.orders.values()] == [100, 60]


def test_a_flip_whose_close_part_filled_and_expired_never_claims_the_short(services, fake, settings):
    part_filled_close(services, fake, "sell")
    age_alerts(services, 17 * 3600)  # the alert is stale by the time the expiry is seen
    assert settle(services) == ["FAILED"]
    assert held(fake) == 60, "still long: no short was opened against a long"
    assert row(settings) == "FAILED"
    reason = services.journal.recent(1)[0]["reason"]
    assert "after filling 40" in reason and "still long 60 AAPL" in reason
    assert len(fake.orders) == 1


def test_a_traders_own_stop_is_cancelled_so_the_exit_goes_through(services, fake, settings):
    fake.set_position("AAPL", 100)
    stop = fake.place_order(symbol="AAPL", side="sell", type="stop", stop_price="120", qty="100",
                            time_in_force="gtc", client_order_id="my-own-stop")
    assert send(services, "sell", price=150) == ["FILLED"]
    assert held(fake) == -100
    assert fake.orders[stop["id"]]["status"] == "canceled"
    record = services.journal.recent(1)[0]
    cancelled = [o for o in record["orders"] if o["purpose"] == "cancelled other"]
    assert [o["client_order_id"] for o in cancelled] == ["my-own-stop"]
    assert "stop" in cancelled[0]["reason"]


def test_with_cancel_other_orders_false_the_blocked_exit_fails_naming_the_order(settings, fake):
    services = make_services(settings, fake, cancel_other_orders=False)
    fake.set_position("AAPL", 100)
    stop = fake.place_order(symbol="AAPL", side="sell", type="stop", stop_price="120", qty="100",
                            time_in_force="gtc", client_order_id="my-own-stop")
    assert send(services, "close", price=150) == ["FAILED"]
    assert held(fake) == 100 and fake.orders[stop["id"]]["status"] == "new"
    reason = services.journal.recent(1)[0]["reason"]
    assert "insufficient qty" in reason and "sell 100 AAPL stop" in reason
    assert "NOVALGO_CANCEL_OTHER_ORDERS=false" in reason
    assert row(settings) == "FAILED"


def test_crypto_buy_then_sell_ends_flat_with_the_row_waiting(services, fake, settings):
    fake.market.close()  # crypto trades around the clock
    assert send(services, "buy", "BTCUSD", price=60000) == ["FILLED"]
    assert held(fake, "BTC/USD") > 0
    assert send(services, "sell", "BTCUSD", price=60000) == ["WAITING"]
    assert held(fake, "BTC/USD") == 0
    assert row(settings, "BTCUSD") == "WAITING"
    assert services.journal.recent(1)[0]["reason"] == "crypto cannot be sold short"
    assert {o["time_in_force"] for o in fake.orders.values()} == {"gtc"}
    assert send(services, "sell", "BTCUSD", price=60000) == ["WAITING"]
    assert len(fake.orders) == 2 and rejected(fake) == []


def test_crypto_is_never_skipped_for_market_hours(settings, fake):
    services = make_services(settings, fake, outside_hours="skip")
    fake.market.close()
    assert send(services, "buy", "BTCUSD", price=60000) == ["FILLED"]
    assert send(services, "buy", "AAPL", price=150) == ["SKIPPED"]


def test_a_refusal_answering_an_order_that_was_placed_leaves_exactly_one_order(services, fake, settings):
    # The gateway places the order, then answers 403 (as a retried copy would be refused).
    fake.fail("POST", "/v2/orders", 403, place=True)
    assert send(services, "buy", price=150) == ["FILLED"]
    assert len(fake.orders) == 1
    assert held(fake) > 0 and row(settings) == "FILLED"


def test_an_order_replaced_at_the_broker_is_followed_to_its_replacement(services, fake, settings):
    fake.fill_delay = 3600.0
    assert send(services, "buy", price=150) == ["ORDER SUBMITTED"]
    first = next(iter(fake.orders.values()))
    # The trader changes the order by hand (Alpaca's PATCH /v2/orders/{id}: a new order replaces it).
    trader = TradingClient(fake.key_id, fake.secret_key, url_override=fake.url)
    replacement = trader.replace_order_by_id(first["id"], ReplaceOrderRequest(qty=10))
    assert fake.orders[first["id"]]["status"] == "replaced"
    fake.fill_delay = 0.0
    fake.fill_order(str(replacement.id))
    assert settle(services) == ["FILLED"]
    assert held(fake) == 10


def test_waiting_for_the_open_reads_no_orders(services, fake, settings):
    fake.market.close()
    for symbol_action in ("buy", "sell", "buy"):
        send(services, symbol_action, price=150)
    fake.calls.clear()
    for _ in range(20):  # the tracker's passes through a night
        services.executor.track()
    order_reads = sum(n for (method, path), n in fake.calls.items() if method == "GET" and "/orders" in path)
    assert order_reads == 1, "one list right after the close (expiries), then nothing until the open"
    fake.market.open()
    settle(services)
    assert held(fake) > 0 and rejected(fake) == []


def test_a_newer_signal_cancels_the_queued_one_and_finishes_however_old(services, fake, settings):
    fake.market.close()
    assert send(services, "buy", price=150) == ["ORDER SUBMITTED"]
    age_alerts(services, 0)
    # The SELL cancels our queued buy; it has now acted, so it completes even if it grows stale.
    assert send(services, "sell", price=150) == ["ORDER SUBMITTED"]
    age_alerts(services, 17 * 3600)
    fake.market.open()
    assert settle(services) == ["FILLED"]
    assert held(fake) == -100
    first, second = [a for a in reversed(services.journal.recent(10))]
    assert (first["status"], second["status"]) == ("WAITING", "FILLED")
    assert first["reason"] == f"alert {second['id']} replaced it before its orders filled"
    assert row(settings) == "FILLED"


def test_a_coin_the_symbol_reader_does_not_know_trades_as_crypto_by_the_brokers_word(settings, fake):
    fake.add_asset("ZZZUSD", "2", asset_class="crypto", exchange="CRYPTO", shortable=False, easy_to_borrow=False)
    ROWS.append(("ZZZUSD", "1000", "TRUE", "15 Min"))
    try:
        services = make_services(settings, fake)
    finally:
        ROWS.pop()
    fake.market.close()
    assert send(services, "buy", "ZZZUSD", price=2) == ["FILLED"]
    assert send(services, "sell", "ZZZUSD", price=2) == ["WAITING"]
    assert services.journal.recent(1)[0]["reason"] == "crypto cannot be sold short"
    assert {o["time_in_force"] for o in fake.orders.values()} == {"gtc"}
