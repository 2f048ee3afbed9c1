"""Alert to order, and a burst: how long from the webhook's send to the first order POST's arrival
at Alpaca, how many broker requests come before it, how many requests an alert costs in a burst
(by route), how fast the webhook acks while the leader trades, and how many orders Alpaca rejects.

Runs ``python -m novalgo serve`` (2 workers) against the loopback fakes with every Alpaca call
taking 50 ms (issue 21).

Latency: for two sets of symbols, one whose alerts carry a price and one whose alerts carry none
(many alert templates have no ``{{close}}``), a BUY from flat, a SELL that flips the long, then a
CLOSE of the short, one alert at a time (each waits for its outcome). A third set holds a long
and the trader's own GTC stop on it when the SELL flips it. Three ways: following the trade
stream, the stream refused (the REST fallback), and no stream configured (``--modes``).

Burst (stream followed): 150 alerts on 75 rows within one second, Alpaca also enforcing its 200
requests a minute. First the ack's quiet figures: alerts one at a time to an inactive row.

    .venv/bin/python bench/latency.py [--alerts 20] [--latency 0.05] [--modes stream] [--burst 150]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from novalgo.domain import statuses  # noqa: E402
from tests.support.e2e import SECRET, Fakes, RealService  # noqa: E402

SIZE = "1000"  # dollars a row: a priced-at-100 asset buys 10 shares
FINAL = set(statuses.FINAL)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def route(method: str, path: str) -> str:
    for prefix in ("/v2/orders/", "/v2/assets/", "/v2/positions/"):
        if path.startswith(prefix):
            return f"{method} {prefix}<id>"
    if path.startswith("/v2/stocks/") or path.startswith("/v1beta3/crypto/"):
        return f"{method} (market data) {path.rsplit('/', 1)[-1]}"
    return f"{method} {path}"


def start_service(workdir: Path, fakes: Fakes, mode: str, rows: int) -> RealService:
    env = fakes.env()
    if mode != "no stream":
        env["APCA_API_STREAM_URL"] = fakes.alpaca.stream_url
    if mode == "stream refused":
        fakes.alpaca.stream.refuse(True)
    service = RealService(workdir / "data", workers=2, NOVALGO_CONFIG_TTL="60", **env)
    service.wait_healthy()
    deadline = time.monotonic() + 30
    while requests.get(f"{service.url}/health", timeout=5).json()["active_configs"] != rows:
        if time.monotonic() > deadline:
            raise SystemExit("the service never read the Config tab")
        time.sleep(0.2)
    if mode == "stream":
        fakes.alpaca.stream.wait_listening(timeout=30)
    time.sleep(2)  # let the leader's first passes (reconcile, status writes) settle
    steady(fakes)
    return service


def steady(fakes: Fakes, quiet_for: float = 8.0, at_most: float = 180.0) -> None:
    """Until the leader has made no asset look-up for ``quiet_for`` seconds (it looks up the Config
    rows' assets ahead of their alerts): the figures are the steady state's, not a cold start's."""
    began = time.monotonic()
    deadline = began + at_most
    while time.monotonic() < deadline:
        last = max((t for t, m, p in fakes.alpaca.request_log if p.startswith("/v2/assets")), default=began)
        if time.monotonic() - last >= quiet_for:
            return
        time.sleep(0.5)


def pace(fakes: Fakes, below: int = 150) -> None:
    """Stay well inside the client's 190 requests a minute: an alert that waits for the budget
    measures the budget, not the path to the order."""
    while sum(1 for t, _, _ in fakes.alpaca.request_log[-below:] if t > time.monotonic() - 60) >= below:
        time.sleep(0.5)


def one_alert(service: RealService, fakes: Fakes, body: dict) -> dict:
    """Send one alert and wait for its outcome: ms to the first order POST, the reads before it."""
    time.sleep(0.1)  # the previous fill's event reaches the leader before the next alert
    pace(fakes)
    start = len(fakes.alpaca.request_log)
    sent = time.monotonic()
    answer = requests.post(f"{service.url}/webhook?wait=2.5", timeout=10, json={**body, "secret": SECRET})
    outcome = answer.json().get("outcome") or answer.json().get("status")
    log = fakes.alpaca.request_log[start:]
    post = next(((t, i) for i, (t, m, p) in enumerate(log) if m == "POST" and p == "/v2/orders"), None)
    if post is None:
        return {"outcome": outcome, "to_post": None, "before": []}
    before = [route(m, p) for t, m, p in log[:post[1]] if t >= sent]
    return {"outcome": outcome, "to_post": (post[0] - sent) * 1000, "before": before}


def latency(mode: str, alerts: int, wire: float) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="novalgo-latency-"))
    fakes = Fakes(workdir / "secrets", alpaca_latency=wire)
    sets = {kind: [f"{kind[0].upper()}{i:03d}" for i in range(alerts)] for kind in ("priced", "unpriced", "stop")}
    for symbols in sets.values():
        for symbol in symbols:
            fakes.alpaca.add_asset(symbol, 100)
    fakes.create_sheet([[s, SIZE, True, "15 Min", "", ""] for symbols in sets.values() for s in symbols])
    service = start_service(workdir, fakes, mode, sum(len(s) for s in sets.values()))
    results: dict = {}
    try:
        for kind in ("priced", "unpriced"):
            for action, label in (("buy", "BUY"), ("sell", "SELL-flip"), ("close", "CLOSE")):
                runs = [one_alert(service, fakes, {"action": action, "symbol": s, "timeframe": "15",
                                                   **({"price": 100} if kind == "priced" else {})})
                        for s in sets[kind]]
                results[(label, kind)] = runs
        for symbol in sets["stop"]:  # a long the trader protects with a GTC stop of their own
            one_alert(service, fakes, {"action": "buy", "symbol": symbol, "timeframe": "15", "price": 100})
            fakes.alpaca.place_order(symbol=symbol, side="sell", type="stop", stop_price="90", qty="10",
                                     time_in_force="gtc", client_order_id=f"own-stop-{symbol}")
        results[("SELL-flip, own stop", "unpriced")] = [
            one_alert(service, fakes, {"action": "sell", "symbol": s, "timeframe": "15"}) for s in sets["stop"]]
        if mode == "stream":
            results["event to journal"] = event_to_journal(fakes, service, sets["priced"])
        results["rejected"] = sum(1 for o in fakes.alpaca.orders.values() if o["status"] == "rejected") + \
            len(fakes.alpaca.orders_refused)
        return results
    finally:
        service.stop()
        fakes.stop()


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


def burst(count: int, rows: int, wire: float, seed: int) -> dict:
    """``count`` alerts on ``rows`` rows within a second, the stream followed; quiet acks first."""
    workdir = Path(tempfile.mkdtemp(prefix="novalgo-burst-"))
    fakes = Fakes(workdir / "secrets", alpaca_latency=wire, alpaca_rate_limit=200)
    symbols = [f"B{i:03d}" for i in range(rows)]
    for i, symbol in enumerate(symbols):
        fakes.alpaca.add_asset(symbol, 50 + i)
    fakes.create_sheet([[s, SIZE, True, "15 Min", "", ""] for s in symbols] + [["QUIET", SIZE, False, "15 Min", "", ""]])
    service = start_service(workdir, fakes, "stream", rows)
    try:
        quiet = []
        for k in range(count):  # one at a time, to a row switched off: only the ack's own work
            began = time.perf_counter()
            requests.post(f"{service.url}/webhook", timeout=10, json={
                "action": "buy", "symbol": "QUIET", "timeframe": "15", "price": 10 + k * 0.01, "secret": SECRET})
            quiet.append((time.perf_counter() - began) * 1000)
            time.sleep(0.02)
        time.sleep(2)
        rng = random.Random(seed)
        alerts = []
        for k in range(count):
            symbol = symbols[k % rows]
            body = {"action": rng.choice(("buy", "sell", "close")), "symbol": symbol, "timeframe": "15"}
            if rng.random() < 0.5:  # half carry a price, a cent apart so none is a duplicate delivery
                body["price"] = round(50 + symbols.index(symbol) + k * 0.01, 2)
            else:
                body["comment"] = f"#{k}"
            alerts.append(body)
        first = len(fakes.alpaca.request_log)
        acks: list[float] = []
        accepted: list[str] = []
        lock = threading.Lock()
        start = time.monotonic() + 0.2

        def post(index: int) -> None:
            time.sleep(max(0.0, start + index / count - time.monotonic()))
            began = time.perf_counter()
            answer = requests.post(f"{service.url}/webhook", json={**alerts[index], "secret": SECRET}, timeout=10)
            with lock:
                acks.append((time.perf_counter() - began) * 1000)
                if answer.status_code == 202:
                    accepted.append(answer.json()["alert_id"])

        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(post, range(count)))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with service.journal() as db:
                marks = ",".join("?" * len(accepted))
                done = db.execute(f"SELECT status FROM alerts WHERE id IN ({marks})", accepted).fetchall()
            if len(done) == len(accepted) and all(s in FINAL for (s,) in done):
                break
            time.sleep(0.5)
        settled = time.monotonic() - start
        log = fakes.alpaca.request_log[first:]
        with service.journal() as db:
            outcomes = Counter(s for (s,) in db.execute(
                f"SELECT status FROM alerts WHERE id IN ({','.join('?' * len(accepted))})", accepted))
        return {"quiet": quiet, "acks": acks, "accepted": len(accepted), "requests": len(log),
                "routes": Counter(route(m, p) for _, m, p in log), "settled": settled, "outcomes": outcomes,
                "rejected": sum(1 for o in fakes.alpaca.orders.values() if o["status"] == "rejected")
                + len(fakes.alpaca.orders_refused),
                "429": fakes.alpaca.rate_limited}
    finally:
        service.stop()
        fakes.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=20, help="symbols in each latency set")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds every Alpaca call takes")
    parser.add_argument("--modes", default="stream", help="comma-separated: stream, stream refused, no stream")
    parser.add_argument("--burst", type=int, default=150, help="alerts in the burst (0: none)")
    parser.add_argument("--rows", type=int, default=75, help="rows the burst is spread over")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args()
    print(f"every Alpaca call {args.latency * 1000:.0f} ms; {args.alerts} symbols a set")
    for mode in filter(None, args.modes.split(",")):
        r = latency(mode, args.alerts, args.latency)
        print(f"== {mode}")
        for key, runs in r.items():
            if not isinstance(key, tuple):
                continue
            label, kind = key
            times = [x["to_post"] for x in runs if x["to_post"] is not None]
            reads = Counter(read for x in runs for read in x["before"])
            outcomes = Counter(x["outcome"] for x in runs)
            print(f"  {label:>20} {kind:>8}: alert → first order POST p50 {statistics.median(times) if times else float('nan'):6.1f} ms, "
                  f"p99 {percentile(times, 0.99):6.1f} ms; requests before it {sum(reads.values()) / max(1, len(runs)):.2f} "
                  f"{dict(reads) if reads else ''}; {dict(outcomes)}")
        gaps = r.get("event to journal")
        if gaps:
            print(f"  fill event pushed → in the journal p50 {statistics.median(gaps):.1f} ms, "
                  f"p99 {percentile(gaps, 0.99):.1f} ms ({len(gaps)} fills)")
        print(f"  orders rejected or refused at Alpaca: {r['rejected']}")
    if args.burst:
        b = burst(args.burst, args.rows, args.latency, args.seed)
        print(f"== burst: {args.burst} alerts on {args.rows} rows within 1 s, stream followed, Alpaca 200/min")
        print(f"  ack quiet p50 {statistics.median(b['quiet']):.1f} ms, p99 {percentile(b['quiet'], 0.99):.1f} ms; "
              f"during the burst p50 {statistics.median(b['acks']):.1f} ms, p99 {percentile(b['acks'], 0.99):.1f} ms "
              f"({percentile(b['acks'], 0.99) / percentile(b['quiet'], 0.99):.1f}× quiet)")
        print(f"  Alpaca: {b['requests']} requests for {b['accepted']} alerts = {b['requests'] / max(1, b['accepted']):.2f} "
              f"per alert; every alert final after {b['settled']:.1f} s; 429s {b['429']}; rejected {b['rejected']}")
        print("  by route: " + ", ".join(f"{r} {n}" for r, n in b["routes"].most_common()))
        print(f"  outcomes: {dict(b['outcomes'].most_common())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
