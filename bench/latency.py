"""Alert to order: how long from the webhook's send to the order POST's arrival at Alpaca, and
how many broker requests come before it.

Runs ``python -m novalgo serve`` (2 workers) against the loopback fakes with every Alpaca call
taking 50 ms, sends buy alerts to distinct symbols one at a time (each waits for its outcome),
then a close for each (the symbol's state now current), and reads the fake's request log.
Three ways: following the trade stream, the stream refused (the REST fallback), and no stream
configured at all.

    .venv/bin/python bench/latency.py [--alerts 40] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.e2e import SECRET, Fakes, RealService  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def event_to_journal(fakes: Fakes, service: RealService, symbols: list[str]) -> list[float]:
    """ms from the fake pushing a fill event to the journal recording it: buys that fill 0.2 s after
    their answer, so the event (not the order's own answer) is what the journal learns it from."""
    fakes.alpaca.fill_delay = 0.2
    first = len(fakes.alpaca.stream.published)
    for symbol in symbols:
        requests.post(f"{service.url}/webhook?wait=2.5", timeout=10, json={
            "action": "buy", "symbol": symbol, "timeframe": "15", "price": 101, "secret": SECRET})
    fakes.alpaca.fill_delay = 0.0
    pushed = {}
    for message in list(fakes.alpaca.stream.published)[first:]:
        data = message["data"]
        if data["event"] == "fill":
            stamp = datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00")).timestamp()
            pushed[data["order"]["client_order_id"]] = stamp
    with service.journal() as db:
        recorded = dict(db.execute("SELECT client_order_id, updated_at FROM orders WHERE state='filled'"))
    return [(recorded[cid] - at) * 1000 for cid, at in pushed.items() if cid in recorded]


def run(mode: str, alerts: int, latency: float) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"novalgo-latency-{mode}-"))
    fakes = Fakes(workdir / "secrets", alpaca_latency=latency)
    symbols = [f"S{i:03d}" for i in range(alerts)]
    for symbol in symbols:
        fakes.alpaca.add_asset(symbol, 100)
    fakes.create_sheet([[s, "1000", True, "15 Min", "", ""] for s in symbols])
    env = fakes.env()
    if mode != "no stream":
        env["APCA_API_STREAM_URL"] = fakes.alpaca.stream_url
    if mode == "stream refused":
        fakes.alpaca.stream.refuse(True)
    service = RealService(workdir / "data", workers=2, NOVALGO_CONFIG_TTL="60", **env)
    try:
        service.wait_healthy()
        deadline = time.monotonic() + 30
        while requests.get(f"{service.url}/health", timeout=5).json()["active_configs"] != len(symbols):
            if time.monotonic() > deadline:
                raise SystemExit("the service never read the Config tab")
            time.sleep(0.2)
        if mode == "stream":
            fakes.alpaca.stream.wait_listening(timeout=30)
        time.sleep(2)  # let the leader's first passes (reconcile, status writes) settle
        results = {}
        for action in ("buy", "close"):
            to_post, before_post, outcomes = [], [], []
            for symbol in symbols:
                time.sleep(0.1)  # the previous fill's event reaches the leader before the next alert
                start = len(fakes.alpaca.request_log)
                sent = time.monotonic()
                answer = requests.post(f"{service.url}/webhook?wait=2.5", timeout=10, json={
                    "action": action, "symbol": symbol, "timeframe": "15", "price": 100, "secret": SECRET})
                outcomes.append(answer.json().get("outcome") or answer.json().get("status"))
                log = fakes.alpaca.request_log[start:]
                post = next(((t, i) for i, (t, m, p) in enumerate(log) if m == "POST" and p == "/v2/orders"), None)
                if post is not None:
                    to_post.append((post[0] - sent) * 1000)
                    before_post.append(sum(1 for t, m, p in log[:post[1]] if t >= sent))
            results[action] = {"p50": statistics.median(to_post), "p99": percentile(to_post, 0.99),
                               "requests before POST": statistics.mean(before_post),
                               "done": sum(o in ("FILLED", "WAITING") for o in outcomes),
                               "others": {o: outcomes.count(o) for o in set(outcomes) - {"FILLED", "WAITING"}}}
        if mode == "stream":
            results["event to journal"] = event_to_journal(fakes, service, symbols)
        return {"mode": mode, **results}
    finally:
        service.stop()
        fakes.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds every Alpaca call takes")
    parser.add_argument("--modes", default="stream,stream refused,no stream", help="comma-separated")
    args = parser.parse_args()
    print(f"{args.alerts} buy alerts to distinct symbols, one at a time, then a close each; "
          f"every Alpaca call {args.latency * 1000:.0f} ms")
    for mode in args.modes.split(","):
        r = run(mode, args.alerts, args.latency)
        if "event to journal" in r and r["event to journal"]:
            gaps = r["event to journal"]
            print(f"{r['mode']:>15}: fill event pushed → in the journal p50 {statistics.median(gaps):.1f} ms, "
                  f"p99 {percentile(gaps, 0.99):.1f} ms ({len(gaps)} fills)")
        for action in ("buy", "close"):
            a = r[action]
            print(f"{r['mode']:>15}, {action:>5}: webhook sent → order POST arrives p50 {a['p50']:.1f} ms, "
                  f"p99 {a['p99']:.1f} ms; {a['requests before POST']:.2f} broker requests before the POST; "
                  f"{a['done']}/{args.alerts} done" + (f" {a['others']}" if a["others"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
