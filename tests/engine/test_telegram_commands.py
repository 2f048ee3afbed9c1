"""Commands from Telegram: the leader's bot long-polls the Bot API fake, obeys only listed chats,
acts through the sheet and the executor, answers each command once (across restarts), and waits
out a Telegram that is down without losing an answer."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from novalgo.broker.base import Fill
from novalgo.domain.guards import parse_settings_tab
from novalgo.engine.chat_wiring import leader_desk
from novalgo.engine.commands import CHAT
from novalgo.engine.telegram_bot import OFFSET_KEY, TelegramBot
from novalgo.settings import ChatSettings, NotifySettings
from novalgo.web import create_app
from tests.support.alerts import alert_body, journal_alert, run_queue
from tests.support.clock import Clock

STRANGER = 9999
OTHER_CHAT = "424242"  # a private chat with a listed user
LISTED_USER = 555
NOW = datetime(2026, 5, 4, 17, 0, tzinfo=timezone.utc).timestamp()  # a Monday, 10:00 in Los Angeles


@pytest.fixture
def chat_settings(settings, telegram):
    return settings.with_overrides(
        notify=NotifySettings(telegram_token=telegram.token, telegram_chat=telegram.chat_id,
                              telegram_api_url=telegram.url, timeout=5),
        chat=ChatSettings(telegram_poll=0, telegram_allowed=(str(LISTED_USER),)))


@pytest.fixture
def services(chat_settings):
    return create_app(chat_settings, start_background=False).extensions["novalgo"]


@pytest.fixture
def clock():
    return Clock(NOW)


def new_bot(services, clock) -> TelegramBot:
    """The leader's bot, as a (re)started leader builds it."""
    desk = leader_desk(services, clock)[0]
    return TelegramBot(services.work_journal, desk, services.settings, clock=clock, backoff=(2.0, 60.0))


def ask(telegram, bot, text, **who) -> list[str]:
    """Type a message now (the bot's clock); its one poll answers it; returns what came back."""
    before = len(telegram.messages)
    who.setdefault("date", bot.clock())
    telegram.say(text, **who)
    bot.run_once()
    return [m["text"] for m in telegram.messages[before:]]


def held(services, symbol):
    return services.broker.position(symbol).qty


def test_status_is_answered_once_and_not_again_after_a_restart(services, telegram, clock):
    bot = new_bot(services, clock)
    update_id = telegram.say("/status")
    assert bot.run_once() == 1
    [answer] = telegram.texts
    assert answer.startswith("Trading: ON\nAAPL 15 Min: flat, ")
    assert "Today: $0.00 realised (0 trades)" in answer
    assert services.work_journal.get_meta(OFFSET_KEY) == str(update_id + 1)

    assert bot.run_once() == 0
    restarted = new_bot(services, clock)
    assert restarted.run_once() == 0
    assert telegram.texts == [answer], "answered once, whatever restarts"
    assert int(telegram.polls[-1]["offset"]) == update_id + 1, "the next poll confirms it to Telegram"


def test_strangers_get_no_answer_and_are_logged(services, telegram, clock, caplog):
    bot = new_bot(services, clock)
    telegram.chats.add(OTHER_CHAT)
    with caplog.at_level(logging.WARNING, "novalgo.engine.telegram_bot"):
        assert ask(telegram, bot, "/flatten", chat_id="31337", user_id=STRANGER) == []
    assert "ignored /flatten from chat 31337, user 9999" in caplog.text
    assert services.work_journal.get_meta("chat:flatten-asked:telegram:31337") is None

    assert ask(telegram, bot, "/help", chat_id=OTHER_CHAT, user_id=LISTED_USER)[0].startswith("/status – ")
    assert ask(telegram, bot, "/help", user_id=STRANGER)[0].startswith("/status"), \
        "anyone in the notification chat is obeyed: the chat is listed"
    assert ask(telegram, bot, "just chatting", user_id=LISTED_USER) == [], "not a command: no answer"
    assert ask(telegram, bot, "/sell everything")[0].splitlines()[0] == "I don't know '/sell'."


def test_pause_and_resume_everything_through_the_settings_tab(services, telegram, clock):
    bot = new_bot(services, clock)
    [answer] = ask(telegram, bot, "/pause")
    assert answer.startswith("Paused: trading is off on the Settings tab.")
    assert parse_settings_tab(services.sheet.read_settings())[0].paused, "the sheet shows it"
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    assert run_queue(services) == ["SKIPPED"]
    assert services.journal.recent(1)[0]["reason"] == "entries are paused: trading is off on the Settings tab"
    assert ask(telegram, bot, "/status")[0].startswith("Trading: OFF – trading is off on the Settings tab")

    assert ask(telegram, bot, "/resume") == ["Resumed: trading is on; entries go again."]
    journal_alert(services, alert_body("buy", "AAPL", "15", 201))
    assert run_queue(services) == ["FILLED"]


def test_pause_one_symbol_unticks_its_rows(services, telegram, clock):
    bot = new_bot(services, clock)
    assert ask(telegram, bot, "/pause tsla") == [
        "Paused TSLA (30 Min): active is off, its alerts are INACTIVE until you resume it."]
    journal_alert(services, alert_body("buy", "TSLA", "30", 300))
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    assert run_queue(services) == ["INACTIVE", "FILLED"]
    assert ask(telegram, bot, "/pause NVDA") == ["No Config row trades NVDA: nothing changed."]
    assert ask(telegram, bot, "/resume TSLA") == ["Resumed TSLA (30 Min): active again."]
    journal_alert(services, alert_body("buy", "TSLA", "30", 301))
    assert run_queue(services) == ["FILLED"]


def test_flatten_asks_then_closes_through_the_executor(services, telegram, clock):
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    journal_alert(services, alert_body("buy", "TSLA", "30", 300))
    assert run_queue(services) == ["FILLED", "FILLED"]
    bot = new_bot(services, clock)

    assert ask(telegram, bot, "/flatten") == [
        "Close everything (held: AAPL, TSLA)? Send /flatten confirm within 60 s."]
    assert services.journal.queue_depth() == 0, "nothing is closed on the question"
    clock.now += 30
    [answer] = ask(telegram, bot, "/flatten confirm")
    assert answer == "Closing AAPL, TSLA: a CLOSE each, through the executor."
    closes = [a for a in services.journal.recent(10) if a["source_ip"] == CHAT]
    assert sorted(a["symbol"] for a in closes) == ["AAPL", "TSLA"]
    assert run_queue(services) == ["WAITING", "WAITING"]  # the CLOSE's status once it has flattened
    assert held(services, "AAPL") == held(services, "TSLA") == 0
    assert ask(telegram, bot, "/flatten confirm")[0].startswith("Nothing to confirm"), "a confirmation is used once"
    assert services.journal.queue_depth() == 0


def test_a_confirmation_after_sixty_seconds_does_nothing(services, telegram, clock):
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    run_queue(services)
    bot = new_bot(services, clock)
    assert ask(telegram, bot, "/flatten AAPL") == ["Close AAPL (held: AAPL)? Send /flatten confirm within 60 s."]
    clock.now += 61
    assert ask(telegram, bot, "/flatten confirm") == [
        "Nothing to confirm: send /flatten first, then /flatten confirm within 60 s."]
    assert services.journal.queue_depth() == 0
    assert held(services, "AAPL") == 25


def test_a_restart_mid_conversation_keeps_the_question_and_the_offset(services, telegram, clock):
    journal_alert(services, alert_body("buy", "HOOD", "45", 20))
    run_queue(services)
    first = new_bot(services, clock)
    ask(telegram, first, "/flatten HOOD")

    clock.now += 20  # the leader restarts between the question and the answer
    restarted = new_bot(services, clock)
    assert ask(telegram, restarted, "/flatten confirm") == ["Closing HOOD: a CLOSE each, through the executor."]
    assert len(telegram.texts) == 2, "the question was not asked again"
    assert run_queue(services) == ["WAITING"]
    assert held(services, "HOOD") == 0


def test_an_action_typed_while_the_bot_was_away_is_not_done(services, telegram, clock):
    bot = new_bot(services, clock)
    assert ask(telegram, bot, "/pause", date=clock.now - 3600) == [
        "Not done: that /pause was sent 60 min ago, while the bot was away. Send it again if you still want it."]
    assert not parse_settings_tab(services.sheet.read_settings())[0].paused
    assert ask(telegram, bot, "/status", date=clock.now - 3600)[0].startswith("Trading: ON"), "a read is still answered"


def test_positions_pnl_and_alerts(services, telegram, clock):
    journal_alert(services, alert_body("buy", "AAPL", "15", 200))
    run_queue(services)
    bot = new_bot(services, clock)
    assert ask(telegram, bot, "/positions") == ["AAPL: long 25 @ $200.00, worth $5,000.00, open P&L $0.00"]

    # Fills as the Performance tab stores them; times from the test's clock, not the machine's.
    def fill(n, side, qty, price, hours_ago):
        at = datetime.fromtimestamp(clock.now - hours_ago * 3600, timezone.utc)
        return Fill(at, "TSLA", side, Decimal(qty), Decimal(price), f"order-{n}", None, f"fill-{n}")
    fills = [fill(1, "buy", 10, 100, 72), fill(2, "sell", 10, 90, 48), fill(3, "buy", 10, 100, 2),
             fill(4, "sell", 10, 112.5, 1)]
    services.work_journal.add_fills("simulated", fills)
    assert ask(telegram, bot, "/pnl") == ["Realised P&L today: +$125.00 (1 trade, 1 won)\nTSLA: +$125.00 (1)"]
    assert ask(telegram, bot, "/pnl 7")[0].startswith("Realised P&L the last 7 days: +$25.00 (2 trades, 1 won)")
    assert "Today: +$125.00 realised (1 trade)" in ask(telegram, bot, "/status")[0]
    [alerts] = ask(telegram, bot, "/alerts 1")
    assert "BUY AAPL 15 Min: FILLED" in alerts  # the simulator adds a note outside regular hours


def test_telegram_down_then_rate_limited_loses_no_answer(services, telegram, clock, caplog):
    bot = new_bot(services, clock)
    telegram.fail(1, 502)
    telegram.say("/help")
    assert bot.run_once() == 0
    assert bot.next_try == clock.now + 2.0
    assert bot.run_once() == 0 and telegram.attempts == 1, "it waits: no request before its time"
    clock.now += 2
    telegram.rate_limit(1, retry_after=7)
    assert bot.run_once() == 0
    assert bot.next_try == clock.now + 7, "Telegram's retry_after, not our guess"
    clock.now += 7

    # The poll works, the answer's send is refused: kept, sent on the next turn, never answered twice.
    real_send = bot._send
    calls = []

    def flaky_send(chat_id, text):
        calls.append(text)
        if len(calls) == 1:
            from novalgo.channels import ChannelError
            raise ChannelError("telegram: cannot reach the service: timed out")
        return real_send(chat_id, text)
    bot._send = flaky_send
    assert bot.run_once() == 1
    assert telegram.texts == []
    clock.now += 1
    assert bot.run_once() == 0, "its turn has not come"
    clock.now += 1
    bot.run_once()
    assert len(telegram.texts) == 1 and telegram.texts[0].startswith("/status – ")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("novalgo"))
    assert "telegram commands: telegram: cannot reach the service" in ours
    assert telegram.token not in ours
