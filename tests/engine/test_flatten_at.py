"""Flatten At: the leader's CLOSE at the row's time, journalled once per row and day, resumed after a restart."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from novalgo.engine.flatten import SCHEDULE, FlattenSchedule
from novalgo.engine.journal import Journal
from novalgo.engine.services import JOURNAL_FILE
from tests.support.alerts import alert_body, journal_alert, run_queue

NY = ZoneInfo("America/New_York")
HEADER = ["symbol", "position_size", "active", "Time Frame", "Order Status", "Last Updated", "Flatten At"]


def eastern(day: int, hour: int, minute: int) -> float:
    return datetime(2026, 5, day, hour, minute, tzinfo=NY).timestamp()  # 4 May 2026 is a Monday


def write_config(settings, rows) -> None:
    with open(settings.data_dir / "sheet" / "Config.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])


def schedule(services, clock) -> FlattenSchedule:
    services.config.refresh()
    return FlattenSchedule(services.journal, services.broker, services.config, clock=clock)


def scheduled_closes(services) -> list[dict]:
    return [a for a in services.journal.recent(100) if a["source_ip"] == SCHEDULE]


def test_the_row_is_closed_at_its_time_once_and_the_close_survives_a_restart(services, settings, clock):
    write_config(settings, [["AAPL", "5000", "TRUE", "15 Min", "", "", "15:55"],
                            ["TSLA", "3000", "TRUE", "30 Min", "", "", ""]])
    clock.set(eastern(4, 10, 0))  # the entries go in the morning: after 15:55 the row takes none
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    journal_alert(services, alert_body("buy", "TSLA", "30", 300))
    assert run_queue(services) == ["FILLED", "FILLED"]
    clock.set(eastern(4, 15, 54))

    assert schedule(services, clock).run_once() == [], "the minute before: nothing"
    clock.set(eastern(4, 15, 55))
    queued = schedule(services, clock).run_once()
    assert len(queued) == 1
    close = services.journal.get(queued[0])
    assert (close["action"], close["symbol"], close["timeframe_minutes"], close["status"]) == ("close", "AAPL", 15, "QUEUED")
    assert json.loads(close["body"])["source"] == "schedule"

    # The leader dies while trading it; a new one (a new journal connection, a new schedule) takes over.
    assert services.journal.claim(queued[0])
    restarted = Journal(settings.data_dir / JOURNAL_FILE, sync="normal", clock=clock)
    clock.set(eastern(4, 15, 56))  # the CLOSE is a minute old: not yet past NOVALGO_MAX_ALERT_AGE
    assert FlattenSchedule(restarted, services.broker, services.config, clock=clock).run_once() == []
    assert restarted.resume_interrupted() == 1
    assert run_queue(services) == ["WAITING"]
    assert services.broker.position("AAPL").qty == 0
    assert services.broker.position("TSLA").qty == 10, "a row without Flatten At keeps its position"
    assert len(scheduled_closes(services)) == 1, "one CLOSE per row per day, whatever restarts"


def test_a_row_holding_nothing_needs_no_close_and_the_next_day_is_a_new_day(services, settings, clock):
    write_config(settings, [["AAPL", "5000", "TRUE", "15 Min", "", "", "15:55"]])
    clock.set(eastern(4, 16, 0))
    assert schedule(services, clock).run_once() == []
    # A position the schedule did not see at its time (entries stop at 15:55: this one is dated
    # earlier in the day), found at a later look the same day.
    clock.set(eastern(4, 15, 0))
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    assert run_queue(services) == ["FILLED"]
    clock.set(eastern(4, 16, 1))
    assert schedule(services, clock).run_once() == [], "the day is done: it was flat at its time"
    clock.set(eastern(5, 15, 55))
    assert len(schedule(services, clock).run_once()) == 1


def test_stocks_are_not_flattened_on_a_weekend_but_crypto_is(services, settings, clock):
    write_config(settings, [["AAPL", "5000", "TRUE", "15 Min", "", "", "15:55"],
                            ["BTC/USD", "1000", "TRUE", "15 Min", "", "", "23:00 UTC"]])
    clock.set(eastern(8, 10, 0))  # Friday morning
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    journal_alert(services, alert_body("buy", "BTCUSD", "15", 50000))
    assert run_queue(services) == ["FILLED", "FILLED"]
    clock.set(datetime(2026, 5, 9, 23, 30, tzinfo=ZoneInfo("UTC")))  # Saturday
    queued = schedule(services, clock).run_once()
    assert [services.journal.get(i)["symbol"] for i in queued] == ["BTC/USD"]


def test_a_holiday_is_skipped_when_the_calendar_says_so(services, settings, clock):
    write_config(settings, [["AAPL", "5000", "TRUE", "15 Min", "", "", "15:55"]])
    clock.set(eastern(22, 10, 0))  # the Friday before
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    assert run_queue(services) == ["FILLED"]
    services.config.refresh()
    clock.set(eastern(25, 16, 0))
    closed = FlattenSchedule(services.journal, services.broker, services.config, clock=clock,
                             is_trading_day=lambda day: day.isoformat() != "2026-05-25")  # Memorial Day
    assert closed.run_once() == []


def test_an_unreadable_flatten_time_flattens_nothing_and_breaks_nothing(services, settings, caplog, clock):
    clock.set(eastern(4, 10, 0))
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    run_queue(services)
    write_config(settings, [["AAPL", "5000", "TRUE", "15 Min", "", "", "five to four"]])
    clock.set(eastern(4, 16, 0))
    flatten = schedule(services, clock)
    assert flatten.run_once() == [] and flatten.run_once() == []
    assert sum("Flatten At 'five to four'" in r.message for r in caplog.records) == 1
    assert services.broker.position("AAPL").qty == Decimal(25)


def test_on_an_early_close_the_row_is_flattened_before_that_close(services, settings, clock):
    """The day after Thanksgiving closes at 13:00: a 15:55 Flatten At would send its CLOSE after
    the close, to fill at the next open; it goes five minutes before 13:00 instead."""
    write_config(settings, [["AAPL", "5000", "TRUE", "15 Min", "", "", "15:55"]])
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=NY))
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    assert run_queue(services) == ["FILLED"]
    services.config.refresh()
    early = datetime(2026, 11, 27, 13, 0, tzinfo=NY)
    clock.set(datetime(2026, 11, 27, 12, 54, tzinfo=NY))

    def flattener(close):
        return FlattenSchedule(services.journal, services.broker, services.config, clock=clock,
                               session_close=lambda day: close)

    assert flattener(early).run_once() == []  # 12:54: not yet
    clock.set(datetime(2026, 11, 27, 12, 55, tzinfo=NY))
    normal = datetime(2026, 11, 27, 16, 0, tzinfo=NY)
    assert flattener(normal).run_once() == [], "a regular close changes nothing: 15:55 it is"
    assert len(flattener(early).run_once()) == 1
    assert [a["action"] for a in scheduled_closes(services)] == ["close"]
