"""Activity rows from journal alert records: one line per outcome, in the trader's zone."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from novalgo.engine.activity import activity_row
from novalgo.sheet.layout import ACTIVITY_HEADERS

RECEIVED = datetime(2025, 10, 10, 22, 30, 0, tzinfo=timezone.utc).timestamp()


def record(**changes) -> dict:
    base = {
        "id": "a1", "received_at": RECEIVED, "action": "SELL", "symbol": "AAPL", "timeframe": "15",
        "timeframe_minutes": 15, "row_timeframe": "15 Min", "price": "250", "status": "FILLED", "reason": "",
        "finished_at": RECEIVED + 0.419,
        # A flip: close the long of 25, then open a short of 20.
        "orders": [
            {"client_order_id": "nva-a1-0", "side": "sell", "qty": "25", "notional": None, "state": "filled",
             "filled_qty": "25", "filled_avg_price": "250.10"},
            {"client_order_id": "nva-a1-1", "side": "sell", "qty": "20", "notional": None, "state": "filled",
             "filled_qty": "20", "filled_avg_price": "249.65"},
        ],
    }
    return {**base, **changes}


def test_headers():
    assert ACTIVITY_HEADERS == ("time", "symbol", "timeframe", "action", "status", "reason", "qty", "fill price",
                                "latency ms")


def test_a_filled_flip_shows_what_traded_at_its_average_price():
    row = activity_row(record(), ZoneInfo("America/Los_Angeles"))
    # The row's Time Frame ("15 Min"), as the Config and Performance tabs write it, not the alert's "15".
    assert row == ["2025-10-10 15:30:00 PDT", "AAPL", "15 Min", "SELL", "FILLED", "", "45", "249.9", "419"]
    assert len(row) == len(ACTIVITY_HEADERS)


def test_a_skipped_alert_has_its_reason_and_no_fill():
    row = activity_row(record(status="ALREADY LONG", reason="already long 25", orders=[], timeframe=None,
                              timeframe_minutes=None), timezone.utc)
    assert row == ["2025-10-10 22:30:00 UTC", "AAPL", "15 Min", "SELL", "ALREADY LONG", "already long 25", "", "",
                   "419"]


def test_an_alert_that_matched_no_row_keeps_its_own_words():
    row = activity_row(record(status="SKIPPED", reason="AAPL 2 Min is not in the Config tab", orders=[],
                              timeframe="2", timeframe_minutes=2, row_timeframe=None), timezone.utc)
    assert row[2] == "2"


def test_the_alerts_view_shape_works_too():
    view = record(received_at="2025-10-10T15:30:00-07:00", finished_at="2025-10-10T15:30:01.200000-07:00",
                  latency_ms=1200, timeframe=None, row_timeframe=None, timeframe_minutes=60)
    row = activity_row(view)
    assert row[0] == "2025-10-10 15:30:00 UTC-07:00"
    assert (row[2], row[8]) == ("60 Min", "1200")


def test_an_unfinished_or_unfilled_alert_leaves_cells_empty():
    row = activity_row(record(status="FAILED", reason="insufficient buying power", finished_at=None, orders=[
        {"client_order_id": "nva-a1-0", "side": "buy", "qty": None, "notional": "5000", "state": "rejected",
         "filled_qty": "0", "filled_avg_price": None}]), timezone.utc)
    assert row[4:] == ["FAILED", "insufficient buying power", "", "", ""]


def test_a_close_the_leader_queued_says_who_sent_it():
    flatten = record(action="close", source_ip="schedule", status="WAITING")
    assert activity_row(flatten, timezone.utc)[3] == "close (schedule)"
    assert activity_row(record(source="guard", action="close"), timezone.utc)[3] == "close (guard)"
    assert activity_row(record(source_ip="203.0.113.9"), timezone.utc)[3] == "SELL"
