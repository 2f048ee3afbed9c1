"""On local defaults (simulated broker, CSV sheet), the row's columns work as `make run` shows them:
a bracket's take-profit, a trailing stop and a limit, moved by `novalgo sim price` from another
process, reach the running service's rows, Activity and Performance."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest

from tests.support.gunicorn import wait_for
from tests.support.running_service import RunningService

SECRET = "local-rules-secret"
HEADER = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated", "Take Profit",
          "Stop Loss", "Trailing Stop", "Order Type", "Limit Offset"]
ROWS = [
    ["AAPL", "$1,000", "TRUE", "15 Min", "", "", "2%", "1%", "", "", ""],
    ["TSLA", "$2,000", "TRUE", "15 Min", "", "", "", "", "$2", "", ""],
    ["SHOP", "10 sh", "TRUE", "15 Min", "", "", "", "", "", "limit", "$0.05"],
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("local-rules") / "data"
    (data_dir / "sheet").mkdir(parents=True)
    with open(data_dir / "sheet" / "Config.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *ROWS])
    with RunningService(data_dir, SECRET, workers=2, NOVALGO_PERFORMANCE_INTERVAL="5") as running:
        running.wait_healthy()
        yield running


def post(service, action: str, symbol: str, price) -> dict:
    answer = service.post({"action": action, "symbol": symbol, "timeframe": "15", "price": price}, wait=2.5)
    assert answer.status_code in (200, 202), answer.text
    return answer.json()


def sim_price(service, symbol: str, price: str) -> str:
    env = {**os.environ, "NOVALGO_DATA_DIR": str(service.data_dir), "APCA_API_KEY_ID": "", "APCA_API_SECRET_KEY": ""}
    done = subprocess.run([sys.executable, "-m", "novalgo", "sim", "price", symbol, price], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def sheet(service, name: str) -> list[list[str]]:
    path = service.data_dir / "sheet" / f"{name}.csv"
    if not path.exists():
        return []  # the leader writes Activity.csv with its first batch
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def status(service, symbol: str) -> str:
    rows = sheet(service, "Config")
    column = rows[0].index("Order Status")
    return next(row[column] for row in rows[1:] if row[0] == symbol)


def test_a_bracket_takes_profit_when_the_price_is_moved_by_hand(service):
    assert post(service, "buy", "AAPL", 100)["outcome"] == "FILLED"
    said = sim_price(service, "AAPL", "102.50")
    assert "take-profit sell 10 AAPL filled at 102" in said, said
    wait_for(lambda: status(service, "AAPL") == "TAKE PROFIT", "the AAPL row to say TAKE PROFIT", 20)
    wait_for(lambda: any(r[1] == "AAPL" and r[4] == "TAKE PROFIT" for r in sheet(service, "Activity")[1:]),
             "an Activity line for the take-profit", 20)


def test_a_trailing_stop_follows_alert_prices_up_and_fills_on_the_way_down(service):
    assert post(service, "buy", "TSLA", 200)["outcome"] == "FILLED"
    sim_price(service, "TSLA", "210")
    assert "nothing filled" in sim_price(service, "TSLA", "208.5")  # the stop trails at 208
    said = sim_price(service, "TSLA", "207.9")
    assert "trailing stop sell 10 TSLA filled" in said, said
    wait_for(lambda: status(service, "TSLA") == "TRAILING STOP", "the TSLA row to say TRAILING STOP", 20)


def test_a_limit_row_fills_at_the_alerts_price_within_its_offset(service):
    # The simulator marks the symbol to each alert's price: a buy limit at 50.05 fills there, at 50.
    assert post(service, "buy", "SHOP", 50)["outcome"] == "FILLED"
    wait_for(lambda: any(r[1] == "SHOP" and r[4] == "FILLED" and r[6:8] == ["10", "50"]
                         for r in sheet(service, "Activity")[1:]), "SHOP's fill in Activity", 20)
