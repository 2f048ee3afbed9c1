"""The notifications outbox against each channel's wire-level fake: every notice arrives once,
a burst shares a message, a channel that is down only falls behind, nothing secret goes out,
and what was not delivered before a restart is delivered after it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from novalgo.domain import statuses
from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.engine.journal import Journal
from novalgo.engine.outbox import Outbox
from novalgo.settings import NotifySettings, Settings
from tests.fakes.discord_server import Troubled
from tests.fakes.slack_server import FakeSlack
from tests.fakes.smtp import FakeSMTP
from tests.support.alerts import alert_body
from tests.support.clock import pinned_start

EVERY = 5.0
FAST = (0.5, 2.0)  # backoff: first wait, cap


class Clock:
    def __init__(self) -> None:
        self.now = pinned_start().timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SlackTroubles(Troubled):
    """The Slack fake's webhook, failing on cue: 5xx as plain text, 429 with Retry-After."""

    def __init__(self, slack: FakeSlack):
        super().__init__()
        self.inner = slack.app.wsgi_app
        slack.app.wsgi_app = self

    def __call__(self, environ, start_response):
        trouble = self.next_trouble() if environ["PATH_INFO"].startswith("/services/") else None
        if trouble is None:
            return self.inner(environ, start_response)
        time.sleep(trouble.hang)
        headers = [("Content-Type", "text/plain")]
        if trouble.status == 429:
            headers.append(("Retry-After", str(int(trouble.retry_after))))
        start_response(f"{trouble.status} Trouble", headers)
        return [b"rate_limited" if trouble.status == 429 else b"internal_error"]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def journal(tmp_path, clock) -> Journal:
    j = Journal(tmp_path / "journal.sqlite3", sync="normal", clock=clock)
    yield j
    j.close()


@pytest.fixture
def slack():
    with FakeSlack() as server:
        server.troubles = SlackTroubles(server)
        yield server


def settings_for(tmp_path: Path, slack=None, discord=None, telegram=None, smtp=None, **notify) -> Settings:
    values = dict(every=EVERY, timeout=2.0)
    if slack:
        values["slack_webhook"] = slack.webhook_url
    if discord:
        values["discord_webhook"] = discord.webhook_url
    if telegram:
        values.update(telegram_token=telegram.token, telegram_chat=telegram.chat_id, telegram_api_url=telegram.url)
    if smtp:
        values.update(email_to=("trader@example.com",), smtp_host="127.0.0.1", smtp_port=smtp.port,
                      smtp_user=smtp.user, smtp_password=smtp.password, smtp_ca_file=smtp.ca_file,
                      email_from="NovAlgo <bot@example.com>")
    values.update(notify)
    return Settings(data_dir=tmp_path, webhook_secret="hook-secret-never-shown",
                    alpaca_key_id="PKNEVERSHOWNKEYID", alpaca_secret_key="alpaca-secret-never-shown",
                    notify=NotifySettings(**values))


def settle(journal: Journal, symbol: str, status: str = statuses.FILLED, reason: str = "", action: str = "buy") -> str:
    delivery = read_delivery(alert_body(action, symbol, price=101.5).encode())
    alert_id = journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)[0]
    journal.finish(alert_id, status, reason)
    return alert_id


def received(slack=None, discord=None, telegram=None, smtp=None) -> dict[str, list[str]]:
    found = {}
    if slack:
        found["slack"] = [post["text"] for post in slack.webhook_posts]
    if discord:
        found["discord"] = discord.contents
    if telegram:
        found["telegram"] = telegram.texts
    if smtp:
        found["email"] = [m.message.get_body(preferencelist=("plain",)).get_content() for m in smtp.messages]
    return found


def lines_for(messages: list[str], symbol: str) -> list[str]:
    return [line for text in messages for line in text.splitlines() if line.startswith(symbol + " ")]


def test_an_outcome_is_one_line_with_symbol_timeframe_action_outcome_qty_price_and_reason(
        tmp_path, journal, clock, discord):
    settle(journal, "AAPL", statuses.FAILED, "insufficient buying power")
    outbox = Outbox(journal.path, settings_for(tmp_path, discord=discord), clock=clock)
    assert outbox.send_due("discord")
    [message] = discord.contents
    assert message.splitlines() == ["NovAlgo: 1 notice",
                                    "AAPL 15 BUY: FAILED · qty - · price 101.5 · insufficient buying power"]


@pytest.mark.parametrize("trouble", ["fail", "rate_limit", "hang"])
def test_a_channel_down_for_a_while_gets_every_notice_exactly_once(tmp_path, journal, clock, slack, discord,
                                                                     telegram, trouble):
    for fake in (slack.troubles, discord, telegram):
        {"fail": lambda f: f.fail(3, 500), "rate_limit": lambda f: f.rate_limit(3, 1),
         "hang": lambda f: f.hang(1, 1.3)}[trouble](fake)
    outbox = Outbox(journal.path, settings_for(tmp_path, slack, discord, telegram, timeout=0.5), clock=clock,
                    backoff=FAST)
    symbols = [f"S{i:02d}" for i in range(12)]
    for round_, symbol in enumerate(symbols):
        settle(journal, symbol)
        outbox.run_once()
        clock.advance(1.0 if round_ % 2 else 0.3)
    for _ in range(40):
        clock.advance(EVERY)
        outbox.run_once()
        if all(outbox.pending(name) == 0 for name in outbox.channels):
            break
    for name, messages in received(slack, discord, telegram).items():
        for symbol in symbols:
            assert len(lines_for(messages, symbol)) == 1, (name, symbol, messages)
    assert slack.troubles.attempts > len(slack.webhook_posts)  # it did fail, then recovered


def test_a_burst_of_30_outcomes_is_a_couple_of_messages_per_channel_listing_all_30(
        tmp_path, journal, clock, slack, discord, telegram):
    outbox = Outbox(journal.path, settings_for(tmp_path, slack, discord, telegram), clock=clock)
    symbols = [f"B{i:02d}" for i in range(30)]
    for symbol in symbols:  # the first goes at once; the rest arrive while the channel is paced
        settle(journal, symbol)
        outbox.run_once()
        clock.advance(0.1)
    clock.advance(EVERY)
    outbox.run_once()
    for name, messages in received(slack, discord, telegram).items():
        assert len(messages) == 2, name
        assert all(len(lines_for(messages, s)) == 1 for s in symbols), name
        assert messages[1].splitlines()[0] == "NovAlgo: 29 notices"


def test_a_long_burst_is_split_into_messages_within_discords_2000_characters(tmp_path, journal, clock, discord):
    symbols = [f"L{i:03d}" for i in range(60)]
    for symbol in symbols:
        settle(journal, symbol, statuses.FAILED, "the broker refused: " + "x" * 80)
    outbox = Outbox(journal.path, settings_for(tmp_path, discord=discord), clock=clock)
    for _ in range(10):
        outbox.run_once()
        clock.advance(EVERY)
    assert len(discord.contents) > 1 and all(len(text) <= 2000 for text in discord.contents)
    assert all(len(lines_for(discord.contents, s)) == 1 for s in symbols)


def test_a_rate_limit_is_waited_out_as_long_as_the_channel_asks(tmp_path, journal, clock, telegram):
    telegram.rate_limit(1, 30)
    outbox = Outbox(journal.path, settings_for(tmp_path, telegram=telegram), clock=clock, backoff=FAST)
    settle(journal, "RL")
    assert not outbox.send_due("telegram") and telegram.attempts == 1
    clock.advance(20)
    outbox.send_due("telegram")
    assert telegram.attempts == 1  # retry_after=30: not asked again yet
    clock.advance(11)
    assert outbox.send_due("telegram") and len(lines_for(telegram.texts, "RL")) == 1


def test_each_channel_gets_only_its_level(tmp_path, journal, clock, slack, discord, telegram):
    settings = settings_for(tmp_path, slack, discord, telegram, slack_level="trades", discord_level="failures")
    outbox = Outbox(journal.path, settings, clock=clock)
    settle(journal, "FIL", statuses.FILLED)
    settle(journal, "TPX", statuses.TAKE_PROFIT, "the take-profit order filled")
    settle(journal, "FAI", statuses.FAILED, "rejected")
    settle(journal, "EXP", statuses.EXPIRED, "too old")
    settle(journal, "SKP", statuses.SKIPPED, "market closed")
    outbox.add_event("guard", "GUARD daily loss limit reached: trading paused")
    outbox.run_once()
    got = received(slack, discord, telegram)

    def symbols(messages):
        return sorted(line.split()[0] for text in messages for line in text.splitlines()[1:])
    assert symbols(got["slack"]) == ["FIL", "TPX"]
    assert symbols(got["discord"]) == ["EXP", "FAI", "GUARD"]
    assert symbols(got["telegram"]) == ["EXP", "FAI", "FIL", "GUARD", "SKP", "TPX"]


def test_no_secret_ever_goes_out(tmp_path, journal, clock, slack, discord, telegram):
    settings = settings_for(tmp_path, slack, discord, telegram)
    outbox = Outbox(journal.path, settings, clock=clock)
    settle(journal, "SEC", statuses.FAILED,
           f"broker said: bad key {settings.alpaca_key_id}/{settings.alpaca_secret_key} ({settings.webhook_secret})")
    outbox.add_event("outage", f"cannot post to {discord.webhook_url} with bot{telegram.token}")
    outbox.run_once()
    texts = [t for messages in received(slack, discord, telegram).values() for t in messages]
    assert len(texts) == 3
    secrets = [settings.alpaca_key_id, settings.alpaca_secret_key, settings.webhook_secret, discord.webhook_token,
               telegram.token, slack.hook_path.rsplit("/", 1)[-1]]
    for text in texts:
        assert "[hidden]" in text
        assert not [s for s in secrets if s in text], text


def test_what_was_not_delivered_before_a_restart_is_delivered_once_after_it(tmp_path, journal, clock, discord):
    discord.fail(100, 502)
    settings = settings_for(tmp_path, discord=discord)
    first = Outbox(journal.path, settings, clock=clock, backoff=FAST)
    settle(journal, "R1")
    first.run_once()
    settle(journal, "R2")
    clock.advance(EVERY)
    first.run_once()
    first.close()
    assert discord.contents == []

    discord.troubles.clear()
    second = Outbox(journal.path, settings, clock=clock)
    assert second.send_due("discord")
    second.close()
    third = Outbox(journal.path, settings, clock=clock)
    clock.advance(EVERY)
    assert not third.send_due("discord")
    assert len(discord.contents) == 1
    assert len(lines_for(discord.contents, "R1")) == 1 and len(lines_for(discord.contents, "R2")) == 1


def test_email_gets_the_burst_as_one_plain_message(tmp_path, journal, clock):
    with FakeSMTP(tmp_path / "tls") as smtp:
        outbox = Outbox(journal.path, settings_for(tmp_path, smtp=smtp), clock=clock)
        for symbol in ("E1", "E2", "E3"):
            settle(journal, symbol)
        assert outbox.send_due("email")
        [mail] = smtp.messages
        assert mail.tls and mail.rcpt_tos == ["trader@example.com"]
        assert mail.message["Subject"] == "NovAlgo: 3 notices"
        assert all(len(lines_for(received(smtp=smtp)["email"], s)) == 1 for s in ("E1", "E2", "E3"))


def test_a_new_channel_starts_with_the_last_hour_not_the_whole_history(tmp_path, journal, clock, discord):
    settle(journal, "OLD")
    clock.advance(2 * 3600)
    settle(journal, "NEW")
    outbox = Outbox(journal.path, settings_for(tmp_path, discord=discord), clock=clock)
    outbox.run_once()
    assert lines_for(discord.contents, "NEW") and not lines_for(discord.contents, "OLD")
