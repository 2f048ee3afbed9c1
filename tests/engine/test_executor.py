"""The executor against the real simulated broker and the CSV sheet: what a trader would see."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import pytest

from novalgo.broker.base import PENDING, OrderState
from novalgo.broker.simulated import SimulatedBroker
from novalgo.engine.journal import SENDING
from novalgo.errors import AmbiguousOrderError
from tests.support.alerts import alert_body, journal_alert, run_queue


def config_row(settings, symbol="AAPL") -> dict:
    with open(settings.data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(row for row in csv.DictReader(handle) if row["symbol"] == symbol)


def test_the_trading_scenario_moves_position_and_sheet(services, settings):
    steps = [("buy", 200, "25", "FILLED"), ("buy", 201, "25", "ALREADY LONG"), ("sell", 250, "-20", "FILLED"),
             ("sell", 250, "-20", "ALREADY SHORT"), ("buy", 200, "25", "FILLED"), ("close", 210, "0", "WAITING")]
    for action, price, position, status in steps:
        journal_alert(services, alert_body(action, "NASDAQ:AAPL", "15", price))
        assert run_queue(services) == [status]
        assert services.broker.position("AAPL").qty == Decimal(position)
        row = config_row(settings)
        assert row["Order Status"] == status
        assert row["Last Updated"]
    # Every order filled at the alert's price; P&L of the round trips is exact.
    fills = services.broker.fills(since=__import__("datetime").datetime.fromtimestamp(0).astimezone())
    assert [(f.side, f.qty, f.price) for f in fills] == [
        ("buy", 25, 200), ("sell", 25, 250), ("sell", 20, 250), ("buy", 20, 200), ("buy", 25, 200), ("sell", 25, 210)]
    assert services.broker.account().cash == Decimal(100000) + 25 * 50 + 20 * 50 + 25 * 10


def test_two_quick_buys_buy_once(services):
    journal_alert(services, alert_body("buy", price=200))
    journal_alert(services, alert_body("buy", price=200.5))
    assert run_queue(services) == ["FILLED", "ALREADY LONG"]
    assert len(services.broker.fills(since=_epoch())) == 1


def test_unknown_row_is_skipped_with_the_reason(services):
    alert_id = journal_alert(services, alert_body("buy", "NVDA", "15", 100))
    assert run_queue(services) == ["SKIPPED"]
    assert services.journal.get(alert_id)["reason"] == "NVDA 15 Min is not in the Config tab"
    assert services.broker.positions() == []


def test_no_timeframe_uses_the_only_active_row(services, settings):
    alert_id = journal_alert(services, alert_body("buy", "TSLA", None, 300))
    assert run_queue(services) == ["FILLED"]
    assert services.journal.get(alert_id)["amount"] == "30000"
    assert services.broker.position("TSLA").qty == 100
    assert config_row(settings, "TSLA")["Order Status"] == "FILLED"


def test_no_timeframe_with_two_active_rows_says_why(services, settings):
    with open(settings.data_dir / "sheet" / "Config.csv", "a") as handle:
        handle.write("AAPL,2000,TRUE,1 Hour,,\n")
    alert_id = journal_alert(services, alert_body("buy", "AAPL", None, 200))
    assert run_queue(services) == ["SKIPPED"]
    assert "2 active rows (15 Min, 1 Hour)" in services.journal.get(alert_id)["reason"]


def test_sixty_matches_a_one_hour_row(services, settings):
    with open(settings.data_dir / "sheet" / "Config.csv", "a") as handle:
        handle.write("AAPL,2000,TRUE,1 Hour,,\n")
    journal_alert(services, alert_body("buy", "AAPL", "60", 200))
    assert run_queue(services) == ["FILLED"]
    assert services.broker.position("AAPL").qty == 10


def test_inactive_row_places_no_order(services, settings):
    journal_alert(services, alert_body("buy", "MSFT", "5", 400))
    assert run_queue(services) == ["INACTIVE"]
    assert services.broker.positions() == []
    assert config_row(settings, "MSFT")["Order Status"] == "INACTIVE"


def test_short_without_a_price_fails_with_the_reason(services):
    alert_id = journal_alert(services, alert_body("sell"))
    assert run_queue(services) == ["FAILED"]
    assert "add \"price\"" in services.journal.get(alert_id)["reason"]


def test_stale_alert_expires_without_trading(services):
    alert_id = journal_alert(services, alert_body("buy", price=200))
    services.executor.clock = lambda: services.clock() + services.executor.max_alert_age + 1
    assert run_queue(services) == ["EXPIRED"]
    assert "older than NOVALGO_MAX_ALERT_AGE" in services.journal.get(alert_id)["reason"]
    assert services.broker.positions() == []


class TimeoutAfterPlacing(SimulatedBroker):
    """The broker places the order, then the answer is lost (a timeout): the ambiguous case."""

    lost_answers = 1

    def submit(self, order):
        state = super().submit(order)
        if self.lost_answers:
            self.lost_answers -= 1
            raise AmbiguousOrderError("read timed out after the order was sent")
        return state


def test_timeout_after_placing_gives_exactly_one_order(settings):
    from novalgo.engine.services import build_services

    services = build_services(settings, broker=TimeoutAfterPlacing(settings.data_dir))
    alert_id = journal_alert(services, alert_body("buy", price=200))
    assert run_queue(services) == ["QUEUED"]  # retried later, not failed, not resent blindly
    record = services.journal.get(alert_id)
    assert record["orders"][0]["state"] == SENDING
    services.journal.requeue(alert_id)  # the retry delay has passed
    assert run_queue(services) == ["FILLED"]
    assert len(services.broker.fills(since=_epoch())) == 1
    assert services.broker.position("AAPL").qty == 25


def test_crash_between_sending_and_recording_is_resumed_without_a_second_order(settings):
    from novalgo.engine.services import build_services

    services = build_services(settings)
    alert_id = journal_alert(services, alert_body("buy", price=200))
    services.journal.claim(alert_id)
    # The process died right after the broker accepted the order, before the journal heard back.
    services.executor._decide(services.journal.get(alert_id))  # noqa: SLF001 - drives the real path
    order = services.journal.orders_for(alert_id)[0]
    services.journal.update_order(order["client_order_id"], state=SENDING)
    services.journal.set_status(alert_id, "PROCESSING")
    fresh = build_services(settings)  # the next leader
    assert fresh.journal.resume_interrupted() == 1
    assert run_queue(fresh) == ["FILLED"]
    assert len(fresh.broker.fills(since=_epoch())) == 1


class FillsLater(SimulatedBroker):
    """Orders wait (market closed) until the test opens the market."""

    market_is_open = False

    def submit(self, order):
        if self.find_order(order.client_order_id) or self.market_is_open:
            return super().submit(order)
        self._held = getattr(self, "_held", {})
        self._held[order.client_order_id] = order
        return OrderState(order.client_order_id, "held-" + order.client_order_id, order.symbol, order.side, PENDING,
                          order.qty, order.notional)

    def open_market(self):
        self.market_is_open = True
        for order in getattr(self, "_held", {}).values():
            super().submit(order)

    def orders(self, cids):
        found = super().orders(cids)
        for cid in cids:
            if cid not in found and cid in getattr(self, "_held", {}):
                order = self._held[cid]
                found[cid] = OrderState(cid, "held-" + cid, order.symbol, order.side, PENDING, order.qty, order.notional)
        return found

    def find_order(self, cid):
        return super().find_order(cid) or self.orders([cid]).get(cid)


def test_market_closed_shows_order_submitted_until_the_fill(settings):
    from novalgo.engine.services import build_services

    settings = settings.with_overrides(fill_wait=0)
    services = build_services(settings, broker=FillsLater(settings.data_dir))
    alert_id = journal_alert(services, alert_body("buy", price=200))
    assert run_queue(services) == ["ORDER SUBMITTED"]
    assert config_row(settings)["Order Status"] == "ORDER SUBMITTED"
    # A second BUY meanwhile sees our unfilled order: no second buy.
    journal_alert(services, alert_body("buy", price=201))
    assert run_queue(services) == ["ALREADY LONG"]
    services.broker.open_market()
    assert services.executor.track() == 1
    assert run_queue(services) == ["FILLED"]
    assert services.journal.get(alert_id)["status"] == "FILLED"
    assert config_row(settings)["Order Status"] == "FILLED"
    assert services.broker.position("AAPL").qty == 25


def test_flip_while_market_closed_opens_only_after_the_close_fills(settings):
    from novalgo.engine.services import build_services

    settings = settings.with_overrides(fill_wait=0)
    broker = FillsLater(settings.data_dir)
    services = build_services(settings, broker=broker)
    broker.market_is_open = True
    journal_alert(services, alert_body("buy", price=200))
    assert run_queue(services) == ["FILLED"]
    broker.market_is_open = False
    alert_id = journal_alert(services, alert_body("sell", price=250))
    assert run_queue(services) == ["ORDER SUBMITTED"]
    assert [o["state"] for o in services.journal.orders_for(alert_id)] == ["pending", "planned"]
    broker.open_market()
    broker.market_is_open = True
    services.executor.track()
    assert run_queue(services) == ["FILLED"]
    assert broker.position("AAPL").qty == -20


def _epoch():
    from datetime import datetime, timezone

    return datetime.fromtimestamp(0, timezone.utc)


@pytest.mark.parametrize("symbol", ["AAPL"])
def test_alert_records_show_orders_with_client_ids(services, symbol):
    alert_id = journal_alert(services, alert_body("buy", symbol, "15", 200))
    run_queue(services)
    orders = services.journal.get(alert_id)["orders"]
    assert [o["client_order_id"] for o in orders] == [f"nva-{alert_id}-0"]
    assert json.loads(json.dumps(orders))[0]["filled_qty"] == "25"


def test_a_sunday_fill_in_the_simulator_tells_the_trader_alpaca_would_wait_for_monday(services):
    """Local demos fill at any hour, but the alert's outcome says what a real account would do."""
    from datetime import datetime, timezone

    from tests.support.clock import Clock

    services.broker.clock = Clock(datetime(2026, 12, 13, 17, 0, tzinfo=timezone.utc).timestamp())  # Sun 12:00 ET
    alert_id = journal_alert(services, alert_body("buy", price=200))
    assert run_queue(services) == ["FILLED"]
    assert services.journal.get(alert_id)["reason"].endswith(
        "filled by the simulator, which trades around the clock; on Alpaca a stock order sent now would wait "
        "for Mon 14 Dec 09:30 ET")
