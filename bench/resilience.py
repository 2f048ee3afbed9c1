"""Resilience under faults: the real service under gunicorn, faults injected, figures printed.

    .venv/bin/python bench/resilience.py kill           [--alerts 300] [--runs 3]
    .venv/bin/python bench/resilience.py sheets-storm   [--seconds 120] [--rate 2]
    .venv/bin/python bench/resilience.py alpaca-faults  [--alerts 120] [--fraction 0.3]
    .venv/bin/python bench/resilience.py all            (each of the three, defaults)

kill: kill -9 of the leader worker during a burst (local defaults: simulated broker, CSV sheet).
sheets-storm: the Google Sheet backend against the Sheets fake answering 429/503 for the whole
storm while alerts keep coming. alpaca-faults: AlpacaBroker against FakeAlpaca answering 5xx,
or placing the order and answering 5xx or too late, for a fraction of POST /v2/orders.
Each ends with one VERDICT line; the exit code is 1 if any goal (0 lost, 0 doubled) is missed.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from novalgo.domain import statuses  # noqa: E402
from tests.fakes.alpaca_server import FakeAlpaca, Fault  # noqa: E402
from tests.support.running_service import RunningService, write_local_config, write_service_account  # noqa: E402

SECRET = "bench-resilience-secret"
FINAL = tuple(statuses.FINAL)


# -- shared measurements -----------------------------------------------------------------------

def unsettled(service: RunningService) -> int:
    """Alerts that may still change: queued, processing or waiting on the broker."""
    marks = ",".join("?" * len(FINAL))
    with service.journal() as db:
        return db.execute(f"SELECT COUNT(*) FROM alerts WHERE status NOT IN ({marks})", FINAL).fetchone()[0]


def wait_settled(service: RunningService, timeout: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if unsettled(service) == 0:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def journal_ids(service: RunningService) -> set[str]:
    with service.journal() as db:
        return {row[0] for row in db.execute("SELECT id FROM alerts")}


def outcome_counts(service: RunningService) -> Counter:
    with service.journal() as db:
        return Counter(dict(db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall()))


def send_all(service: RunningService, bodies: list[dict], threads: int = 8,
             on_ack=None) -> list[str]:
    """POST every body from ``threads`` clients; the ids of those acknowledged (202/200)."""
    local = threading.local()

    def send(body: dict) -> str | None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            answer = service.post(body, session=session, timeout=10)
        except requests.RequestException:
            return None  # died with its worker before answering: never acknowledged
        if answer.status_code in (200, 202):
            if on_ack is not None:
                on_ack()
            return answer.json()["alert_id"]
        return None

    with ThreadPoolExecutor(threads) as pool:
        return [alert_id for alert_id in pool.map(send, bodies) if alert_id]


def alert_bodies(count: int, symbols: list[str], timeframe: str = "15", price: bool = True) -> list[dict]:
    bodies = []
    for i in range(count):
        body = {"action": ("buy", "sell", "close")[(i // len(symbols)) % 3], "symbol": symbols[i % len(symbols)],
                "timeframe": timeframe, "n": i}
        if price:
            body["price"] = 100 + i % 7
        bodies.append(body)
    return bodies


def legs_by_alert(cids: list[str]) -> Counter:
    """Orders per (alert, leg) from client_order_ids ``nva-<alert>-<leg>``."""
    return Counter(tuple(cid.rsplit("-", 2)[1:]) for cid in cids if cid and cid.startswith("nva-"))


def journal_sent_legs(service: RunningService) -> list[tuple[str, str, str]]:
    """(alert id, client_order_id, state) of every leg the journal handed to the broker."""
    with service.journal() as db:
        return db.execute("SELECT alert_id, client_order_id, state FROM orders "
                          "WHERE state NOT IN ('planned','superseded','void')").fetchall()


def verdict(name: str, ok: bool, text: str) -> bool:
    print(f"VERDICT {name}: {'OK' if ok else 'FAILED'} — {text}", flush=True)
    return ok


# -- kill -9 of the leader -----------------------------------------------------------------------

def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def kill_run(scratch: Path, alerts: int, symbols: list[str], kill_after: int) -> dict:
    data_dir = scratch / "data"
    write_local_config(data_dir, symbols)
    with RunningService(data_dir, SECRET, workers=2) as service:
        leader = service.leader_pid()
        acked = Counter()
        killed: dict[str, float] = {}
        lock = threading.Lock()

        def on_ack() -> None:
            with lock:
                acked["n"] += 1
                if acked["n"] == kill_after and not killed:
                    os.kill(leader, signal.SIGKILL)
                    killed["at"] = time.monotonic()

        burst_started = time.monotonic()
        ids = send_all(service, alert_bodies(alerts, symbols), on_ack=on_ack)
        burst_seconds = time.monotonic() - burst_started
        while "at" not in killed:
            time.sleep(0.01)
        takeover = None
        while time.monotonic() - killed["at"] < 60:
            pid = service.leader_pid()
            if pid and pid != leader and alive(pid):
                takeover = time.monotonic() - killed["at"]
                break
            time.sleep(0.01)
        settled = wait_settled(service, 120)
        all_terminal = time.monotonic() - killed["at"] if settled is not None else None
        known = journal_ids(service)
        with sqlite3.connect(data_dir / "simbroker.sqlite3") as broker:
            fills = [row[0] for row in broker.execute("SELECT client_order_id FROM fills")]
            orders = [row[0] for row in broker.execute("SELECT client_order_id FROM orders")]
            held = {s: Decimal(q) for s, q in broker.execute("SELECT symbol, qty FROM positions")}
        with service.journal() as db:
            last = dict(db.execute(
                "SELECT symbol, action FROM alerts a WHERE seq = (SELECT MAX(seq) FROM alerts b WHERE b.symbol=a.symbol "
                "AND b.status IN ('FILLED','WAITING'))").fetchall())
        wrong_side = [s for s, action in last.items()
                      if not {"buy": held.get(s, 0) > 0, "sell": held.get(s, 0) < 0, "close": held.get(s, 0) == 0}[action]]
        return {
            "sent": alerts, "acknowledged": len(ids), "journalled": len(known), "lost": len(set(ids) - known),
            "doubled": sum(n - 1 for n in Counter(fills).values() if n > 1)
            + sum(n - 1 for n in legs_by_alert(orders).values() if n > 1),
            "orders": len(orders), "wrong_side": len(wrong_side), "burst_s": burst_seconds,
            "takeover_s": takeover, "all_terminal_s": all_terminal, "outcomes": outcome_counts(service),
        }


def bench_kill(args) -> bool:
    symbols = [f"S{i:02d}" for i in range(20)]
    runs = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory() as scratch:
            result = kill_run(Path(scratch), args.alerts, symbols, kill_after=args.alerts // 3)
        runs.append(result)
        print(f"run {n + 1}: sent {result['sent']}, acknowledged {result['acknowledged']}, journalled "
              f"{result['journalled']}, lost {result['lost']}, doubled {result['doubled']}, orders {result['orders']}, "
              f"wrong-side positions {result['wrong_side']}, burst {result['burst_s']:.2f}s, take-over "
              f"{_s(result['takeover_s'])}, all terminal {_s(result['all_terminal_s'])} after the kill; "
              f"outcomes {dict(result['outcomes'])}", flush=True)
    lost = sum(r["lost"] for r in runs)
    doubled = sum(r["doubled"] for r in runs)
    wrong = sum(r["wrong_side"] for r in runs)
    stuck = sum(1 for r in runs if r["all_terminal_s"] is None)
    return verdict("kill", lost == doubled == wrong == stuck == 0,
                   f"{args.runs} runs of kill -9 of the leader after {args.alerts // 3} of {args.alerts} alerts "
                   f"(2 workers): acknowledged median {_median([r['acknowledged'] for r in runs])}, lost {lost}, "
                   f"doubled {doubled}, wrong-side positions {wrong}, take-over median "
                   f"{_median_s([r['takeover_s'] for r in runs])}, all terminal median "
                   f"{_median_s([r['all_terminal_s'] for r in runs])} after the kill")


# -- Sheets 429/503 storm ------------------------------------------------------------------------

SHEET_ID = "1BenchStormSheet"
EMAIL = "novalgo-bench@example-project.iam.gserviceaccount.com"


def sheet_statuses(fake, symbols: list[str]) -> dict[str, str]:
    values = fake.values(SHEET_ID, "Config")
    header = [str(h) for h in values[0]]
    col = header.index("Order Status")
    return {str(row[0]): (str(row[col]) if len(row) > col else "") for row in values[1:] if row and row[0] in symbols}


def expected_statuses(service: RunningService) -> dict[str, str]:
    from novalgo.engine.journal import Journal

    journal = Journal(service.data_dir / "journal.sqlite3", sync="normal")
    try:
        return {symbol: status for symbol, _minutes, status, _when in journal.latest_row_statuses(0)}
    finally:
        journal.close()


def bench_sheets_storm(args) -> bool:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.fakes.sheets_server import SheetsFake

    symbols = [f"S{i:02d}" for i in range(10)]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake = SheetsFake().start()
    fake.add_service_account(EMAIL, key.public_key())
    fake.create_spreadsheet(SHEET_ID, ["Config", "Performance", "Activity"])
    fake.set_values(SHEET_ID, "Config", [["symbol", "position_size", "active", "Time Frame", "Order Status",
                                          "Last Updated"]] + [[s, "1000", True, "15 Min"] for s in symbols])
    try:
        with tempfile.TemporaryDirectory() as scratch:
            credentials = write_service_account(Path(scratch) / "service-account.json", key, EMAIL, fake.token_url)
            service = RunningService(Path(scratch) / "data", SECRET, workers=2, NOVALGO_SHEET_ID=SHEET_ID,
                                     GOOGLE_APPLICATION_CREDENTIALS=str(credentials),
                                     NOVALGO_SHEETS_API_URL=fake.url,
                                     # The wall clock, not the tests' pinned one: the storm's
                                     # window is measured here with time.time().
                                     NOVALGO_CLOCK_START="")
            with service:
                return _storm(args, service, fake, symbols)
    finally:
        fake.stop()


def _storm(args, service: RunningService, fake, symbols: list[str]) -> bool:
    deadline = time.monotonic() + 60
    while set(sheet_statuses(fake, symbols).values()) != {statuses.READY} and time.monotonic() < deadline:
        time.sleep(0.2)  # the leader marks every active row READY first
    warm = send_all(service, alert_bodies(len(symbols), symbols))
    wait_settled(service, 30)
    storm_start = time.time()
    storm_end_at = time.monotonic() + args.seconds
    bodies = iter(alert_bodies(100000, symbols)[len(symbols):])
    sent, acked, settled_in_storm = 0, [], 0
    status_cycle = [429, 503]
    with requests.Session() as session:
        next_switch = 0.0
        while time.monotonic() < storm_end_at:
            if time.monotonic() >= next_switch:  # alternate 429 and 503 every 5 s, no gap between them
                fake.fail_for(min(5.0, storm_end_at - time.monotonic()) + 0.5, status_cycle[0])
                status_cycle.reverse()
                next_switch = time.monotonic() + 5.0
            answer = service.post(next(bodies), session=session)
            sent += 1
            if answer.status_code in (200, 202):
                acked.append(answer.json()["alert_id"])
            time.sleep(1.0 / args.rate)
    fake.end_storm()
    storm_end, storm_end_mono = time.time(), time.monotonic()
    with service.journal() as db:
        marks = ",".join("?" * len(acked))
        settled_in_storm = db.execute(
            f"SELECT COUNT(*) FROM alerts WHERE id IN ({marks}) AND finished_at <= ?", (*acked, storm_end)).fetchone()[0]
        placed_in_storm = db.execute("SELECT COUNT(*) FROM orders WHERE broker_order_id IS NOT NULL AND created_at "
                                     "BETWEEN ? AND ?", (storm_start, storm_end)).fetchone()[0]
    failed_sheet_calls = len([e for e in fake.requests(ok=False) if e["status"] in (429, 503)])
    # After the storm: every row's sheet status catches up with the journal's newest status.
    wait_settled(service, 60)
    caught_up, expected, shown = None, {}, {}
    started = time.monotonic()
    while time.monotonic() - started < args.catch_up:
        expected, shown = expected_statuses(service), sheet_statuses(fake, symbols)
        if all(shown.get(s) == status for s, status in expected.items()):
            caught_up = time.monotonic() - started
            break
        time.sleep(0.5)
    lost = [s for s, status in expected.items() if shown.get(s) != status]
    writes_after = len([e for e in fake.requests("write", ok=True) if e["at"] >= storm_end_mono])
    known = journal_ids(service)
    lost_alerts = len(set(acked + warm) - known)
    print(f"storm {args.seconds:.0f}s of alternating 429/503 on every Sheets call ({failed_sheet_calls} calls refused): "
          f"{sent} alerts sent at {args.rate}/s, {len(acked)} acknowledged, {settled_in_storm} settled and "
          f"{placed_in_storm} orders placed during the storm; after it: sheet caught up in {_s(caught_up)}, "
          f"{writes_after} successful writes, {len(expected)} rows checked, statuses lost {len(lost)} {lost or ''}; "
          f"alerts lost {lost_alerts}; outcomes {dict(outcome_counts(service))}", flush=True)
    return verdict("sheets-storm", placed_in_storm > 0 and not lost and lost_alerts == 0,
                   f"{placed_in_storm} orders placed during a {args.seconds:.0f}s 429/503 storm (trading on the cached "
                   f"Config), statuses in the sheet {_s(caught_up)} after it ended, statuses lost {len(lost)}, "
                   f"alerts lost {lost_alerts}")


# -- Alpaca 5xx and timeouts on order submission ---------------------------------------------------

class FlakyAlpaca(FakeAlpaca):
    """FakeAlpaca where a fraction of POST /v2/orders fail: 5xx before or after placing, or a late answer."""

    def __init__(self, fraction: float, stall: float, seed: int = 7, **kwargs):
        super().__init__(**kwargs)
        self.fraction, self.stall_seconds = fraction, stall
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        if method != "POST" or path != "/v2/orders":
            return super()._take_fault(method, path)
        with self.lock:
            roll = self.rng.random()
            if roll >= self.fraction:
                return None
            kind = self.rng.choice(["5xx", "5xx after placing", "timeout after placing"])
            self.injected[kind] += 1
        status = self.rng.choice([500, 502, 503, 504])
        if kind == "5xx":
            return Fault(method, path, status, 1)
        if kind == "5xx after placing":
            return Fault(method, path, status, 1, place=True)
        return Fault(method, path, None, 1, place=True, stall=self.stall_seconds)


def bench_alpaca_faults(args) -> bool:
    symbols = [f"S{i:02d}" for i in range(12)]
    fake = FlakyAlpaca(args.fraction, args.stall, key_id="PKBENCHKEY", secret_key="bench-alpaca-secret")
    for symbol in symbols:
        fake.add_asset(symbol, 100)
    with fake, tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        write_local_config(data_dir, symbols)
        env = dict(APCA_API_KEY_ID=fake.key_id, APCA_API_SECRET_KEY=fake.secret_key, APCA_API_BASE_URL=fake.url,
                   APCA_API_DATA_URL=fake.url, NOVALGO_MAX_ALERT_AGE="900")
        with RunningService(data_dir, SECRET, workers=2, **env) as service:
            started = time.monotonic()
            ids = []
            for chunk in range(0, args.alerts, len(symbols)):  # waves, as bars close on many charts at once
                ids += send_all(service, alert_bodies(args.alerts, symbols)[chunk:chunk + len(symbols)], threads=4)
                time.sleep(args.wave_gap)
            settled = wait_settled(service, args.alerts * 5)
            elapsed = time.monotonic() - started
            with fake.lock:
                at_fake = [o.get("client_order_id") for o in fake.orders.values()]
            per_leg = legs_by_alert(at_fake)
            doubled = {key: n for key, n in per_leg.items() if n > 1}
            sent_legs = journal_sent_legs(service)
            missing = sorted({alert for alert, cid, _state in sent_legs if cid not in set(at_fake)})
            outcomes = outcome_counts(service)
            with service.journal() as db:
                failed = db.execute("SELECT reason, COUNT(*) FROM alerts WHERE status='FAILED' GROUP BY reason").fetchall()
            known = journal_ids(service)
    posts = fake.count("POST", "/v2/orders")
    calls = fake.total_calls()
    print(f"{args.alerts} alerts to {len(symbols)} symbols, {len(ids)} acknowledged; {posts} POST /v2/orders, faults "
          f"injected {dict(fake.injected)} (fraction {args.fraction}, late answers after {args.stall}s); "
          f"{len(at_fake)} orders at the fake, {len(sent_legs)} legs sent in the journal; all settled "
          f"{_s(settled)} after the last wave ({elapsed:.1f}s in all, {calls} Alpaca calls = {calls / elapsed * 60:.0f}/min "
          f"against the 190/min budget); outcomes {dict(outcomes)}", flush=True)
    for reason, n in failed:
        print(f"  FAILED x{n}: {reason}")
    lost = len(set(ids) - known)
    return verdict("alpaca-faults", not doubled and not missing and lost == 0 and settled is not None,
                   f"{len(ids)} alerts, {len(at_fake)} orders at the fake after {sum(fake.injected.values())} "
                   f"injected faults in {posts} submissions: alerts with more than one order per leg {len(doubled)}, "
                   f"alerts without their order {len(missing)}, alerts lost {lost}")


# -- helpers -----------------------------------------------------------------------------------------

def _s(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f}s"


def _median(values: list) -> str:
    return f"{statistics.median(values):g}" if values else "-"


def _median_s(values: list) -> str:
    known = [v for v in values if v is not None]
    return _s(statistics.median(known)) if len(known) == len(values) and known else "never (some runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    kill = commands.add_parser("kill", help="kill -9 of the leader during a burst")
    kill.add_argument("--alerts", type=int, default=300)
    kill.add_argument("--runs", type=int, default=3)
    storm = commands.add_parser("sheets-storm", help="a Sheets 429/503 storm while alerts keep coming")
    storm.add_argument("--seconds", type=float, default=120.0)
    storm.add_argument("--rate", type=float, default=2.0, help="alerts per second during the storm")
    storm.add_argument("--catch-up", type=float, default=180.0, help="seconds allowed for statuses to land after")
    faults = commands.add_parser("alpaca-faults", help="5xx and late answers on order submission")
    faults.add_argument("--alerts", type=int, default=120)
    faults.add_argument("--fraction", type=float, default=0.3)
    faults.add_argument("--stall", type=float, default=11.0, help="seconds before a late answer (client timeout 10s)")
    faults.add_argument("--wave-gap", type=float, default=1.0)
    commands.add_parser("all", help="the three above with their defaults")
    args = parser.parse_args()
    chosen = {"kill": [bench_kill], "sheets-storm": [bench_sheets_storm], "alpaca-faults": [bench_alpaca_faults],
              "all": [bench_kill, bench_sheets_storm, bench_alpaca_faults]}[args.command]
    if args.command == "all":
        defaults = {bench_kill: ["kill"], bench_sheets_storm: ["sheets-storm"], bench_alpaca_faults: ["alpaca-faults"]}
        results = [fn(parser.parse_args(defaults[fn])) for fn in chosen]
    else:
        results = [chosen[0](args)]
    print(f"machine: {os.cpu_count()} CPUs; {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
