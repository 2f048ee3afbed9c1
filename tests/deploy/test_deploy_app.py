"""NovAlgo itself under deploy/gunicorn.conf.py: two workers, exactly one leader, and a new one
when the leader is killed (kill -9, no goodbye).

The app is the real `novalgo.wsgi:app` (simulated broker, CSV sheet in a scratch data dir).
The test's WSGI module only adds the process id to the log lines of the two things the
leader alone must do, processing alerts and updating the Performance tab, so we can see who
did them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.error
import urllib.request

import pytest

from tests.support.gunicorn import Gunicorn, clean_env, free_port, wait_for

SECRET = "deploy-test-secret-0123456789"

LEADER_APP = '''
import logging, os

logging.basicConfig(level=logging.INFO, format="%(process)d %(threadName)s %(name)s: %(message)s")

from novalgo.engine.executor import Executor
from novalgo.engine.performance import PerformanceUpdater

_process, _run_once = Executor.process, PerformanceUpdater.run_once

def process(self, alert_id, *args, **kwargs):
    logging.getLogger("deploy-test").info("executor pid=%d alert=%s", os.getpid(), alert_id)
    return _process(self, alert_id, *args, **kwargs)

def run_once(self, *args, **kwargs):
    logging.getLogger("deploy-test").info("performance pid=%d", os.getpid())
    return _run_once(self, *args, **kwargs)

Executor.process, PerformanceUpdater.run_once = process, run_once

from novalgo.wsgi import app
'''


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def post_alert(port: int, symbol: str) -> tuple[int, dict]:
    body = json.dumps({"action": "buy", "symbol": symbol, "timeframe": "15", "price": 100,
                       "secret": SECRET}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/webhook?wait=2.5", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def novalgo(tmp_path):
    pytest.importorskip("novalgo.wsgi")
    (tmp_path / "leader_app.py").write_text(LEADER_APP)
    env = clean_env(NOVALGO_HOST="127.0.0.1", NOVALGO_PORT=str(free_port()), NOVALGO_DATA_DIR=str(tmp_path / "data"),
                    NOVALGO_WEBHOOK_SECRET=SECRET, NOVALGO_ALLOWED_IPS="127.0.0.1",
                    NOVALGO_PERFORMANCE_INTERVAL="5", HOME=str(tmp_path), PYTHONPATH=str(tmp_path))
    server = Gunicorn(tmp_path, "leader_app:app", env)
    yield server, tmp_path / "data" / "leader.lock"
    server.stop()


def test_one_worker_leads_and_another_takes_over_when_it_is_killed(novalgo):
    server, lock_file = novalgo
    port = server.port
    wait_for(lambda: get(port, "/health")[1].get("status") == "healthy", "a leader's heartbeat")
    workers = server.worker_pids()
    leader = int(lock_file.read_text())
    assert len(workers) == 2 and leader in workers

    status, outcome = post_alert(port, "AAPL")
    assert status == 200 and outcome["symbol"] == "AAPL" and outcome["outcome"], outcome  # settled
    wait_for(lambda: re.search(r"performance pid=\d+", server.stderr()), "the Performance update")
    log = server.stderr()
    assert set(map(int, re.findall(r"executor pid=(\d+)", log))) == {leader}
    assert set(map(int, re.findall(r"performance pid=(\d+)", log))) == {leader}
    assert log.count("leader started") == 1

    os.kill(leader, signal.SIGKILL)
    successor = wait_for(lambda: (pid := int(lock_file.read_text() or 0)) != leader and alive(pid) and pid,
                         "another worker to take the lead")
    wait_for(lambda: get(port, "/health")[1].get("status") == "healthy", "the new leader's heartbeat")
    status, outcome = post_alert(port, "MSFT")
    assert status == 200 and outcome["symbol"] == "MSFT" and outcome["outcome"], outcome
    wait_for(lambda: re.search(fr"performance pid={successor}\b", server.stderr()), "the new leader's update")
    log = server.stderr()
    assert set(map(int, re.findall(r"executor pid=(\d+)", log))) == {leader, successor}
    assert set(map(int, re.findall(r"performance pid=(\d+)", log))) == {leader, successor}
    assert log.count("leader started") == 2
    print(f"leader {leader} killed; worker {successor} took over; workers seen {server.worker_pids()}")
