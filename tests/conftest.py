"""Shared fixtures: a real app on a temporary data dir, and a way to run its queue in-line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from novalgo.settings import Settings

SECRET = "test-webhook-secret"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(webhook_secret=SECRET, data_dir=tmp_path / "data", run_background=False,
                    journal_sync="normal")


@pytest.fixture
def app(settings):
    from novalgo.web import create_app

    return create_app(settings, start_background=False)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def services(app):
    return app.extensions["novalgo"]


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
        queued = [row for row in services.journal.queued() if row["not_before"] <= time.time()]
        if not queued:
            break
        row = queued[0]
        assert services.journal.claim(row["id"])
        done.append(services.executor.process(row["id"]))
    services.writer.flush()
    return done
