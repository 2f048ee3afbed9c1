"""A fresh data dir never stops the service: every process may create the SQLite files at once.

Several gunicorn workers boot together and each opens the journal and the simulator's file.
Before the files existed, switching one to WAL could fail at once with "database is locked"
while another process created the schema (about one boot in 30), the worker exited and
gunicorn shut down.
"""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from novalgo.broker.simulated import SimulatedBroker
from novalgo.engine.journal import Journal
from novalgo.engine.services import JOURNAL_FILE
from tests.support.running_service import RunningService

PROCESSES = 4
ROUNDS = 30
BOOTS = 5


def open_everything(data_dir: str, start: multiprocessing.Barrier) -> None:
    """What one gunicorn worker opens at boot: both journal connections and the simulator."""
    from pathlib import Path

    start.wait()
    Journal(Path(data_dir) / JOURNAL_FILE, checkpoints=False)
    Journal(Path(data_dir) / JOURNAL_FILE, sync="normal")
    SimulatedBroker(Path(data_dir))


def test_many_processes_create_the_same_fresh_files_at_once(tmp_path):
    context = multiprocessing.get_context("fork")
    failed = []
    for round_ in range(ROUNDS):
        data_dir = tmp_path / f"boot{round_}"
        start = context.Barrier(PROCESSES)
        workers = [context.Process(target=open_everything, args=(str(data_dir), start)) for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        failed += [round_ for worker in workers if worker.exitcode != 0]
        with sqlite3.connect(data_dir / JOURNAL_FILE) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert {"alerts", "orders", "meta"} <= {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert failed == []


@pytest.mark.parametrize("boot", range(BOOTS))
def test_the_real_service_starts_from_a_fresh_data_dir_every_time(tmp_path, boot):
    with RunningService(tmp_path / "data", "fresh-start-secret", workers=3) as service:
        health = service.wait_healthy()
        assert health["status"] == "healthy"
        answer = service.post({"action": "buy", "symbol": "AAPL", "timeframe": "15", "price": 200}, wait=2)
        assert answer.json()["outcome"] == "FILLED"
        assert "database is locked" not in service.tail(100_000)
