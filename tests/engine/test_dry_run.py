"""The dry run names the orders the executor then really sends, and writes nothing itself."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.engine.dry_run import dry_run
from tests.support.alerts import alert_body, journal_alert, run_queue


def rehearse(services, body: str) -> dict:
    return dry_run(parse_alert(read_delivery(body.encode())), services.config, services.broker, services.journal)


def sent_orders(services, alert_id: str) -> list[dict]:
    # A flip's opening leg is journalled unsized first, then decided once the close fills: never sent.
    return [{"purpose": o["purpose"], "side": o["side"], "qty": o["qty"], "notional": o["notional"]}
            for o in services.journal.get(alert_id)["orders"] if o["qty"] or o["notional"]]


def fills(services) -> int:
    return len(services.broker.fills(since=datetime.fromtimestamp(0, timezone.utc)))


@pytest.mark.parametrize("before, body, status", [
    ([], alert_body("buy", price=200), "FILLED"),
    ([], alert_body("sell", price=250), "FILLED"),
    ([alert_body("buy", price=200)], alert_body("sell", price=250), "FILLED"),  # close the long, then short
    ([alert_body("buy", price=200)], alert_body("buy", price=201), "ALREADY LONG"),
    ([alert_body("sell", price=250)], alert_body("close", price=240), "WAITING"),
    ([], alert_body("buy", "MSFT", "5", 400), "INACTIVE"),
    ([], alert_body("sell", "TSLA", None), "FAILED"),  # no price to size a short
], ids=["buy-flat", "sell-flat", "sell-long", "buy-long", "close-short", "inactive-row", "short-without-price"])
def test_the_dry_run_names_the_orders_the_executor_then_sends(services, before, body, status):
    for earlier in before:
        journal_alert(services, earlier)
        run_queue(services)
    alerts_before, fills_before = len(services.journal.recent(1000)), fills(services)

    rehearsed = rehearse(services, body)

    assert len(services.journal.recent(1000)) == alerts_before  # nothing journalled
    assert fills(services) == fills_before  # nothing traded
    alert_id = journal_alert(services, body)
    assert run_queue(services) == [status]
    assert (rehearsed["status"], rehearsed["orders"]) == (status, sent_orders(services, alert_id))


def test_the_dry_run_shows_the_row_and_what_is_held(services):
    journal_alert(services, alert_body("buy", price=200))
    run_queue(services)
    rehearsed = rehearse(services, alert_body("sell", "NASDAQ:AAPL", "15", 250))
    assert rehearsed["alert"] == {"action": "sell", "symbol": "AAPL", "timeframe": "15", "timeframe_minutes": 15,
                                  "price": "250", "quantity": None, "take_profit": None, "stop_loss": None}
    assert rehearsed["config_row"] == {"row": "AAPL 15 Min", "row_number": 2, "position_size": "5000", "active": True}
    assert rehearsed["holding"] == {"held": "25", "pending": "0"}
    assert rehearsed["orders"] == [{"purpose": "close", "side": "sell", "qty": "25", "notional": None},
                                   {"purpose": "open", "side": "sell", "qty": "20", "notional": None}]


def test_no_matching_row_says_why_and_sends_nothing(services):
    rehearsed = rehearse(services, alert_body("buy", "NVDA", "15", 100))
    assert rehearsed["config_row"] is None and rehearsed["orders"] == []
    assert (rehearsed["status"], rehearsed["reason"]) == ("SKIPPED", "NVDA 15 Min is not in the Config tab")


def test_the_dry_run_keeps_the_exits_the_alert_gave(services):
    body = '{"action": "buy", "symbol": "AAPL", "timeframe": "15", "take_profit": "5%", "stop_loss": "180.5"}'
    alert = rehearse(services, body)["alert"]
    assert alert["take_profit"] == {"kind": "percent", "value": "5"}
    assert alert["stop_loss"] == {"kind": "price", "value": "180.5"}


def test_the_dry_run_shows_a_bracket_from_the_alerts_exits_and_the_exits_a_close_cancels_first(services):
    body = ('{"action": "buy", "symbol": "AAPL", "timeframe": "15", "price": 200, "take_profit": "5%", '
            '"stop_loss": "190.5"}')
    rehearsed = rehearse(services, body)
    assert rehearsed["orders"] == [{"purpose": "open", "side": "buy", "qty": "25", "notional": None,
                                    "take_profit": "210", "stop_loss": "190.5", "time_in_force": "gtc"}]
    journal_alert(services, body)
    assert run_queue(services) == ["FILLED"]
    close = rehearse(services, alert_body("close", price=205))
    assert close["cancels_exit_orders"] == ["take-profit sell 25 AAPL", "stop-loss sell 25 AAPL"]
    assert close["orders"] == [{"purpose": "close", "side": "sell", "qty": "25", "notional": None}]
