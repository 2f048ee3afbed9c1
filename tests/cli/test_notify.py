"""`novalgo notify test`: one message per configured channel, which worked, exit 1 naming why not."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from novalgo.cli import main
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack
from tests.fakes.telegram_server import FakeTelegram


def run(tmp_path, **env):
    base = {"NOVALGO_DATA_DIR": str(tmp_path / "data"), "NOVALGO_WEBHOOK_SECRET": "x", "NOVALGO_NOTIFY_TIMEOUT": "2"}
    return CliRunner().invoke(main, ["notify", "test"], env={**base, **env}, catch_exceptions=False)


@pytest.fixture
def fakes():
    with FakeSlack() as slack, FakeDiscord() as discord, FakeTelegram() as telegram:
        yield slack, discord, telegram


def env_for(slack, discord, telegram, token=None):
    return {"NOVALGO_NOTIFY_SLACK_WEBHOOK": slack.webhook_url, "NOVALGO_NOTIFY_DISCORD_WEBHOOK": discord.webhook_url,
            "NOVALGO_NOTIFY_TELEGRAM_TOKEN": token or telegram.token, "NOVALGO_NOTIFY_TELEGRAM_CHAT": telegram.chat_id,
            "NOVALGO_TELEGRAM_API_URL": telegram.url, "NOVALGO_NOTIFY_DISCORD_LEVEL": "failures"}


def test_every_configured_channel_gets_the_test_message(tmp_path, fakes):
    slack, discord, telegram = fakes
    result = run(tmp_path, **env_for(*fakes))
    assert result.exit_code == 0, result.output
    assert "ok   slack (level all)" in result.output and "ok   discord (level failures)" in result.output
    assert "ok   telegram (level all)" in result.output and "All 3 channel(s) work." in result.output
    assert len(slack.webhook_posts) == len(discord.contents) == len(telegram.texts) == 1
    assert discord.contents[0].startswith("NovAlgo: test message")


def test_a_failing_channel_is_named_with_why_and_the_others_still_get_theirs(tmp_path, fakes):
    slack, discord, telegram = fakes
    result = run(tmp_path, **env_for(*fakes, token="999:wrong-token-for-this-bot"))
    assert result.exit_code == 1
    assert "FAIL telegram (level all): FAILED: telegram: the Bot API answered 401 'Unauthorized'" in result.output
    assert "wrong-token-for-this-bot" not in result.output
    assert len(slack.webhook_posts) == len(discord.contents) == 1


def test_an_unreachable_webhook_is_named_without_its_url(tmp_path):
    hook = "http://127.0.0.1:9/api/webhooks/1/secret-discord-token-value"
    result = run(tmp_path, NOVALGO_NOTIFY_DISCORD_WEBHOOK=hook)
    assert result.exit_code == 1
    assert "discord: cannot reach the service" in result.output and "secret-discord-token-value" not in result.output


def test_nothing_configured_says_what_to_set(tmp_path):
    result = run(tmp_path)
    assert result.exit_code == 1
    assert "NOVALGO_NOTIFY_SLACK_WEBHOOK" in result.output


def test_a_bad_level_or_a_token_without_its_chat_refuses_to_start(tmp_path):
    result = run(tmp_path, NOVALGO_NOTIFY_SLACK_LEVEL="loud", NOVALGO_NOTIFY_TELEGRAM_TOKEN="1:abc")
    assert result.exit_code == 2
    assert "NOVALGO_NOTIFY_SLACK_LEVEL='loud': expected one of all, trades, failures" in result.output
    assert "NOVALGO_NOTIFY_TELEGRAM_TOKEN and NOVALGO_NOTIFY_TELEGRAM_CHAT must be set together" in result.output
