"""End to end: the real service under gunicorn (``novalgo serve``), spoken to over HTTP."""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.running_service import RunningService

SECRET = "e2e-secret"


@pytest.fixture
def service(tmp_path):
    with RunningService(tmp_path / "data", SECRET) as started:
        yield started


def config_status(data_dir: Path, symbol: str) -> str:
    with open(data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["symbol"] == symbol)["Order Status"]


def test_trading_scenario_over_http(service):
    health = service.wait_healthy()
    assert (health["mode"], health["active_configs"]) == ("simulated", 3)
    # The README's "Try it" loop: each repeated action carries a new price, as a new bar's alert would.
    steps = [("BUY", 200, "25", "FILLED"), ("BUY", 201, "25", "ALREADY LONG"), ("SELL", 250, "-20", "FILLED"),
             ("SELL", 249, "-20", "ALREADY SHORT"), ("BUY", 200, "25", "FILLED"), ("CLOSE", 210, None, "WAITING")]
    for action, price, position, status in steps:
        answer = service.post({"action": action, "symbol": "AAPL", "timeframe": "15 Min", "price": price}, wait=2.5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == status
        held = requests.get(f"{service.url}/positions", timeout=5).json()["positions"]
        assert [p["qty"] for p in held if p["symbol"] == "AAPL"] == ([position] if position else [])
        deadline = time.monotonic() + 5
        while config_status(service.data_dir, "AAPL") != status and time.monotonic() < deadline:
            time.sleep(0.1)
        assert config_status(service.data_dir, "AAPL") == status


def test_a_re_delivery_across_a_gunicorn_restart_is_a_duplicate(tmp_path):
    """TradingView got a 502 while gunicorn restarted and re-sends the body: it must not trade twice."""
    data_dir = tmp_path / "data"
    body = {"action": "buy", "symbol": "AAPL", "timeframe": "15", "price": 200}
    # A window wider than any restart, so a slow machine's start-up cannot decide the outcome.
    window = {"NOVALGO_DEDUPE_SECONDS": "600"}
    with RunningService(data_dir, SECRET, **window) as first:
        delivered = first.post(body, wait=2.5).json()
        assert delivered["outcome"] == "FILLED"
    with RunningService(data_dir, SECRET, **window) as second:
        again = second.post(body)
        assert (again.status_code, again.json()["status"]) == (200, "duplicate")
        assert again.json()["duplicate_of"] == delivered["alert_id"]
        held = requests.get(f"{second.url}/positions", timeout=5).json()["positions"]
    assert [p["qty"] for p in held] == ["25"]
    broker = sqlite3.connect(data_dir / "simbroker.sqlite3")
    assert broker.execute("SELECT COUNT(*) FROM fills").fetchone()[0] == 1


def write_config(data_dir: Path, symbols: list[str]) -> None:
    (data_dir / "sheet").mkdir(parents=True, exist_ok=True)
    with open(data_dir / "sheet" / "Config.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"])
        for symbol in symbols:
            writer.writerow([symbol, "1000", "TRUE", "15 Min", "", ""])


def test_kill_9_of_the_leader_mid_burst_loses_nothing_and_doubles_nothing(tmp_path):
    data_dir = tmp_path / "data"
    symbols = [f"S{i:02d}" for i in range(20)]
    write_config(data_dir, symbols)
    service = RunningService(data_dir, SECRET, workers=2)
    try:
        service.wait_healthy()
        first_leader = service.leader_pid()
        bodies = [{"action": ("buy", "sell", "close")[i % 3], "symbol": symbols[i % len(symbols)],
                   "timeframe": "15", "price": 100 + i % 7} for i in range(150)]

        def send(body):
            try:
                answer = service.post(body)
                return answer.json()["alert_id"] if answer.status_code == 202 else None
            except requests.RequestException:
                return None  # the request died with its worker: never acknowledged, so not ours to keep

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(send, body) for body in bodies]
            time.sleep(0.3)
            os.kill(first_leader, signal.SIGKILL)
            accepted = [f.result() for f in futures if f.result()]
        assert len(accepted) >= 100
        deadline = time.monotonic() + 60
        journal = sqlite3.connect(data_dir / "journal.sqlite3")
        while time.monotonic() < deadline:
            pending = journal.execute("SELECT COUNT(*) FROM alerts WHERE status IN ('QUEUED','PROCESSING')").fetchone()[0]
            if pending == 0:
                break
            time.sleep(0.5)
        assert pending == 0, service.tail()
        assert service.leader_pid() != first_leader  # another worker took over
        known = {row[0] for row in journal.execute("SELECT id FROM alerts")}
        assert set(accepted) <= known  # no acknowledged alert lost
        broker = sqlite3.connect(data_dir / "simbroker.sqlite3")
        doubled = broker.execute("SELECT client_order_id, COUNT(*) FROM fills GROUP BY client_order_id HAVING COUNT(*) > 1").fetchall()
        assert doubled == []
        # Each symbol's final position matches the last alert that moved it.
        for symbol in symbols:
            last = journal.execute("SELECT action FROM alerts WHERE symbol=? AND status IN ('FILLED','WAITING') "
                                   "ORDER BY seq DESC LIMIT 1", (symbol,)).fetchone()
            row = broker.execute("SELECT qty FROM positions WHERE symbol=?", (symbol,)).fetchone()
            held = float(row[0]) if row else 0.0
            if last is None:
                continue
            expected = {"buy": lambda q: q > 0, "sell": lambda q: q < 0, "close": lambda q: q == 0}[last[0]]
            assert expected(held), (symbol, last[0], held)
    finally:
        service.stop()


def test_a_graceful_stop_mid_burst_hands_everything_to_the_next_start(tmp_path):
    """systemctl stop/restart during a burst: what was accepted is traded once, after the restart if need be."""
    data_dir = tmp_path / "data"
    symbols = [f"G{i:02d}" for i in range(10)]
    write_config(data_dir, symbols)
    bodies = [{"action": ("buy", "sell", "close")[i % 3], "symbol": symbols[i % len(symbols)], "timeframe": "15",
               "price": 50 + i % 5, "n": i} for i in range(200)]
    first = RunningService(data_dir, SECRET)
    first.wait_healthy()
    accepted: list[str] = []

    def send(body):
        try:
            answer = first.post(body, timeout=5)
        except requests.RequestException:
            return  # refused while stopping: never acknowledged
        if answer.status_code == 202:
            accepted.append(answer.json()["alert_id"])
            if len(accepted) == 80:
                os.killpg(first.process.pid, signal.SIGTERM)  # systemctl stop, mid-burst

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(send, bodies))
    first.stop()
    assert len(accepted) >= 80
    with RunningService(data_dir, SECRET) as second:
        assert second.wait_all_terminal(timeout=60) is not None, second.tail()
    journal = sqlite3.connect(data_dir / "journal.sqlite3")
    statuses = dict(journal.execute("SELECT id, status FROM alerts"))
    assert {statuses[i] for i in accepted} <= {"FILLED", "WAITING", "ALREADY LONG", "ALREADY SHORT"}
    broker = sqlite3.connect(data_dir / "simbroker.sqlite3")
    assert broker.execute("SELECT client_order_id FROM fills GROUP BY client_order_id HAVING COUNT(*) > 1").fetchall() == []
