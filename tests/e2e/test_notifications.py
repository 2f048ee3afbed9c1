"""Live notifications through the real service (gunicorn, two workers) against loopback fakes.

Discord hangs for its first requests (longer than the client's timeout): every alert still
settles as it would with no channel at all, Telegram is not held up by Discord, and once
Discord answers again it gets every outcome exactly once, none of them showing a secret.
"""

from __future__ import annotations

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram
from tests.support.gunicorn import wait_for
from tests.support.running_service import RunningService, write_local_config

SECRET = "e2e-notify-secret"
SYMBOLS = [f"N{i}" for i in range(8)]


def lines_for(messages: list[str], symbol: str) -> list[str]:
    return [line for text in messages for line in text.splitlines() if line.startswith(symbol + " ")]


def test_a_hanging_channel_changes_no_outcome_and_still_gets_every_message_once(tmp_path):
    data_dir = tmp_path / "data"
    write_local_config(data_dir, SYMBOLS)
    with FakeDiscord() as discord, FakeTelegram() as telegram:
        discord.hang(2, 3.0)  # each request outlives the 1 s timeout
        env = {"NOVALGO_NOTIFY_DISCORD_WEBHOOK": discord.webhook_url,
               "NOVALGO_NOTIFY_TELEGRAM_TOKEN": telegram.token, "NOVALGO_NOTIFY_TELEGRAM_CHAT": telegram.chat_id,
               "NOVALGO_TELEGRAM_API_URL": telegram.url, "NOVALGO_NOTIFY_TIMEOUT": "1", "NOVALGO_NOTIFY_EVERY": "0.5"}
        with RunningService(data_dir, SECRET, workers=2, **env) as service:
            for symbol in SYMBOLS:
                answer = service.post({"action": "buy", "symbol": symbol, "timeframe": "15", "price": 50}, wait=2.5)
                assert answer.json().get("outcome") == "FILLED", answer.text
            # Telegram is not held up by Discord.
            wait_for(lambda: all(lines_for(telegram.texts, s) for s in SYMBOLS), "telegram's messages", limit=20)
            assert discord.attempts >= 1
            wait_for(lambda: all(lines_for(discord.contents, s) for s in SYMBOLS), "discord's messages", limit=40)
            log = service.tail(1_000_000)
        assert discord.troubles == [] and discord.attempts > len(discord.contents)
        for messages in (discord.contents, telegram.texts):
            assert all(len(lines_for(messages, s)) == 1 for s in SYMBOLS)
            assert all("FILLED" in line for s in SYMBOLS for line in lines_for(messages, s))
            assert not [text for text in messages if SECRET in text or telegram.token in text]
        assert "notification to discord failed" in log
        assert discord.webhook_token not in log and telegram.token not in log
