"""Alerts for the tests: bodies as TradingView would send them, journalled and run as the leader would."""

from __future__ import annotations

import json

from novalgo.domain.alerts import parse_alert, read_delivery

SECRET = "test-webhook-secret"


def alert_body(action: str, symbol: str = "AAPL", timeframe: str | None = "15", price=None, **extra) -> str:
    body = {"action": action, "symbol": symbol, "secret": SECRET, **extra}
    if timeframe is not None:
        body["timeframe"] = timeframe
    if price is not None:
        body["price"] = price
    return json.dumps(body)


def run_queue(services, limit: int = 1000) -> list[str]:
    """Process queued alerts in arrival order, as the leader's dispatcher would; returns their statuses."""
    done = []
    for _ in range(limit):
        queued = [row for row in services.journal.queued() if row["not_before"] <= services.clock()]
        if not queued:
            break
        row = queued[0]
        assert services.journal.claim(row["id"])
        done.append(services.executor.process(row["id"]))
    services.writer.flush()
    return done


def drain(services, clock) -> list[str]:
    """The dispatcher's order on a hand-set clock: the oldest queued alert, while it is due."""
    done = []
    for _ in range(50):
        queued = services.journal.queued()
        if not queued or queued[0]["not_before"] > clock():
            break
        assert services.journal.claim(queued[0]["id"])
        done.append(services.executor.process(queued[0]["id"]))
    services.writer.flush()
    return done


def journal_alert(services, body: str) -> str:
    delivery = read_delivery(body.encode())
    alert_id, _, _ = services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return alert_id
