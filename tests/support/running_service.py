"""The real service (``python -m novalgo serve``, gunicorn) in a scratch data dir, for tests and benches.

Its stdout (gunicorn's access log) and stderr (gunicorn's error log and the app's logging) go
to two files next to the data dir, so a test can read exactly what an operator's journald
would hold. Also: a Google service-account key file made at run time for the Sheets fake.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import requests

from tests.support.clock import pinned_start
from tests.support.gunicorn import free_port

ROOT = Path(__file__).resolve().parents[2]


class RunningService:
    def __init__(self, data_dir: Path, secret: str, workers: int = 2, clock_start: datetime | None = None,
                 **env: str):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.secret = secret
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout_path = self.data_dir.parent / "service.stdout"
        self.stderr_path = self.data_dir.parent / "service.stderr"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("NOVALGO_", "APCA_", "GOOGLE_"))}
        self.env = {**base, "NOVALGO_DATA_DIR": str(self.data_dir), "NOVALGO_PORT": str(self.port),
                    "NOVALGO_WEBHOOK_SECRET": secret, "NOVALGO_JOURNAL_SYNC": "normal",
                    # The service's clock: the tests' pinned instant (or the given one), ticking on.
                    "NOVALGO_CLOCK_START": (clock_start or pinned_start()).isoformat(),
                    "PYTHONPATH": str(ROOT), **env}
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        # Run from the data dir's parent so no developer .env in the repo leaks into the run.
        self.process = subprocess.Popen([sys.executable, "-m", "novalgo", "serve", "--workers", str(workers)],
                                        env=self.env, cwd=self.data_dir.parent, stdout=self._stdout,
                                        stderr=self._stderr, start_new_session=True)

    def wait_healthy(self, timeout: float = 60.0) -> dict:
        # gunicorn listens before its workers have imported alpaca-py and gspread (seconds on a
        # small machine), so the first requests may wait in the backlog: that is not a failure.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                answer = requests.get(f"{self.url}/health", timeout=5)
                if answer.status_code == 200 and answer.json()["status"] == "healthy":
                    return answer.json()
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited: {self.tail()}")
            time.sleep(0.2)
        raise RuntimeError(f"service not healthy in {timeout}s: {self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")[-chars:]

    def post(self, body: dict, wait: float | None = None, session: requests.Session | None = None,
             timeout: float = 10) -> requests.Response:
        """POST an alert with the secret in its body (``wait``: let the service answer with the outcome)."""
        url = f"{self.url}/webhook" + (f"?wait={wait}" if wait else "")
        return (session or requests).post(url, json={**body, "secret": self.secret}, timeout=timeout)

    def settled_record(self, posted: str, body: dict | str) -> tuple[dict, list[dict]]:
        """POST ``body`` as it is (JSON for a dict) with the secret in the URL (``posted="url"``) or
        in the body itself, wait until every alert is settled, and return its record in /alerts and
        the whole list (to check what it shows)."""
        data = json.dumps(body) if isinstance(body, dict) else body
        url = f"{self.url}/webhook/{self.secret}" if posted == "url" else f"{self.url}/webhook"
        answer = requests.post(f"{url}?wait=2.5", data=data.encode("utf-8"), timeout=10)
        assert answer.status_code in (200, 202), answer.text
        alert_id = answer.json()["alert_id"]
        assert self.wait_all_terminal(timeout=30) is not None, self.tail()
        listed = requests.get(f"{self.url}/alerts?limit=50", timeout=5).json()["alerts"]
        [record] = [a for a in listed if a["id"] == alert_id]
        return record, listed

    def leader_pid(self) -> int | None:
        try:
            text = (self.data_dir / "leader.lock").read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text else None

    def journal(self) -> sqlite3.Connection:
        return sqlite3.connect(self.data_dir / "journal.sqlite3", timeout=30)

    def pending(self) -> int:
        with self.journal() as db:
            return db.execute("SELECT COUNT(*) FROM alerts WHERE status IN ('QUEUED','PROCESSING')").fetchone()[0]

    def wait_all_terminal(self, timeout: float) -> float | None:
        """Seconds until no alert is queued or processing (None if the time ran out)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.pending() == 0:
                return time.monotonic() - started
            time.sleep(0.2)
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._stdout.close()
        self._stderr.close()

    def __enter__(self) -> "RunningService":
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_service_account(path: Path, private_key, client_email: str, token_url: str) -> Path:
    """A service-account key file as Google issues them, its token_uri pointing at the fake."""
    from cryptography.hazmat.primitives import serialization

    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "example-project", "private_key_id": "bench-key",
        "private_key": pem, "client_email": client_email, "client_id": "100000000000000000000",
        "token_uri": token_url}))
    os.chmod(path, 0o600)
    return path


def write_local_config(data_dir: Path, symbols: list[str], size: str = "1000", timeframe: str = "15 Min") -> None:
    """The local Config.csv with one active row per symbol."""
    import csv

    (data_dir / "sheet").mkdir(parents=True, exist_ok=True)
    with open(data_dir / "sheet" / "Config.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"])
        for symbol in symbols:
            writer.writerow([symbol, size, "TRUE", timeframe, "", ""])
