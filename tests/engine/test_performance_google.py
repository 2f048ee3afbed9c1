"""The Performance tab on a Google Sheet: gspread against the loopback Sheets fake, one write per update."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from novalgo.engine.performance import PerformanceUpdater
from novalgo.settings import Settings
from novalgo.sheet import google_http
from novalgo.sheet.google import GoogleSheetBackend
from novalgo.sheet.google_http import QuotaLimiter, RetryPolicy
from novalgo.sheet.layout import BREAKDOWN_HEADERS, PERFORMANCE_HEADERS
from tests.fakes.sheets_server import SheetsFake
from tests.support.alerts import SECRET, alert_body, journal_alert, run_queue
from tests.support.clock import pinned_start
from tests.support.running_service import write_service_account

SHEET = "1PerformanceSheetForTests"
EMAIL = "novalgo-bot@example-project.iam.gserviceaccount.com"
QUICK = RetryPolicy(tries=5, first_delay=0.01, max_delay=0.05, max_total=1.0)


@pytest.fixture(scope="module")
def key_pair():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def fake(key_pair):
    server = SheetsFake().start()
    server.add_service_account(EMAIL, key_pair.public_key())
    server.create_spreadsheet(SHEET, ["Config", "Performance", "Activity"])
    server.set_values(SHEET, "Config", [
        ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated"],
        ["AAPL", "$5,000", True, "15 Min", "READY"],
        ["AAPL", "2000", True, "1 Hour", "READY"],
    ])
    # An older, longer table: its rows must not survive the rewrite.
    server.set_values(SHEET, "Performance", [["stale"] * 12 for _ in range(30)])
    yield server
    server.stop()


@pytest.fixture
def google_settings(tmp_path, key_pair, fake) -> Settings:
    credentials = write_service_account(tmp_path / "credentials.json", key_pair, EMAIL, fake.token_url)
    return Settings(webhook_secret=SECRET, data_dir=tmp_path / "data", run_background=False, journal_sync="normal",
                    sheet_id=SHEET, google_credentials=credentials, sheets_api_url=fake.url, clock_start=pinned_start())


@pytest.fixture
def google_services(google_settings, monkeypatch):
    from novalgo.web import create_app

    monkeypatch.setattr(google_http.SheetsHTTPClient, "limiter", QuotaLimiter())
    backend = GoogleSheetBackend.from_settings(google_settings, limiter=QuotaLimiter(), retry=QUICK)
    return create_app(google_settings, sheet=backend, start_background=False).extensions["novalgo"]


def test_the_tab_is_rewritten_in_one_write_with_sortable_numbers(google_services, google_settings, fake):
    services = google_services
    for action, timeframe, price in (("buy", "15", 200), ("sell", "60", 210), ("buy", "60", 205), ("close", "15", 204)):
        journal_alert(services, alert_body(action, "AAPL", timeframe, price))
        run_queue(services)
    writes_before = len(fake.requests("write"))

    PerformanceUpdater(services.broker, services.sheet, services.journal, google_settings,
                       clock=services.clock.now).run_once()

    assert len(fake.requests("write")) == writes_before + 1, "one write per update"
    shown = fake.values(SHEET, "Performance")
    assert shown[0] == list(PERFORMANCE_HEADERS)
    assert shown[1][0] == "AAPL" and shown[2][0] == "TOTAL"
    assert shown[4] == list(BREAKDOWN_HEADERS)
    # 15 Min bought 25 @200 and, at the end, closed the 1 Hour row's $2000 long @204 (bought @205).
    assert shown[1][:6] == ["AAPL", "3", "2", "1", "66.7%", "$285.24"]
    assert [row[:7] for row in shown[5:7]] == [["AAPL", "15 Min", "1", "0", "1", "0.0%", "-$9.76"],
                                              ["AAPL", "1 Hour", "2", "2", "0", "100.0%", "$295.00"]]
    leftovers = [cell for row in shown[7:] for cell in row] + [cell for row in shown for cell in row[10:]]
    assert all(cell in ("", None) for cell in leftovers), "the older, longer table is cleared"
    # USER_ENTERED: the trader can sort and sum the figures.
    raw = fake.values(SHEET, "Performance", "UNFORMATTED_VALUE")
    assert raw[6][2:7] == [2, 2, 0, 1, 295]
    assert raw[5][2:7] == [1, 0, 1, 0, -9.76]
