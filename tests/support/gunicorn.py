"""gunicorn run for real by the tests, the way trading-bot.service runs it, and small process helpers."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.clock import pinned_start

GUNICORN_CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def wait_for(predicate, what: str, limit: float = 20.0):
    """Poll until predicate() is truthy; readiness only, never a timing assertion."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


class Gunicorn:
    """gunicorn started with deploy/gunicorn.conf.py, the way trading-bot.service starts it."""

    def __init__(self, workdir: Path, app: str, env: dict[str, str]):
        self.out = workdir / "gunicorn.stdout"
        self.err = workdir / "gunicorn.stderr"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app],
                cwd=workdir, env=env, stdout=out, stderr=err, start_new_session=True)
        listening = wait_for(lambda: self.poll_log(r"Listening at: http://127\.0\.0\.1:(\d+)"), "gunicorn to listen")
        self.port = int(listening.group(1))
        wait_for(lambda: len(self.worker_pids()) >= 2, "two gunicorn workers")

    def poll_log(self, pattern: str):
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.stderr()}")
        return re.search(pattern, self.stderr())

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.stderr())]

    def stop(self) -> tuple[str, str]:
        """Graceful stop as systemd does it (SIGTERM to the master); both logs, complete."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.stdout(), self.stderr()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the developer's NovAlgo/Alpaca/gunicorn settings; the service's clock
    starts at the tests' pinned instant (NOVALGO_CLOCK_START) unless ``extra`` says otherwise."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOVALGO_", "APCA_", "GUNICORN_"))}
    env.pop("WEB_CONCURRENCY", None)
    env["NOVALGO_CLOCK_START"] = pinned_start().isoformat()
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
