"""The settings of commands from a phone: read from the environment, the Slack secret never shown."""

from __future__ import annotations

import pytest

from novalgo.errors import SettingsError
from novalgo.settings import ChatSettings, Settings, secret_values


def test_chat_settings_are_read_and_the_signing_secret_is_hidden():
    settings = Settings.from_env({
        "NOVALGO_TELEGRAM_ALLOWED": "123456789, -100777;42",
        "NOVALGO_TELEGRAM_COMMANDS": "false",
        "NOVALGO_TELEGRAM_POLL": "5",
        "NOVALGO_SLACK_SIGNING_SECRET": "a-slack-signing-secret",
        "NOVALGO_SLACK_ALLOWED": "U0BOSS U0TWO",
    }, dotenv=None)
    assert settings.chat == ChatSettings(telegram_commands=False, telegram_allowed=("123456789", "-100777", "42"),
                                         telegram_poll=5.0, slack_signing_secret="a-slack-signing-secret",
                                         slack_allowed=("U0BOSS", "U0TWO"))
    assert "a-slack-signing-secret" not in repr(settings) and "a-slack-signing-secret" not in str(settings.describe())
    assert "a-slack-signing-secret" in secret_values(settings), "scrubbed from anything sent"


def test_defaults_take_commands_only_where_a_chat_is_set_up():
    chat = Settings.from_env({}, dotenv=None).chat
    assert chat.telegram_commands and chat.telegram_allowed == () and chat.slack_signing_secret is None


def test_a_poll_beyond_telegrams_limit_is_refused():
    with pytest.raises(SettingsError, match="NOVALGO_TELEGRAM_POLL='90': must be between 0 and 50"):
        Settings.from_env({"NOVALGO_TELEGRAM_POLL": "90"}, dotenv=None)


def test_discords_public_key_must_look_like_one():
    key = "AB" * 32
    assert Settings.from_env({"NOVALGO_DISCORD_PUBLIC_KEY": key}, dotenv=None).chat.discord_public_key == key.lower()
    with pytest.raises(SettingsError, match="NOVALGO_DISCORD_PUBLIC_KEY='abc': expected the application's public key"):
        Settings.from_env({"NOVALGO_DISCORD_PUBLIC_KEY": "abc"}, dotenv=None)
