"""Guard rails through the real service on local defaults: the Settings file pauses entries, closes go on."""

from __future__ import annotations

import csv
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from click.testing import CliRunner

from novalgo.cli import main
from tests.support.running_service import RunningService, write_local_config

SECRET = "guard-rails-secret"
PAUSE_SEEN_WITHIN = 30.0  # the leader re-reads the local Settings file on its guard loop (2 s) past the TTL


def set_setting(data_dir, name: str, value: str) -> None:
    path = data_dir / "sheet" / "Settings.csv"
    rows = list(csv.reader(open(path, newline="")))
    for row in rows:
        if row and row[0] == name:
            row[1] = value
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def entries(service) -> dict:
    return requests.get(f"{service.url}/health", timeout=5).json()["entries"]


def wait_until_paused(service) -> dict:
    deadline = time.monotonic() + PAUSE_SEEN_WITHIN
    while time.monotonic() < deadline:
        seen = entries(service)
        if seen["paused"]:
            return seen
        time.sleep(0.5)
    raise AssertionError(f"/health never said entries are paused: {service.tail()}")


def test_trading_off_in_the_settings_file_skips_an_entry_and_lets_a_close_through(tmp_path):
    data_dir = tmp_path / "data"
    write_local_config(data_dir, ["AAPL", "TSLA"])
    with RunningService(data_dir, SECRET, workers=2) as service:
        assert entries(service) == {"paused": False, "why": []}
        bought = service.post({"action": "buy", "symbol": "AAPL", "timeframe": "15", "price": 200}, wait=2)
        assert bought.json().get("outcome") == "FILLED", bought.text

        set_setting(data_dir, "trading", "off")
        assert wait_until_paused(service)["why"] == ["trading is off on the Settings tab"]

        skipped = service.post({"action": "buy", "symbol": "TSLA", "timeframe": "15", "price": 300}, wait=2).json()
        assert skipped["outcome"] == "SKIPPED"
        assert "trading is off on the Settings tab" in skipped["reason"]
        closed = service.post({"action": "close", "symbol": "AAPL", "timeframe": "15", "price": 201}, wait=2).json()
        assert closed["outcome"] == "WAITING", "a close always goes through"
        with service.journal() as db:
            assert db.execute("SELECT COUNT(*) FROM orders WHERE symbol='TSLA'").fetchone()[0] == 0


def test_health_says_why_entries_are_paused(tmp_path):
    data_dir = tmp_path / "data"
    write_local_config(data_dir, ["AAPL"])
    with RunningService(data_dir, SECRET, workers=2, NOVALGO_TRADING="off") as service:
        assert entries(service) == {"paused": True, "why": ["trading is off (NOVALGO_TRADING=off)"]}


def test_the_service_keeps_the_time_novalgo_clock_start_gives_it(tmp_path):
    """A rehearsal after the close: the service's clock starts at Monday 16:30 New York, so /health
    says so and a row's Trading Hours turn an entry away, whatever time the machine has."""
    data_dir = tmp_path / "data"
    (data_dir / "sheet").mkdir(parents=True)
    with open(data_dir / "sheet" / "Config.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([
            ["symbol", "position_size", "active", "Time Frame", "Trading Hours"],
            ["AAPL", "5000", "TRUE", "15 Min", "09:45-15:30"]])
    after_close = datetime(2026, 12, 7, 16, 30, tzinfo=ZoneInfo("America/New_York"))
    with RunningService(data_dir, SECRET, workers=2, clock_start=after_close) as service:
        stamp = datetime.fromisoformat(requests.get(f"{service.url}/health", timeout=5).json()["timestamp"])
        assert timedelta(0) <= stamp - after_close < timedelta(minutes=2)
        skipped = service.post({"action": "buy", "symbol": "AAPL", "timeframe": "15", "price": 200}, wait=2).json()
        assert skipped["outcome"] == "SKIPPED" and "Trading Hours 09:45-15:30" in skipped["reason"], skipped


def test_check_shows_the_guards_in_force(tmp_path):
    data_dir = tmp_path / "data"
    (data_dir / "sheet").mkdir(parents=True)
    with open(data_dir / "sheet" / "Config.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([
            ["symbol", "position_size", "active", "Time Frame", "Trading Hours", "Flatten At", "Max Trades/Day"],
            ["AAPL", "5000", "TRUE", "15 Min", "09:45-15:30", "15:55", "3"],
            ["TSLA", "3000", "TRUE", "30 Min", "after lunch", "", ""]])
    env = {"NOVALGO_DATA_DIR": str(data_dir), "NOVALGO_WEBHOOK_SECRET": "x", "NOVALGO_MAX_DAILY_LOSS": "500"}
    CliRunner().invoke(main, ["sheet", "init"], env=env, catch_exceptions=False)
    set_setting(data_dir, "max open positions", "4")
    result = CliRunner().invoke(main, ["check"], env=env, catch_exceptions=False)
    assert "ok   guards: trading on, max daily loss $500, max open positions 4" in result.output
    assert ("ok   AAPL 15 Min: entries 09:45-15:30 US/Eastern, flatten at 15:55 US/Eastern, "
            "at most 3 entries a day") in result.output
    assert "FIX  Config row 3 (TSLA 30 Min): Trading Hours 'after lunch' is not a time range" in result.output
    assert result.exit_code == 1
