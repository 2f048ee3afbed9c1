"""Threshold alerts: each crossing texted once, not on every 15-minute run."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from analytics import thresholds
from analytics.config import Thresholds
from analytics.journal_view import JournalView, read
from analytics.thresholds import Breach, CrossingState
from novalgo.broker.base import OrderRequest, Position
from novalgo.broker.simulated import SimulatedBroker
from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.engine.journal import Journal
from tests.fakes.slack_server import FakeSlack
from tests.fakes.twilio_server import FakeTwilio
from tests.support.analytics import run
from tests.support.clock import pinned_start, ticking_clock

D = Decimal
NOW = datetime(2025, 6, 3, 15, 0, tzinfo=timezone.utc)


def test_daily_loss_against_the_previous_close():
    assert thresholds.daily_loss(D(96_000), D(100_000), D(3)).key == "daily_loss"
    assert thresholds.daily_loss(D(97_500), D(100_000), D(3)) is None
    assert thresholds.daily_loss(D(50_000), D(100_000), None) is None  # switched off
    assert thresholds.daily_loss(D(50_000), None, D(3)) is None  # no previous close yet


def test_drawdown_from_the_peak():
    breach = thresholds.drawdown(D(88_000), D(100_000), D(10))
    assert breach and "-12.00%" in breach.message
    assert thresholds.drawdown(D(91_000), D(100_000), D(10)) is None


def test_position_share_counts_shorts_by_size_and_names_the_symbol():
    positions = [Position("AAPL", D(100), D(200), D(20_000)), Position("TSLA", D(-150), D(200), D(-30_000)),
                 Position("NVDA", D(1), D(100), None)]
    found = thresholds.position_share(positions, D(100_000), D(25))
    assert [b.key for b in found] == ["position:TSLA"] and "30.0% of equity" in found[0].message


def test_heartbeat_age_and_a_missing_journal():
    fresh = JournalView(True, heartbeat=NOW - timedelta(minutes=3))
    stale = JournalView(True, heartbeat=NOW - timedelta(minutes=42))
    assert thresholds.heartbeat(fresh, NOW, 10) is None
    assert "42 min" in thresholds.heartbeat(stale, NOW, 10).message
    assert thresholds.heartbeat(JournalView(True), NOW, 10).key == "heartbeat"  # never beat
    assert thresholds.heartbeat(JournalView(False), NOW, 10) is None  # no service on this machine


def test_check_all_uses_the_last_close_before_today():
    history = [(date(2025, 6, 2), D(100_000)), (date(2025, 6, 3), D(99_000))]  # today's point is not a close
    found = thresholds.check_all(Thresholds(), now=NOW, equity_now=D(96_500), today=date(2025, 6, 3),
                                 equity_history=history, positions=[], journal=JournalView(False))
    assert [b.key for b in found] == ["daily_loss"]


def test_each_crossing_is_notified_once(tmp_path):
    state = CrossingState(tmp_path / "state.json")
    loss = Breach("daily_loss", "down 4%")
    assert state.new_breaches([loss]) == [loss]
    state.save([loss], [loss], NOW)
    assert state.new_breaches([loss]) == []  # still crossed: quiet
    state.save([loss], [], NOW)
    assert state.new_breaches([loss]) == []
    state.save([], [], NOW)  # recovered: forgotten
    assert state.new_breaches([loss]) == [loss]  # crossed again: notified again


def test_a_breach_not_delivered_is_tried_again(tmp_path):
    state = CrossingState(tmp_path / "state.json")
    loss = Breach("daily_loss", "down 4%")
    state.save([loss], [], NOW)  # every channel failed
    assert state.new_breaches([loss]) == [loss]


# -- the alerts command end to end: a real journal, the simulated broker, Twilio ----------

@pytest.fixture
def twilio():
    with FakeTwilio() as server:
        yield server


def sms_env(twilio):
    return {"TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
            "NOVALGO_TWILIO_API_URL": twilio.url, "NOVALGO_SMS_FROM": "+15005550006",
            "NOVALGO_SMS_TO": "+15551234567", "NOVALGO_NOTIFY_TIMEOUT": "5"}


def failed_alert(journal: Journal, symbol: str, reason: str) -> str:
    body = json.dumps({"action": "buy", "symbol": symbol, "timeframe": "15"})
    alert = parse_alert(read_delivery(body.encode()))
    alert_id, _, _ = journal.add(alert, body, "127.0.0.1", dedupe_window=0)
    journal.finish(alert_id, "FAILED", reason)
    return alert_id


def test_alerts_command_texts_each_crossing_once(workdir, twilio):
    data = workdir / "data"
    clock = [pinned_start().timestamp()]  # where the command's clock starts
    journal = Journal(data / "journal.sqlite3", sync="normal", clock=lambda: clock[0])
    journal.beat()
    env = sms_env(twilio)

    assert run("alerts", env=env).exit_code == 0
    assert twilio.sent == []  # all fine

    failed_alert(journal, "TSLA", "insufficient buying power")
    result = run("alerts", env=env)
    assert result.exit_code == 0, result.output
    assert len(twilio.sent) == 1 and "FAILED" in twilio.sent[0]["body"] and "insufficient buying power" in twilio.sent[0]["body"]
    run("alerts", env=env)
    assert len(twilio.sent) == 1  # the same failure is not texted every 15 minutes

    failed_alert(journal, "NVDA", "asset is not shortable")
    run("alerts", env=env)
    assert len(twilio.sent) == 2 and "not shortable" in twilio.sent[1]["body"]  # a new failure is news

    clock[0] -= 3600  # the executor's last heartbeat is now an hour old
    journal.beat()
    run("alerts", env=env)
    assert len(twilio.sent) == 3 and "heartbeat" in twilio.sent[2]["body"]
    run("alerts", env=env)
    assert len(twilio.sent) == 3
    clock[0] = pinned_start().timestamp()
    journal.beat()
    run("alerts", env=env)  # recovered: the crossing clears
    clock[0] -= 3600
    journal.beat()
    run("alerts", env=env)
    assert len(twilio.sent) == 4 and "heartbeat" in twilio.sent[3]["body"]


def test_oversized_position_and_delivery_failure_retry(workdir, twilio):
    broker = SimulatedBroker(workdir / "data", clock=ticking_clock())
    broker.observe_price("AAPL", D(200))
    broker.submit(OrderRequest("nva-big-0", "AAPL", "buy", qty=D(200)))  # $40,000 of $100,000
    env = {**sms_env(twilio), "NOVALGO_ALERT_POSITION_PCT": "25", "NOVALGO_ALERT_HEARTBEAT_MINUTES": "off"}

    twilio.fail_with = (500, 20500, "Internal Server Error")
    failed = run("alerts", env=env)
    assert failed.exit_code == 8 and twilio.sent == []
    twilio.fail_with = None
    assert run("alerts", env=env).exit_code == 0  # not delivered before, so sent now
    assert len(twilio.sent) == 1 and "AAPL long is 40.0% of equity" in twilio.sent[0]["body"]
    run("alerts", env=env)
    assert len(twilio.sent) == 1


def test_dry_run_sends_nothing_and_remembers_nothing(workdir, twilio):
    journal = Journal(workdir / "data" / "journal.sqlite3", sync="normal", clock=ticking_clock())
    failed_alert(journal, "AMD", "rejected")
    result = run("alerts", "--dry-run", "--json", env=sms_env(twilio))
    data = json.loads(result.stdout)
    assert [b["new"] for b in data["breaches"]] == [True, True]  # the failure, and no heartbeat ever
    assert twilio.sent == [] and not (workdir / "data" / "analytics_state.json").exists()


def test_journal_is_read_only(workdir):
    path = workdir / "data" / "journal.sqlite3"
    clock = ticking_clock()
    journal = Journal(path, sync="normal", clock=clock)
    failed_alert(journal, "AMD", "rejected")
    journal.close()
    before = path.read_bytes()
    view = read(path, clock.now() - timedelta(hours=1))
    assert [f.symbol for f in view.failed] == ["AMD"] and view.heartbeat is None
    assert path.read_bytes() == before


def test_a_crossing_seen_before_any_channel_is_posted_once_a_channel_is_set_up(workdir):
    broker = SimulatedBroker(workdir / "data")
    broker.observe_price("AAPL", D(200))
    broker.submit(OrderRequest("nva-big-0", "AAPL", "buy", qty=D(200)))  # $40,000 of $100,000
    quiet = {"NOVALGO_ALERT_POSITION_PCT": "25", "NOVALGO_ALERT_HEARTBEAT_MINUTES": "off"}

    result = run("alerts", env=quiet)  # no channel configured yet
    assert result.exit_code == 0 and "NEW" in result.output
    state = workdir / "data" / "analytics_state.json"
    assert not state.exists() or json.loads(state.read_text())["active"] == {}  # nothing marked sent

    with FakeSlack() as slack:
        env = {**quiet, "NOVALGO_NOTIFY_SLACK_WEBHOOK": slack.webhook_url}
        assert run("alerts", env=env).exit_code == 0
        (post,) = slack.webhook_posts
        assert "AAPL long is 40.0% of equity" in post["text"]
        run("alerts", env=env)
        assert len(slack.webhook_posts) == 1  # not posted twice


def test_the_check_reads_the_journal_through_its_own_reader_and_cannot_write(workdir):
    import sqlite3

    from novalgo.engine.journal import ReadOnlyJournal

    path = workdir / "data" / "journal.sqlite3"
    journal = Journal(path, sync="normal", clock=lambda: NOW.timestamp())
    alert_id = failed_alert(journal, "AMD", "rejected")
    journal.beat()
    journal.close()
    reader = ReadOnlyJournal(path)
    try:
        assert [(f.alert_id, f.symbol, f.reason) for f in reader.failed_since(NOW.timestamp() - 60)] == \
            [(alert_id, "AMD", "rejected")]
        assert reader.failed_since(NOW.timestamp() + 60) == [] and reader.heartbeat() == NOW.timestamp()
        with pytest.raises(sqlite3.OperationalError):
            reader.set_meta("probe", "1")  # read-only: the cron job never writes the service's file
    finally:
        reader.close()
