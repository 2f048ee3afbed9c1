"""10,000 hypothesis-generated webhook requests through the real endpoint under gunicorn.

The service runs as deployed (``novalgo serve``: deploy/gunicorn.conf.py, 2 workers, the leader
trading on the simulated broker). Requests come from the strategies the test suite uses
(tests/support/fuzz_bodies.py): random bytes, unicode, JSON objects with the alert keys and junk
values, huge numbers, deep nesting, text lines, right and wrong secrets, odd paths and
content types. Prints the count per status code, the 5xx count (goal 0) and the orders the
broker received for bodies that were refused (goal 0).

    .venv/bin/python bench/fuzz.py [--requests 10000] [--threads 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.support.fuzz_bodies import FuzzRequest, requests_  # noqa: E402
from tests.support.running_service import RunningService  # noqa: E402

SECRET = "bench-fuzz-secret"
GUNICORN_DRAIN = 64 * 1024


def generate(count: int, rng_seed: int) -> list[FuzzRequest]:
    """``count`` requests drawn by hypothesis (generation only: nothing to shrink here)."""
    drawn: list[FuzzRequest] = []

    @seed(rng_seed)
    @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(requests_(SECRET))
    def draw(request: FuzzRequest) -> None:
        drawn.append(request)

    while len(drawn) < count:  # hypothesis may stop early on duplicates; draw again with a new seed
        draw()
        rng_seed += 1
        draw = seed(rng_seed)(draw)
    return drawn[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    batch = generate(args.requests, args.seed)
    generated_in = time.monotonic() - started
    codes: Counter[int] = Counter()
    accepted: set[str] = set()
    refused_ids: set[str] = set()
    no_error_field = Counter()
    failures = Counter()
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        with RunningService(data_dir, SECRET, workers=2, NOVALGO_MAX_ALERT_AGE="3600") as service:
            def worker(part: list[FuzzRequest]) -> None:
                with requests.Session() as session:
                    for request in part:
                        headers = {"Content-Type": request.content_type} if request.content_type else {}
                        if len(request.body) > GUNICORN_DRAIN:
                            # gunicorn drains at most 64 KB of a body the app did not read, then drops
                            # the keep-alive connection it announced; the next request on it would die.
                            # nginx sends one request per connection anyway, so do as it does here.
                            headers["Connection"] = "close"
                        try:
                            answer = session.post(service.url + request.path, data=request.body, headers=headers,
                                                  timeout=15)
                        except requests.RequestException as e:
                            with lock:
                                failures[type(e).__name__] += 1
                            continue
                        try:
                            payload = answer.json()
                        except ValueError:
                            payload = None
                        with lock:
                            codes[answer.status_code] += 1
                            if answer.status_code >= 400 and not (isinstance(payload, dict) and payload.get("error")):
                                no_error_field[answer.status_code] += 1
                            if answer.status_code in (200, 202) and isinstance(payload, dict) and "alert_id" in payload:
                                accepted.add(payload["alert_id"])

            sending = time.monotonic()
            threads = [threading.Thread(target=worker, args=(batch[i::args.threads],)) for i in range(args.threads)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent_in = time.monotonic() - sending
            settled = service.wait_all_terminal(300)
            with service.journal() as db:
                journalled = {row[0] for row in db.execute("SELECT id FROM alerts")}
                outcomes = Counter(dict(db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall()))
                stuck = db.execute("SELECT symbol, COUNT(*), MAX(reason) FROM alerts WHERE status IN "
                                   "('QUEUED','PROCESSING') GROUP BY symbol").fetchall()
                failed = db.execute("SELECT reason, COUNT(*) FROM alerts WHERE status='FAILED' GROUP BY reason").fetchall()
            refused_ids = journalled - accepted  # journalled although the answer said it was refused
            broker_path = data_dir / "simbroker.sqlite3"
            orders: list[str] = []
            if broker_path.exists():
                with sqlite3.connect(broker_path) as broker:
                    orders = [row[0] for row in broker.execute("SELECT client_order_id FROM orders")]
    order_alerts = {cid.rsplit("-", 2)[1] for cid in orders if cid.startswith("nva-")}
    orders_for_refused = sorted(order_alerts - accepted)
    server_errors = sum(n for code, n in codes.items() if code >= 500)
    print(f"fuzz: {args.requests} requests (seed {args.seed}, generated in {generated_in:.1f}s) through gunicorn, "
          f"{args.threads} clients, sent in {sent_in:.1f}s ({args.requests / sent_in:.0f}/s)")
    print(f"  status codes: {dict(sorted(codes.items()))}; connection failures {dict(failures) or 0}")
    print(f"  4xx without an error field: {sum(no_error_field.values())}")
    print(f"  accepted {len(accepted)}, journalled {len(journalled)} (journalled but refused: {len(refused_ids)}), "
          f"settled {'in %.1fs' % settled if settled is not None else 'NOT in 300s'}; outcomes {dict(outcomes)}")
    for symbol, count, reason in stuck:
        print(f"  still queued: {count} {symbol} alerts ({reason or 'waiting'})")
    for reason, count in failed:
        print(f"  FAILED x{count}: {reason}")
    print(f"  orders at the broker {len(orders)}, for refused bodies {len(orders_for_refused)}")
    ok = (server_errors == 0 and not orders_for_refused and not refused_ids and not no_error_field and not failures
          and settled is not None)
    print(f"VERDICT fuzz: {'OK' if ok else 'FAILED'} — 5xx {server_errors}, orders for refused bodies "
          f"{len(orders_for_refused)}, refused bodies journalled {len(refused_ids)}, accepted alerts "
          f"{'all settled' if settled is not None else 'NOT all settled'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
