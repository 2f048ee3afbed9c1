"""A burst: 300 alerts across 100 Config rows within one second, through gunicorn, against the
loopback fakes of Google Sheets (300 ms a call) and Alpaca (80 ms a call, 200 requests a minute).

Starts both fakes in this process and ``python -m novalgo serve`` (2 workers) configured only by
the deployment's environment variables, sends the burst, waits until every accepted alert is
terminal, then prints what the issue asks for and checks the goals: zero 429s, Sheets under 50
reads and 50 writes a minute, no alert lost, none doubled. Exit status 1 if a goal is missed.

    .venv/bin/python bench/burst.py [--alerts 300] [--symbols 50] [--seed 7] [--after-hours] [--stream]

``--stream``: the service follows the fake's trade_updates stream (APCA_API_STREAM_URL), so
fills arrive as events and positions come from them; the figures then count order polling.

``--after-hours``: the burst arrives with the market closed (a daily strategy's 16:00 alerts);
the market opens once every alert waits at the broker or is settled. Also checked then: zero
rejected orders, every symbol's position on the side its last alert asked for, and Alpaca's
busiest minute within its 200 requests.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from novalgo.domain import statuses  # noqa: E402
from tests.support.e2e import SECRET, SHEET_ID, Fakes, RealService  # noqa: E402

SHEETS_LATENCY = 0.300
ALPACA_LATENCY = 0.080
ALPACA_LIMIT = 200  # Alpaca's requests a minute
SHEETS_GOAL = 50  # reads and writes a minute, each (Google allows about 60)
TIMEFRAMES = ("15 Min", "1 Hour")
TICKERS = ("AAPL MSFT NVDA AMZN GOOGL META TSLA AVGO COST NFLX AMD ADBE PEP CSCO INTC QCOM TXN AMAT "
           "INTU ISRG BKNG MU LRCX ADI PANW KLAC SNPS CDNS MRVL ORLY CTAS MAR ABNB FTNT CRWD WDAY ROP "
           "PCAR ODFL FAST DDOG TEAM ZS IDXX VRSK CSGP ANSS DXCM BIIB ILMN").split()
GIVE_UP = 900.0  # seconds: report rather than wait forever


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def build_alerts(symbols: list[str], count: int, seed: int) -> list[dict]:
    """``count`` alerts spread evenly over every (symbol, timeframe) row, rows interleaved."""
    rng = random.Random(seed)
    rows = [(s, tf) for s in symbols for tf in TIMEFRAMES]
    alerts = []
    for k in range(count):
        symbol, timeframe = rows[k % len(rows)]
        base = 50 + symbols.index(symbol)
        # A cent apart, so a row's repeated action is a new alert, not a duplicate delivery.
        alerts.append({"action": rng.choice(("buy", "sell", "close")), "symbol": symbol,
                       "timeframe": timeframe, "price": round(base + k * 0.01, 2)})
    return alerts


sent_as: dict[str, dict] = {}  # alert id → the alert posted


def send_burst(url: str, alerts: list[dict], within: float) -> tuple[list[float], list[str], Counter]:
    """Post every alert at its slot within ``within`` seconds; (ack ms, accepted ids, answer codes)."""
    acks: list[float] = []
    accepted: list[str] = []
    codes: Counter = Counter()
    lock = threading.Lock()
    sent_as.clear()
    start = time.monotonic() + 0.2

    def post(index: int) -> None:
        slot = start + within * index / len(alerts)
        time.sleep(max(0.0, slot - time.monotonic()))
        began = time.perf_counter()
        try:
            answer = requests.post(f"{url}/webhook", json={**alerts[index], "secret": SECRET}, timeout=10)
        except requests.RequestException as e:
            with lock:
                codes[type(e).__name__] += 1
            return
        took = (time.perf_counter() - began) * 1000
        with lock:
            acks.append(took)
            codes[answer.status_code] += 1
            if answer.status_code == 202:
                accepted.append(answer.json()["alert_id"])
                sent_as[answer.json()["alert_id"]] = alerts[index]

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(post, range(len(alerts))))
    return acks, accepted, codes


def journal_alerts(path: Path) -> dict[str, sqlite3.Row]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return {row["id"]: row for row in db.execute(
            "SELECT seq, id, symbol, row_minutes, status, reason, received_at, finished_at FROM alerts")}
    finally:
        db.close()


def journal_orders(path: Path) -> list[sqlite3.Row]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    db.row_factory = sqlite3.Row
    try:
        return list(db.execute("SELECT client_order_id, alert_id, state FROM orders"))
    finally:
        db.close()


def wait_terminal(journal: Path, accepted: list[str], since: float) -> float | None:
    """Seconds from ``since`` until every accepted alert is final, or None after GIVE_UP."""
    while time.monotonic() - since < GIVE_UP:
        rows = journal_alerts(journal)
        if all(a in rows and rows[a]["status"] in statuses.FINAL for a in accepted):
            return time.monotonic() - since
        time.sleep(0.25)
    return None


def sheet_matches_journal(fakes: Fakes, journal: Path) -> tuple[int, int, list[str]]:
    """(rows whose Order Status is the journal's latest for that row, rows the journal settled, differences)."""
    latest: dict[tuple[str, int], tuple[float, str]] = {}
    for row in journal_alerts(journal).values():
        status = row["status"]
        if status == statuses.EXPIRED and row["reason"].startswith("the earlier order filled"):
            status = statuses.WAITING  # a flip expired after its close: the row shows it flat
        if status in statuses.SHEET_STATUSES and row["row_minutes"] and row["finished_at"]:
            key = (row["symbol"], row["row_minutes"])
            latest[key] = max(latest.get(key, (0.0, "")), (row["finished_at"], status))
    minutes = {"15 Min": 15, "1 Hour": 60}
    shown = {(r["symbol"], minutes.get(r["Time Frame"])): r["Order Status"] for r in fakes.config_rows()}
    differences = [f"{key[0]} {key[1]}: sheet {shown.get(key)!r}, journal {status!r}"
                   for key, (_, status) in latest.items() if shown.get(key) != status]
    return len(latest) - len(differences), len(latest), differences


def busiest_minute(times: list[float]) -> int:
    """The most requests in any 60 s window."""
    ordered, most, first = sorted(times), 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= 60:
            first += 1
        most = max(most, last - first + 1)
    return most


def sides_follow_the_alerts(fakes: Fakes, alerts: list[dict], accepted_alerts: list[dict]) -> list[str]:
    """Symbols whose position is not on the side of their last traded alert (buy long, sell short, close flat)."""
    last: dict[str, str] = {}
    for alert in accepted_alerts:
        last[alert["symbol"]] = alert["action"]
    wrong = []
    for symbol, action in last.items():
        held = fakes.held(symbol)
        want = {"buy": 1, "sell": -1, "close": 0}[action]
        if (held > 0) - (held < 0) != want:
            wrong.append(f"{symbol}: {action} last, holds {held}")
    return wrong


def wait_settled_or_waiting(journal: Path, accepted: list[str], since: float) -> None:
    while time.monotonic() - since < GIVE_UP:
        rows = journal_alerts(journal)
        if all(a in rows and rows[a]["status"] in statuses.SETTLED for a in accepted):
            return
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--symbols", type=int, default=50, help="each traded on two timeframes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--after-hours", action="store_true", help="the burst arrives with the market closed")
    parser.add_argument("--stream", action="store_true", help="the service follows the trade updates stream")
    args = parser.parse_args()
    symbols = TICKERS[: args.symbols]
    workdir = Path(tempfile.mkdtemp(prefix="novalgo-burst-"))
    fakes = Fakes(workdir / "secrets", sheets_latency=SHEETS_LATENCY, alpaca_latency=ALPACA_LATENCY,
                  alpaca_rate_limit=ALPACA_LIMIT)
    for i, symbol in enumerate(symbols):
        fakes.alpaca.add_asset(symbol, 50 + i)
    fakes.create_sheet([[s, "1000", True, tf, "", ""] for s in symbols for tf in TIMEFRAMES])
    service = None
    try:
        env = fakes.env()
        if args.stream:
            env["APCA_API_STREAM_URL"] = fakes.alpaca.stream_url
        service = RealService(workdir / "data", workers=2, **env)
        service.wait_healthy()
        journal = workdir / "data" / "journal.sqlite3"
        deadline = time.monotonic() + 30
        while requests.get(f"{service.url}/health", timeout=5).json()["active_configs"] != 2 * len(symbols):
            if time.monotonic() > deadline:
                raise SystemExit("the service never read the Config tab")
            time.sleep(0.2)

        alerts = build_alerts(symbols, args.alerts, args.seed)
        print(f"{len(alerts)} alerts, {2 * len(symbols)} rows, within 1 s; Sheets {SHEETS_LATENCY * 1000:.0f} ms "
              f"a call, Alpaca {ALPACA_LATENCY * 1000:.0f} ms a call and {ALPACA_LIMIT}/min")
        if args.after_hours:
            fakes.alpaca.market.close()
        began = time.monotonic()
        alpaca_before = len(fakes.alpaca.request_log)
        acks, accepted, codes = send_burst(service.url, alerts, within=1.0)
        sent_in = time.monotonic() - began
        if args.after_hours:
            wait_settled_or_waiting(journal, accepted, began)
            closed_for = time.monotonic() - began
            night_requests = len(fakes.alpaca.request_log) - alpaca_before
            time.sleep(30)  # the night: nothing should be read but the clock
            night_idle = len(fakes.alpaca.request_log) - alpaca_before - night_requests
            fakes.alpaca.market.open()
            print(f"market closed: every alert waiting or settled after {closed_for:.1f} s "
                  f"({night_requests} Alpaca requests); then {night_idle} requests in 30 s of waiting for the open")
        terminal = wait_terminal(journal, accepted, began)
        alpaca_requests = len(fakes.alpaca.request_log) - alpaca_before
        landed_by = time.monotonic() + 30
        matched, settled_rows, differences = sheet_matches_journal(fakes, journal)
        while differences and time.monotonic() < landed_by:
            time.sleep(0.5)
            matched, settled_rows, differences = sheet_matches_journal(fakes, journal)
        statuses_landed = time.monotonic() - began

        rows = journal_alerts(journal)
        lost = [a for a in accepted if a not in rows]
        unsettled = [a for a in accepted if a in rows and rows[a]["status"] not in statuses.FINAL]
        outcomes = Counter(rows[a]["status"] for a in accepted if a in rows)
        at_broker = Counter(o["client_order_id"] for o in fakes.alpaca.orders.values())
        ours = {o["client_order_id"]: o for o in journal_orders(journal)}
        doubled = [cid for cid, n in at_broker.items() if n > 1]
        unknown = [cid for cid in at_broker if cid not in ours]
        stuck = [cid for cid, o in ours.items() if o["state"] == "sending"]
        sheets_reads, sheets_writes = fakes.sheets.busiest_minute("read"), fakes.sheets.busiest_minute("write")
        sheets_429 = sum(1 for e in fakes.sheets.requests() if e["status"] == 429)
        alpaca_429 = fakes.alpaca.rate_limited
        by_path = Counter(f"{m} {p if not p.startswith('/v2/orders/') else '/v2/orders/<id>'}"
                          for _, m, p in fakes.alpaca.request_log[alpaca_before:])

        print(f"sent in {sent_in:.2f} s; answers {dict(codes)}")
        print(f"ack p50 {statistics.median(acks):.1f} ms, p99 {percentile(acks, 0.99):.1f} ms, max {max(acks):.1f} ms")
        print(f"every alert terminal after {terminal:.1f} s" if terminal is not None
              else f"NOT every alert terminal after {GIVE_UP:.0f} s")
        print(f"outcomes: {dict(outcomes.most_common())}")
        print(f"Config statuses matching the journal: {matched}/{settled_rows} rows, {statuses_landed:.1f} s after the burst")
        if differences:
            print("  differ: " + "; ".join(differences[:5]))
        print(f"Sheets busiest minute: {sheets_reads} reads, {sheets_writes} writes "
              f"({len(fakes.sheets.requests())} calls in all)")
        print(f"Alpaca: {alpaca_requests} requests for {len(accepted)} alerts = {alpaca_requests / max(1, len(accepted)):.2f} "
              f"per alert; orders placed {len(fakes.alpaca.orders)}")
        print("  by path: " + ", ".join(f"{path} {n}" for path, n in by_path.most_common(8)))
        print(f"429s received: Sheets {sheets_429}, Alpaca {alpaca_429}")
        sheet_calls = Counter(f"{e['method']} {e['path'].split(SHEET_ID, 1)[-1]}" for e in fakes.sheets.requests())
        print("  Sheets calls: " + ", ".join(f"{path} {n}" for path, n in sheet_calls.most_common(6)))

        rejected = [o for o in fakes.alpaca.orders.values() if o["status"] == "rejected"]
        alpaca_busiest = busiest_minute([t for t, _, _ in fakes.alpaca.request_log[alpaca_before:]])
        print(f"Alpaca busiest minute: {alpaca_busiest} requests; rejected orders: {len(rejected)}")
        polling = sum(n for path, n in by_path.items() if path.startswith("GET /v2/orders"))
        print(f"order reads (polling and look-ups): {polling}" + (f"; stream events sent {fakes.alpaca.stream.events_sent}"
                                                                   if args.stream else ""))
        checks = [
            ("no alert lost (every 202 id journalled and terminal)", not lost and not unsettled and terminal is not None),
            ("none doubled (one order per client_order_id, every order ours, none left in doubt)",
             not doubled and not unknown and not stuck),
            (f"Sheets <= {SHEETS_GOAL}/min each", sheets_reads <= SHEETS_GOAL and sheets_writes <= SHEETS_GOAL),
            ("zero 429s", sheets_429 == 0 and alpaca_429 == 0),
            ("every 202 answered (no refusals, no errors)", codes.get(202, 0) == len(alerts)),
        ]
        if args.after_hours:
            # In the journal's order (the order they were traded in), leaving out alerts never acted on.
            in_order = sorted((a for a in accepted if a in rows), key=lambda a: rows[a]["seq"])
            replayed = [sent_as[a] for a in in_order if rows[a]["status"] not in (statuses.EXPIRED, statuses.DUPLICATE)]
            wrong = sides_follow_the_alerts(fakes, alerts, replayed)
            if wrong:
                print("  wrong side: " + "; ".join(wrong[:5]))
            checks += [("zero rejected orders", not rejected),
                       ("positions follow the alerts replayed in order", bool(replayed) and not wrong),
                       (f"Alpaca busiest minute within {ALPACA_LIMIT}", alpaca_busiest <= ALPACA_LIMIT)]
        for name, ok in checks:
            print(f"{'ok  ' if ok else 'FAIL'} {name}")
        if lost or unsettled or doubled or unknown or stuck:
            print(f"  lost {lost[:5]} unsettled {unsettled[:5]} doubled {doubled[:5]} unknown {unknown[:5]} "
                  f"in doubt {stuck[:5]}")
        return 0 if all(ok for _, ok in checks) else 1
    finally:
        if service is not None:
            service.stop()
        fakes.stop()


if __name__ == "__main__":
    sys.exit(main())
