"""Ack latency of POST /webhook: NovAlgo vs a bare Flask endpoint under the same gunicorn.

Starts both under deploy/gunicorn.conf.py on loopback, sends the same alerts to each from one
client (keep-alive), interleaving rounds so machine noise hits both alike, and prints p50/p99
and the ratio. The journal runs with its production setting (synchronous=FULL) unless
NOVALGO_JOURNAL_SYNC says otherwise.

    .venv/bin/python bench/ack.py [--alerts 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(app: str, data_dir: Path, extra_path: str = "") -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, NOVALGO_DATA_DIR=str(data_dir), NOVALGO_WEBHOOK_SECRET=SECRET,
               NOVALGO_PORT=str(port), PYTHONPATH=f"{ROOT}:{extra_path}")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "--bind",
         f"127.0.0.1:{port}", "--access-logfile", "/dev/null", app],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            requests.get(url + "/health", timeout=0.5)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit(f"{app} did not start")


def measure(session: requests.Session, url: str, bodies: list[bytes]) -> list[float]:
    latencies = []
    for body in bodies:
        started = time.perf_counter()
        answer = session.post(url + "/webhook", data=body, headers={"Content-Type": "text/plain"})
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 202:
            raise SystemExit(f"unexpected {answer.status_code}: {answer.text}")
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    symbols = ["AAPL", "TSLA", "HOOD", "NVDA", "AMD"]
    bodies = [json.dumps({"action": ("buy", "sell", "close")[i % 3], "symbol": symbols[i % 5], "timeframe": "15",
                          "price": 100 + i % 50, "secret": SECRET, "n": i}).encode() for i in range(args.alerts)]
    with tempfile.TemporaryDirectory() as scratch:
        novalgo, novalgo_url = start("novalgo.wsgi:app", Path(scratch) / "data")
        bare, bare_url = start("bare_app:app", Path(scratch) / "bare", extra_path=str(ROOT / "bench"))
        try:
            results = {"novalgo": [], "bare": []}
            per_round = args.alerts // args.rounds
            with requests.Session() as session:
                measure(session, bare_url, bodies[:50])  # warm both up
                measure(session, novalgo_url, [b.replace(b'"n"', b'"warm"') for b in bodies[:50]])
                for r in range(args.rounds):
                    chunk = bodies[r * per_round:(r + 1) * per_round]
                    results["bare"] += measure(session, bare_url, chunk)
                    results["novalgo"] += measure(session, novalgo_url, chunk)
        finally:
            for process in (novalgo, bare):
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
    sync = os.environ.get("NOVALGO_JOURNAL_SYNC", "full")
    print(f"ack latency over {len(results['novalgo'])} alerts each (gunicorn, deploy/gunicorn.conf.py, journal sync={sync})")
    for name in ("bare", "novalgo"):
        values = results[name]
        print(f"  {name:8s} p50 {statistics.median(values):6.2f} ms   p99 {percentile(values, 0.99):6.2f} ms")
    p50 = statistics.median(results["novalgo"]) / statistics.median(results["bare"])
    p99 = percentile(results["novalgo"], 0.99) / percentile(results["bare"], 0.99)
    print(f"  ratio    p50 {p50:.2f}x   p99 {p99:.2f}x   (goal: <= 1.5x)")


if __name__ == "__main__":
    main()
