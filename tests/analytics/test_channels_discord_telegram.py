"""The shared channel senders (novalgo.channels, used by the analytics reports and the live
outbox) against the wire-level fakes: what each service answers, read the way it documents it."""

from __future__ import annotations

import pytest

from novalgo.channels import ChannelError, post_discord, post_slack, post_telegram
from tests.fakes.slack_server import FakeSlack


def test_discord_gets_content_cut_to_its_2000_characters(discord):
    assert post_discord(discord.webhook_url, "x" * 2500, timeout=2) == "posted by webhook"
    assert len(discord.contents[0]) == 2000 and discord.contents[0].endswith("…")


def test_discords_rate_limit_carries_its_retry_after(discord):
    discord.rate_limit(1, 0.75)
    with pytest.raises(ChannelError) as refused:
        post_discord(discord.webhook_url, "hello", timeout=2)
    assert refused.value.retry_after == 0.75


def test_an_unknown_discord_webhook_is_named_without_its_token(discord):
    with pytest.raises(ChannelError) as refused:
        post_discord(discord.webhook_url.replace(discord.webhook_token, "not-the-token"), "hello", timeout=2)
    assert "404" in str(refused.value) and "Unknown Webhook" in str(refused.value)
    assert "not-the-token" not in str(refused.value)


def test_telegram_sends_to_the_chat_and_cuts_to_4096_characters(telegram):
    assert post_telegram(telegram.url, telegram.token, telegram.chat_id, "y" * 5000, timeout=2).startswith("sent")
    assert len(telegram.texts[0]) == 4096


def test_telegrams_flood_control_carries_its_retry_after(telegram):
    telegram.rate_limit(1, 3)
    with pytest.raises(ChannelError) as refused:
        post_telegram(telegram.url, telegram.token, telegram.chat_id, "hello", timeout=2)
    assert refused.value.retry_after == 3


def test_a_chat_the_bot_cannot_reach_is_named(telegram):
    with pytest.raises(ChannelError, match="chat not found"):
        post_telegram(telegram.url, telegram.token, "-100999", "hello", timeout=2)


def test_slack_answers_an_error_as_plain_text():
    with FakeSlack() as slack:
        slack.fail_webhook = (500, "internal_error")
        with pytest.raises(ChannelError, match="500 'internal_error'"):
            post_slack(slack.webhook_url, "hello", timeout=2)
