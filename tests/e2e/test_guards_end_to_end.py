"""Every row and account guard through the real service on local defaults (simulated broker, CSV
sheet): Max Trades/Day, Trading Hours, max open positions, and the max daily loss tripping,
flattening (CLOSE alerts of source guard) and notifying once."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time

import pytest
import requests

from tests.support.clock import pinned_start
from tests.support.gunicorn import wait_for
from tests.support.running_service import RunningService

SECRET = "guards-e2e-secret"
HEADER = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated", "Trading Hours",
          "Max Trades/Day"]
# Trading Hours that never include now (the service's clock starts at the tests' pinned instant):
# a one-minute window twelve hours away.
_AWAY = pinned_start().timestamp() + 12 * 3600
AWAY = time.strftime("%H:%M", time.gmtime(_AWAY)) + "-" + time.strftime("%H:%M", time.gmtime(_AWAY + 60)) + " UTC"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("guards-e2e") / "data"
    (data_dir / "sheet").mkdir(parents=True)
    with open(data_dir / "sheet" / "Config.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([
            HEADER,
            ["AAPL", "5000", "TRUE", "15 Min", "", "", "", "1"],
            ["TSLA", "5000", "TRUE", "15 Min", "", "", AWAY, ""],
            ["NVDA", "5000", "TRUE", "15 Min", "", "", "", ""],
            ["INTC", "5000", "TRUE", "15 Min", "", "", "", ""],
        ])
    with RunningService(data_dir, SECRET, workers=2, NOVALGO_MAX_OPEN_POSITIONS="1", NOVALGO_MAX_DAILY_LOSS="500",
                        NOVALGO_FLATTEN_ON_MAX_LOSS="true") as running:
        running.wait_healthy()
        yield running


def post(service, action: str, symbol: str, price) -> dict:
    answer = service.post({"action": action, "symbol": symbol, "timeframe": "15", "price": price}, wait=2.5)
    assert answer.status_code in (200, 202), answer.text
    return answer.json()


def assert_outcome(answer: dict, expected: str) -> None:
    assert answer["outcome"] == expected, answer["reason"]


def positions(service) -> dict[str, str]:
    held = requests.get(f"{service.url}/positions", timeout=5).json()["positions"]
    return {p["symbol"]: p["qty"] for p in held}


def test_max_trades_a_day_lets_the_flips_close_go_and_skips_its_entry(service):
    assert_outcome(post(service, "buy", "AAPL", 200), "FILLED")
    flip = post(service, "sell", "AAPL", 201)
    assert flip["outcome"] == "WAITING", flip
    assert flip["reason"].startswith("closed the position; no new entry:") and "1 entr" in flip["reason"]
    assert "AAPL" not in positions(service)


def test_trading_hours_skip_an_entry_outside_them(service):
    answer = post(service, "buy", "TSLA", 300)
    # On a weekend or holiday the row's day itself is refused first; either way its Trading Hours skip it.
    reason = answer["reason"]
    assert answer["outcome"] == "SKIPPED" and ("outside the row's Trading Hours" in reason
                                               or "not a trading day" in reason), answer
    assert "TSLA" not in positions(service)


def test_max_open_positions_skips_an_entry_in_a_new_symbol(service):
    assert_outcome(post(service, "buy", "NVDA", 100), "FILLED")
    answer = post(service, "buy", "INTC", 40)
    assert answer["outcome"] == "SKIPPED" and "max open positions 1" in answer["reason"], answer


def test_the_max_daily_loss_trips_once_flattens_and_pauses_entries(service):
    env = {**os.environ, "NOVALGO_DATA_DIR": str(service.data_dir), "APCA_API_KEY_ID": "", "APCA_API_SECRET_KEY": ""}
    # NVDA: 50 shares from 100 to 80 is $1,000 down, past the $500 limit.
    subprocess.run([sys.executable, "-m", "novalgo", "sim", "price", "NVDA", "80"], env=env, check=True,
                   capture_output=True, timeout=60)
    wait_for(lambda: "NVDA" not in positions(service), "the guard to flatten NVDA", 30)
    health = requests.get(f"{service.url}/health", timeout=5).json()["entries"]
    assert health["paused"] and any("max daily loss" in why for why in health["why"]), health
    with service.journal() as db:
        closes = db.execute("SELECT action, status FROM alerts WHERE source_ip='guard'").fetchall()
        trips = db.execute("SELECT COUNT(*) FROM outbox WHERE kind='guard'").fetchone()[0]
    assert [tuple(c) for c in closes] == [("close", "WAITING")]
    assert trips == 1, "the trip is told once"
    answer = post(service, "buy", "INTC", 41)  # a new bar's alert (the same body again is a re-delivery)
    assert answer["outcome"] == "SKIPPED" and "max daily loss" in answer["reason"], answer
