"""End to end with the real adapters: ``novalgo serve`` (gunicorn, 2 workers) configured only by the
deployment's environment variables, trading through alpaca-py and writing through gspread to the
loopback fakes of Alpaca and Google Sheets. What the trader sees: positions at the broker and the
Order Status / Last Updated cells of the Config tab.

One service runs for the whole module (starting gunicorn twice costs seconds); each test trades
its own symbol, so none depends on another having run.
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.support.e2e import SHEET_ID, Fakes, RealService

STAMP = "%Y-%m-%d %H:%M:%S"  # Last Updated, without the zone name that follows it
SHEET_ZONE = ZoneInfo("America/Los_Angeles")
FLUSH_WAIT = 10.0  # a status flush comes at most every 3 s; allow for a busy machine


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-adapters")
    fakes = Fakes(root / "secrets")
    fakes.create_sheet([
        ["AAPL", "$5,000", True, "15 Min", "", ""],
        ["MSFT", "2000", True, "15 Min", "", ""],
        ["TSLA", "3000", True, "30 Min", "", ""],
        ["SPY", "1000", False, "1 Day", "", ""],
    ])
    # A short Config TTL (2 s, not 15) so a storm of a few seconds surely meets a refresh.
    service = RealService(root / "data", workers=2, NOVALGO_CONFIG_TTL="2", **fakes.env())
    try:
        yield fakes, service
    finally:
        service.stop()
        fakes.stop()


def config_read(service: RealService) -> dict:
    """/health once the leader has read the Config tab (a moment after its first heartbeat)."""
    deadline = time.monotonic() + 10
    health = service.wait_healthy()
    while health["active_configs"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
        health = service.wait_healthy()
    return health


def wait_for_status(fakes: Fakes, symbol: str, timeframe: str, status: str, timeout: float = FLUSH_WAIT) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        row = fakes.config_row(symbol, timeframe)
        if row["Order Status"] == status or time.monotonic() > deadline:
            return row
        time.sleep(0.1)


def assert_recent(row: dict, fakes: Fakes) -> None:
    """Last Updated is now, in the service's zone (America/Los_Angeles unless configured); the
    service's clock and the fakes' start at the same pinned instant."""
    text = row["Last Updated"]
    assert text[20:] in ("PST", "PDT"), row
    stamp = datetime.strptime(text[:19], STAMP).replace(tzinfo=SHEET_ZONE)
    assert abs((fakes.alpaca.now(SHEET_ZONE) - stamp).total_seconds()) < 60, row


def test_service_reports_paper_trading_on_the_google_sheet(stack):
    fakes, service = stack
    health = config_read(service)
    assert (health["mode"], health["sheet"], health["broker"]) == ("paper", "google", "alpaca")
    assert health["active_configs"] == 3
    assert wait_for_status(fakes, "SPY", "1 Day", "INACTIVE")["Order Status"] == "INACTIVE"
    assert fakes.sheets.grants, "google-auth fetched a token from the token endpoint of the credentials file"


def test_trading_scenario_moves_the_alpaca_position_and_writes_each_status(stack):
    fakes, service = stack
    # Each repeated action carries a new price, as a new bar's alert would (the same body again is a re-delivery).
    steps = [("BUY", 200, 25, "FILLED"), ("BUY", 201, 25, "ALREADY LONG"), ("SELL", 250, -20, "FILLED"),
             ("SELL", 249, -20, "ALREADY SHORT"), ("BUY", 200, 25, "FILLED"), ("CLOSE", 210, 0, "WAITING")]
    stamps = []
    for action, price, position, status in steps:
        # The fake fills at its own price: make it the alert's, so $5,000 buys 25 shares at 200.
        fakes.alpaca.set_price("AAPL", price)
        answer = service.post({"action": action, "symbol": "AAPL", "timeframe": "15 Min", "price": price}, wait=2.5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == status, answer.json()
        assert fakes.held("AAPL") == Decimal(position), (action, price)
        row = wait_for_status(fakes, "AAPL", "15 Min", status)
        assert row["Order Status"] == status, (action, row)
        assert_recent(row, fakes)
        stamps.append(row["Last Updated"])
    assert len(set(stamps)) > 1, "Last Updated moves with each status"
    sides = [(o["side"], o["qty"] or "$" + o["notional"]) for o in fakes.alpaca.orders.values() if o["symbol"] == "AAPL"]
    # Longs are notional, shorts whole shares sized by the alert price, and a flip closes first.
    assert sides == [("buy", "$5000"), ("sell", "25"), ("sell", "20"), ("buy", "20"), ("buy", "$5000"), ("sell", "25")]

    # The Performance tab, rebuilt on demand by an admin on this machine: three winning AAPL trades.
    answer = requests.get(f"{service.url}/performance", timeout=15)
    assert answer.status_code == 200, answer.text
    assert answer.json()["symbols"]["AAPL"]["total_pnl"] == "2500.00"
    tab = fakes.sheets.values(SHEET_ID, "Performance", render="UNFORMATTED_VALUE")
    header = tab[0]
    aapl = dict(zip(header, next(r for r in tab if r and r[0] == "AAPL")))
    assert (aapl["total_trades"], aapl["winning_trades"], aapl["total_pnl"]) == (3, 3, 2500)
    assert fakes.sheets.values(SHEET_ID, "Performance")[1][5] == "$2,500.00", "money shows as money"


def test_a_row_inserted_above_aapl_still_gets_its_status_and_is_left_alone(stack):
    fakes, service = stack
    fakes.alpaca.set_price("AAPL", 200)
    assert fakes.held("AAPL") == 0
    # The service's cached Config still has AAPL one row higher than it will be.
    mine = ["NVDA", "1000", "TRUE", "5 Min", "my note", "keep me"]
    fakes.sheets.insert_rows(SHEET_ID, "Config", fakes.row_number("AAPL", "15 Min"), [mine])
    answer = service.post({"action": "buy", "symbol": "AAPL", "timeframe": "15", "price": 200}, wait=2.5)
    assert answer.json()["outcome"] == "FILLED", answer.text
    assert fakes.held("AAPL") == 25
    row = wait_for_status(fakes, "AAPL", "15 Min", "FILLED")
    assert row["Order Status"] == "FILLED"
    inserted = fakes.config_row("NVDA", "5 Min")
    assert list(inserted.values()) == mine, "the trader's new row is untouched"
    answer = service.post({"action": "close", "symbol": "AAPL", "timeframe": "15", "price": 200}, wait=2.5)
    assert answer.json()["outcome"] == "WAITING" and fakes.held("AAPL") == 0


def test_a_sheets_storm_does_not_stop_orders_and_the_statuses_land_after_it(stack):
    fakes, service = stack
    config_read(service)  # a storm before the very first read leaves nothing to trade on: not this test
    fakes.alpaca.set_price("TSLA", 200)
    storm = 5.0
    fakes.sheets.fail_for(storm, 503)
    storm_starts = time.monotonic()
    storm_ends = storm_starts + storm
    # Wait until the service is retrying a Config refresh against the storm (the TTL is short
    # here), so the alerts below meet a refresh in progress, not a lucky quiet moment.
    deadline = time.monotonic() + storm
    while not [e for e in fakes.sheets.requests("read", ok=False) if e["at"] >= storm_starts and "/values/" in e["path"]]:
        assert time.monotonic() < deadline, "no Config refresh met the storm"
        time.sleep(0.05)

    # Trading goes on from the cached Config while every Sheets call answers 503.
    buy = service.post({"action": "buy", "symbol": "TSLA", "timeframe": "30", "price": 200}, wait=2.5)
    assert buy.json().get("outcome") == "FILLED", buy.text
    assert fakes.held("TSLA") == 15, "$3,000 at 200"
    sell = service.post({"action": "sell", "symbol": "TSLA", "timeframe": "30", "price": 200}, wait=2.5)
    assert sell.json().get("outcome") == "FILLED", sell.text
    assert fakes.held("TSLA") == -15, "closed the long, then shorted whole shares"
    assert time.monotonic() < storm_ends, "both orders went out during the storm"
    assert fakes.config_row("TSLA", "30 Min")["Order Status"] != "FILLED", "nothing could be written yet"

    # After the storm the coalesced statuses land, and nothing was sent twice.
    row = wait_for_status(fakes, "TSLA", "30 Min", "FILLED", timeout=storm + 25)
    assert row["Order Status"] == "FILLED"
    assert_recent(row, fakes)
    failures = [e for e in fakes.sheets.requests(ok=False) if e["at"] >= storm_starts]
    assert failures and {e["status"] for e in failures} == {503}
    assert [o["side"] for o in fakes.alpaca.orders.values() if o["symbol"] == "TSLA"] == ["buy", "sell", "sell"]
