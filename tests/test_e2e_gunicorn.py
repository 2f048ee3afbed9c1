"""End to end: the real service under gunicorn (``novalgo serve``), spoken to over HTTP."""

from __future__ import annotations

import csv
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

SECRET = "e2e-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Service:
    def __init__(self, data_dir: Path, workers: int = 2, **env):
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, NOVALGO_DATA_DIR=str(data_dir), NOVALGO_PORT=str(self.port),
                        NOVALGO_WEBHOOK_SECRET=SECRET, NOVALGO_JOURNAL_SYNC="normal", **env)
        self.log = open(data_dir.parent / "service.log", "wb")
        self.process = subprocess.Popen([sys.executable, "-m", "novalgo", "serve", "--workers", str(workers)],
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"{self.url}/health", timeout=1)
                if answer.status_code == 200 and answer.json()["status"] == "healthy":
                    return answer.json()
            except requests.ConnectionError:
                pass
            if self.process.poll() is not None:
                raise AssertionError(f"service exited: {self.output()}")
            time.sleep(0.2)
        raise AssertionError(f"service not healthy in {timeout}s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.data_dir.parent / "service.log").read_text()[-3000:]

    def post(self, body: dict, wait: float | None = None) -> requests.Response:
        url = f"{self.url}/webhook" + (f"?wait={wait}" if wait else "")
        return requests.post(url, json={**body, "secret": SECRET}, timeout=10)

    def leader_pid(self) -> int:
        return int((self.data_dir / "leader.lock").read_text().strip())

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def service(tmp_path):
    started = Service(tmp_path / "data")
    yield started
    started.stop()


def config_status(data_dir: Path, symbol: str) -> str:
    with open(data_dir / "sheet" / "Config.csv", newline="") as handle:
        return next(r for r in csv.DictReader(handle) if r["symbol"] == symbol)["Order Status"]


def test_trading_scenario_over_http(service):
    health = service.wait_healthy()
    assert (health["mode"], health["active_configs"]) == ("simulated", 3)
    steps = [("BUY", 200, "25", "FILLED"), ("BUY", 201, "25", "ALREADY LONG"), ("SELL", 250, "-20", "FILLED"),
             ("SELL", 250, "-20", "ALREADY SHORT"), ("BUY", 200, "25", "FILLED"), ("CLOSE", 210, None, "WAITING")]
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
    service = Service(data_dir, workers=2)
    try:
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
        assert pending == 0, service.output()
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
