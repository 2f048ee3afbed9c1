"""Commands through the real leader: its own threads answer Telegram and carry out Slack's actions,
while alerts keep trading; a Telegram that hangs delays no order."""

from __future__ import annotations

from novalgo.domain.guards import parse_settings_tab
from novalgo.engine.background import Background
from novalgo.engine.commands import Action, ActionQueue
from novalgo.engine.services import JOURNAL_FILE, build_services
from novalgo.settings import ChatSettings, NotifySettings
from tests.engine.test_background import journal, wait_until
from tests.support.alerts import alert_body


def leader_settings(settings, telegram, **chat):
    return settings.with_overrides(
        notify=NotifySettings(telegram_token=telegram.token, telegram_chat=telegram.chat_id,
                              telegram_api_url=telegram.url, timeout=5, every=0.2),
        chat=ChatSettings(telegram_poll=1, slack_signing_secret="slack-signing-secret-for-tests", **chat))


def test_the_leader_answers_telegram_and_does_what_slack_queued(settings, telegram):
    services = build_services(leader_settings(settings, telegram))
    background = Background(services)
    background.start()
    try:
        telegram.say("/status")
        assert wait_until(lambda: any(t.startswith("Trading: ON") for t in telegram.texts), timeout=15)

        queue = ActionQueue(settings.data_dir / JOURNAL_FILE, clock=services.clock)  # as the web worker would
        queue.add(Action("pause", None, "slack:U0BOSS", "slack:t1:U0BOSS"))
        assert wait_until(lambda: parse_settings_tab(services.sheet.read_settings())[0].paused, timeout=15)
        alert = journal(services, alert_body("buy", "AAPL", "15", 200))
        assert wait_until(lambda: services.journal.status_of(alert) == "SKIPPED", timeout=15)
        assert wait_until(lambda: any("Paused: trading is off" in t and "(from slack:U0BOSS)" in t
                                      for t in telegram.texts), timeout=15), "the channels are told who paused"
    finally:
        background.stop()


def test_a_telegram_that_hangs_delays_no_order(settings, telegram):
    telegram.hang(3, seconds=4)  # every poll and send waits, then fails
    services = build_services(leader_settings(settings, telegram))
    background = Background(services)
    background.start()
    try:
        telegram.say("/status")
        assert wait_until(lambda: telegram.attempts >= 1, timeout=5), "the bot is stuck in a hanging poll"
        alert = journal(services, alert_body("buy", "AAPL", "15", 200))
        assert wait_until(lambda: services.journal.status_of(alert) == "FILLED", timeout=3)
        assert not telegram.texts
    finally:
        background.stop()


def test_the_leader_runs_only_the_command_threads_something_needs(settings, telegram):
    from novalgo.engine.chat_wiring import chat_loops

    def names(**chat):
        return [name for name, _, _ in chat_loops(build_services(settings.with_overrides(chat=ChatSettings(**chat))))]
    assert names() == []
    assert names(discord_public_key="ab" * 32) == ["novalgo-chat-actions", "novalgo-chat-positions"]
    with_telegram = build_services(leader_settings(settings, telegram, telegram_commands=False))
    assert [name for name, _, _ in chat_loops(with_telegram)] == ["novalgo-chat-actions", "novalgo-chat-positions"]
