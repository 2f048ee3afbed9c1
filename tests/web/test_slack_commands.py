"""Slack's /novalgo: only Slack's signature is obeyed, anyone may ask, listed users may act, and
the answer comes from stored state (no Alpaca, no Google on the request path) while the leader
carries the action out."""

from __future__ import annotations

from datetime import datetime, timezone
from itertools import count

import pytest

from novalgo.domain.guards import parse_settings_tab
from novalgo.engine.chat_wiring import leader_desk
from novalgo.engine.commands import CHAT
from novalgo.settings import ChatSettings
from novalgo.web import create_app
from tests.fakes.slack_commands import SIGNING_SECRET, command_body, signature, signed
from tests.support.alerts import alert_body, journal_alert, run_queue
from tests.support.clock import Clock

NOW = int(datetime(2026, 5, 4, 17, 0, tzinfo=timezone.utc).timestamp())
BOSS, VISITOR = "U0BOSS", "U0VISIT"
_triggers = count(1)


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def app(settings, clock):
    app = create_app(settings.with_overrides(chat=ChatSettings(slack_signing_secret=SIGNING_SECRET,
                                                               slack_allowed=(BOSS,))), start_background=False)
    app.extensions["novalgo.clock"] = clock
    return app


@pytest.fixture
def leader(services, clock):
    """What the leader runs for Slack: the positions it keeps, and the queued actions it carries out."""
    desk, switchboard, positions, queue = leader_desk(services, clock)
    services.journal.set_meta("executor_heartbeat", str(clock.now))  # the leader is alive
    return positions, lambda: queue.run_once(switchboard.perform)


def slack(client, clock, text, user=VISITOR, **override):
    body = command_body(text, user, trigger_id=f"trigger-{next(_triggers)}")
    headers = signed(body, int(clock.now))
    headers.update(override)
    return client.post("/slack/command", data=body, headers=headers)


def say(client, clock, text, user=VISITOR) -> str:
    answer = slack(client, clock, text, user)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["response_type"] == "ephemeral"
    return answer.json["text"]


@pytest.fixture
def no_outside_calls(services, monkeypatch):
    """The request path must not touch Alpaca or Google: any broker or sheet read fails the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the Slack request path called the broker or the sheet")
    for name in ("positions", "position", "account", "fills_after", "held_now"):
        monkeypatch.setattr(services.broker, name, forbidden)
    monkeypatch.setattr(services.sheet, "write_statuses", forbidden)


def test_anyone_may_ask_for_status_answered_from_stored_state(client, services, clock, leader, monkeypatch):
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    assert run_queue(services) == ["FILLED"]
    positions, _ = leader
    positions.refresh()  # the leader's read, kept for the web workers
    clock.now += 45
    for name in ("positions", "position", "account", "fills_after"):
        monkeypatch.setattr(services.broker, name, lambda *a, **k: pytest.fail("Alpaca called on the request path"))

    status = say(client, clock, "status")
    assert status.splitlines()[:2] == ["Trading: ON", "AAPL 15 Min: long 25, FILLED"]
    assert status.splitlines()[-1] == "Positions as of 10:00:00", "a reading 45 s old says when it was read"
    assert say(client, clock, "positions").startswith("AAPL: long 25 @ $200.00")
    assert "BUY AAPL 15 Min: FILLED" in say(client, clock, "alerts 1")  # a note may follow after hours
    assert say(client, clock, "pnl") == "Realised P&L today: no closed trades."
    assert say(client, clock, "").startswith("/novalgo status – "), "a bare /novalgo gets the list"


@pytest.mark.parametrize("case", ["no signature", "wrong secret", "tampered body", "old", "future", "bad stamp"])
def test_a_request_not_signed_by_slack_gets_401_and_does_nothing(client, services, clock, case, leader):
    body = command_body("pause", BOSS)
    headers = signed(body, NOW)
    if case == "no signature":
        headers.pop("X-Slack-Signature")
    elif case == "wrong secret":
        headers["X-Slack-Signature"] = signature("not-the-secret", NOW, body)
    elif case == "tampered body":
        body = command_body("flatten confirm", BOSS)
    elif case == "old":
        clock.now = NOW + 301  # a replay more than five minutes later
    elif case == "future":
        clock.now = NOW - 301
    elif case == "bad stamp":
        headers["X-Slack-Request-Timestamp"] = "yesterday"
    answer = client.post("/slack/command", data=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json == {"error": "invalid signature"}
    _, run_actions = leader
    assert run_actions() == 0, "nothing was queued"
    assert not parse_settings_tab(services.sheet.read_settings())[0].paused


def test_a_request_four_minutes_old_is_still_slacks(client, clock):
    body = command_body("help", VISITOR)
    headers = signed(body, NOW)
    clock.now = NOW + 240
    assert client.post("/slack/command", data=body, headers=headers).status_code == 200


def test_only_listed_users_may_act(client, services, clock, leader, no_outside_calls):
    for text in ("pause", "resume AAPL", "flatten", "flatten confirm"):
        assert say(client, clock, text, VISITOR) == \
            "Only listed people may pause, resume or flatten. Ask for status any time."
    _, run_actions = leader
    assert run_actions() == 0


def test_a_pause_is_queued_and_the_leader_writes_the_sheet(client, services, clock, leader, no_outside_calls):
    assert say(client, clock, "pause AAPL", BOSS) == \
        "OK, pause AAPL: queued, the bot does it within seconds."
    assert say(client, clock, "pause", BOSS).startswith("OK, pause all entries: ")
    assert services.config.snapshot().find("AAPL", 15).active, "nothing is done on the request path"

    _, run_actions = leader
    assert run_actions() == 2
    assert not services.config.snapshot().find("AAPL", 15).active
    assert parse_settings_tab(services.sheet.read_settings())[0].paused
    notices = [row["text"] for row in services.journal._db().execute("SELECT text FROM outbox WHERE kind='chat'")]
    assert notices == [
        "Paused AAPL (15 Min): active is off, its alerts are INACTIVE until you resume it. (from slack:U0BOSS)",
        "Paused: trading is off on the Settings tab. New entries are SKIPPED; closes and exits still go. "
        "(from slack:U0BOSS)"]
    assert run_actions() == 0, "each action is done once"


def test_flatten_asked_and_confirmed_over_slack(client, services, clock, leader):
    journal_alert(services, alert_body("buy", "TSLA", "30", 300))
    run_queue(services)
    positions, run_actions = leader
    positions.refresh()
    assert say(client, clock, "flatten", BOSS) == \
        "Close everything (held: TSLA)? Send /novalgo flatten confirm within 60 s."
    clock.now += 59
    assert say(client, clock, "flatten confirm", BOSS).startswith("OK, flatten everything: ")
    assert run_actions() == 1
    assert [a["symbol"] for a in services.journal.recent(5) if a["source_ip"] == CHAT] == ["TSLA"]
    assert run_queue(services) == ["WAITING"]
    assert services.broker.position("TSLA").qty == 0


def test_an_action_the_leader_finds_stale_is_not_done(client, services, clock, leader):
    clock.now += 20  # no heartbeat for 20 s: the executor is down
    assert say(client, clock, "pause", BOSS) == (
        "OK, pause all entries: queued, the bot does it within seconds. But the bot's executor is not running "
        "now: it is done only if it is back within 5 minutes.")
    clock.now += 301  # the leader was away for five minutes
    _, run_actions = leader
    assert run_actions() == 1
    assert not parse_settings_tab(services.sheet.read_settings())[0].paused


def test_slack_commands_are_off_without_a_signing_secret(settings, clock):
    client = create_app(settings, start_background=False).test_client()
    body = command_body("status", BOSS)
    assert client.post("/slack/command", data=body, headers=signed(body, NOW)).status_code == 404


def test_with_a_google_sheet_answers_read_the_tabs_the_leader_saved(client, services, clock, leader, monkeypatch):
    services.sheet.write_statuses([(("AAPL", 15), "FILLED", "now")])
    services.config.refresh()  # the leader's reads, saved beside the journal
    services.guards.tab.refresh()
    monkeypatch.setattr(services.sheet, "kind", "google", raising=False)
    for name in ("read_config", "read_settings"):
        monkeypatch.setattr(services.sheet, name, lambda: pytest.fail("the sheet was read on the request path"))
    status = say(client, clock, "status")
    assert status.splitlines()[:2] == ["Trading: ON", "AAPL 15 Min: flat, FILLED"]
