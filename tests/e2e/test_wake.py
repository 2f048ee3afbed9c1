"""The leader's dispatcher is woken by whichever gunicorn worker journals an alert.

The safety-net poll is set to an hour here, so an alert that settles while its request waits
(``?wait=2``) was started by a wake: from the worker that took it, be it the leader's process or
the other one, and after a kill -9 of the leader, the new leader's. With waking switched off the
same alerts sit in the queue, which shows the tests could fail.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.engine.journal import Journal
from novalgo.engine.services import JOURNAL_FILE
from novalgo.engine.wakeup import WAKE_FILE
from tests.support.clock import ticking_clock
from tests.support.gunicorn import wait_for
from tests.support.running_service import RunningService, write_local_config

SECRET = "e2e-secret"
SYMBOLS = [f"W{i:02d}" for i in range(6)]
ONLY_WAKES = {"NOVALGO_DISPATCH_POLL": "3600"}


def prepare(data_dir: Path) -> str:
    """Config rows for the symbols, and one alert journalled before the start: once it is done,
    the new leader's first pass (which finds anything queued, wake or not) is behind us."""
    write_local_config(data_dir, SYMBOLS)
    delivery = read_delivery(json.dumps({"action": "buy", "symbol": "MARK", "price": 10, "secret": SECRET}).encode())
    # Stamped on the service's clock (the tests' instant), or the leader could find it stale.
    return Journal(data_dir / JOURNAL_FILE, clock=ticking_clock()).add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)[0]


def status_of(service: RunningService, alert_id: str) -> str:
    with service.journal() as db:
        return db.execute("SELECT status FROM alerts WHERE id=?", (alert_id,)).fetchone()[0]


def settled(service: RunningService, alert_id: str) -> None:
    wait_for(lambda: status_of(service, alert_id) not in ("QUEUED", "PROCESSING"), "the first pass", limit=60)


def session_pids(service: RunningService) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.getsid(int(name)) == service.process.pid:
                pids.append(int(name))
        except OSError:
            pass
    return pids


def owner_of_connection(service: RunningService, client_port: int) -> int | None:
    """The service process holding the server end of our TCP connection (read from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)) == (service.port, client_port):
                inodes.add(f"socket:[{fields[9]}]")
    for pid in session_pids(service):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
        except OSError:
            continue
    return None


def post_waiting(service: RunningService, body: dict, wait: float = 2) -> tuple[dict, int | None]:
    """POST with ?wait over a fresh connection; the answer and the worker that gave it."""
    connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        connection.request("POST", f"/webhook?wait={wait}", json.dumps({**body, "secret": SECRET}),
                           {"Content-Type": "application/json"})
        answer = connection.getresponse()
        payload = json.loads(answer.read())
        # gunicorn keeps the connection open a moment (keep-alive): its owner is the worker that answered.
        worker = owner_of_connection(service, connection.sock.getsockname()[1])
        return payload, worker
    finally:
        connection.close()


def alert(n: int) -> dict:
    """Alternating buy and sell per symbol, so every alert is a new signal that fills."""
    return {"action": ("buy", "sell")[(n // len(SYMBOLS)) % 2], "symbol": SYMBOLS[n % len(SYMBOLS)],
            "timeframe": "15", "price": 100 + n % 7, "n": n}


def send_until_both_workers_answered(service: RunningService, start: int, limit: int = 60) -> dict[int, list[str]]:
    """Alerts one at a time until each live worker has answered at least two; outcome per worker."""
    outcomes: dict[int, list[str]] = {}
    for n in range(start, start + limit):
        payload, worker = post_waiting(service, alert(n))
        outcomes.setdefault(worker, []).append(payload.get("outcome") or payload["status"])
        if len(outcomes) >= 2 and all(len(seen) >= 2 for seen in outcomes.values()):
            break
    return outcomes


def test_alerts_taken_by_either_worker_settle_without_the_poll(tmp_path):
    data_dir = tmp_path / "data"
    marker = prepare(data_dir)
    with RunningService(data_dir, SECRET, workers=2, **ONLY_WAKES) as service:
        settled(service, marker)
        leader = service.leader_pid()
        outcomes = send_until_both_workers_answered(service, 0)
        assert len(outcomes) == 2 and leader in outcomes and None not in outcomes, outcomes
        assert {status for seen in outcomes.values() for status in seen} == {"FILLED"}, (outcomes, service.tail())


def test_without_the_wake_the_same_alerts_wait_for_the_poll(tmp_path):
    data_dir = tmp_path / "data"
    marker = prepare(data_dir)
    with RunningService(data_dir, SECRET, workers=2, NOVALGO_WAKE="off", **ONLY_WAKES) as service:
        settled(service, marker)
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda n: post_waiting(service, alert(n))[0], range(6)))
        assert [a["status"] for a in answers] == ["accepted"] * 6
        assert {status_of(service, a["alert_id"]) for a in answers} == {"QUEUED"}


def socket_file(data_dir: Path) -> tuple[int, int]:
    found = os.stat(data_dir / WAKE_FILE)
    return found.st_ino, found.st_ctime_ns  # a file made anew may get the same inode number


def test_after_a_kill_9_the_new_leader_is_woken(tmp_path):
    data_dir = tmp_path / "data"
    marker = prepare(data_dir)
    with RunningService(data_dir, SECRET, workers=2, **ONLY_WAKES) as service:
        settled(service, marker)
        old_leader = service.leader_pid()
        old_socket = socket_file(data_dir)
        os.kill(old_leader, signal.SIGKILL)
        # Taken while nobody leads: the new leader's first pass finds it, so once it is done,
        # whatever settles next was started by a wake.
        handover = post_waiting(service, alert(100), wait=0)[0]["alert_id"]
        settled(service, handover)
        new_leader = service.leader_pid()
        assert new_leader != old_leader
        assert socket_file(data_dir) != old_socket  # the dead leader's socket was replaced
        outcomes = send_until_both_workers_answered(service, 101)
        assert new_leader in outcomes and old_leader not in outcomes, outcomes
        assert {status for seen in outcomes.values() for status in seen} == {"FILLED"}, (outcomes, service.tail())
