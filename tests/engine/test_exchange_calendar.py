"""Trading Hours and early closes by Alpaca's own calendar, end to end: the executor, AlpacaBroker,
alpaca-py and the fake's GET /v2/calendar (which carries 2026's holidays and early closes)."""

from __future__ import annotations

import csv
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.alerts import alert_body, journal_alert, run_queue
from tests.support.alpaca import fake_alpaca_broker
from tests.support.clock import Clock

NY = ZoneInfo("America/New_York")
HEADER = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated",
          "Trading Hours", "Flatten At"]


@pytest.fixture
def services(settings, fake):
    from novalgo.web import create_app

    folder = settings.data_dir / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "Config.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, ["AAPL", "5000", "TRUE", "15 Min", "", "", "09:45-15:30", "15:55"]])
    app = create_app(settings.with_overrides(fill_wait=0.3), broker=fake_alpaca_broker(fake), start_background=False)
    return app.extensions["novalgo"]


def buy_at(services, moment: datetime) -> dict:
    services.guards.clock = Clock(moment.timestamp())
    alert_id = journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    run_queue(services)
    return services.journal.get(alert_id)


def orders_sent(fake) -> int:
    return fake.count("POST", "/v2/orders")


def test_a_saturday_buy_inside_the_hours_is_skipped_and_alpaca_sees_no_order(services, fake):
    alert = buy_at(services, datetime(2026, 12, 12, 10, 0, tzinfo=NY))
    assert (alert["status"], alert["reason"]) == (
        "SKIPPED", "Saturday 12 Dec is not a trading day (Alpaca's calendar): entries are skipped")
    assert orders_sent(fake) == 0


def test_thanksgiving_is_not_a_trading_day_by_alpacas_calendar(services, fake):
    alert = buy_at(services, datetime(2026, 11, 26, 10, 0, tzinfo=NY))
    assert alert["status"] == "SKIPPED"
    assert alert["reason"].startswith("Thursday 26 Nov is not a trading day (Alpaca's calendar)")
    assert orders_sent(fake) == 0


def test_the_day_after_thanksgiving_entries_stop_at_1255(services, fake):
    late = buy_at(services, datetime(2026, 11, 27, 12, 58, tzinfo=NY))
    assert late["status"] == "SKIPPED"
    assert "closes early at 13:00 ET on Friday 27 Nov (Alpaca's calendar)" in late["reason"]
    assert orders_sent(fake) == 0
    early = buy_at(services, datetime(2026, 11, 27, 12, 50, tzinfo=NY))
    assert early["status"] not in ("SKIPPED", "FAILED"), early["reason"]
    assert orders_sent(fake) == 1
    assert fake.count("GET", "/v2/calendar") == 1, "the adapter's month of calendar serves every entry"


def test_when_alpacas_calendar_is_down_weekdays_stand_in_and_the_reason_says_so(services, fake):
    fake.fail("GET", "/v2/calendar", 503, times=10)  # alpaca-py's own retries included
    alert = buy_at(services, datetime(2026, 12, 12, 10, 0, tzinfo=NY))
    assert (alert["status"], alert["reason"]) == (
        "SKIPPED", "Saturday 12 Dec is not a trading day (weekday rule: Alpaca's calendar could not be read): "
        "entries are skipped")
    assert orders_sent(fake) == 0
