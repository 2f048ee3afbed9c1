"""A fake Telegram Bot API on loopback: ``sendMessage`` and ``getUpdates``, as documented.

``POST /bot{token}/sendMessage`` with ``chat_id`` and ``text`` (JSON or form) answers
``{"ok": true, "result": Message}``. Errors are ``{"ok": false, "error_code": N, "description":
...}`` with the same HTTP status: 401 Unauthorized (a wrong token), 400 "Bad Request: chat not
found", "message text is empty", "message is too long" (over 4096 characters). Flood control is
429 with ``parameters.retry_after`` (whole seconds). Troubles are scripted per request.

``getUpdates`` follows https://core.telegram.org/bots/api#getupdates: updates come oldest first,
from the earliest unconfirmed one; "An update is considered confirmed as soon as getUpdates is
called with an offset higher than its update_id" (it is then forgotten); a negative offset keeps
only the last ``-offset``; ``timeout`` long-polls until a message comes. ``say`` is a person
typing to the bot (https://core.telegram.org/bots/api#update, #message).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, jsonify, request

from tests.fakes.discord_server import Troubled
from tests.fakes.slack_server import ServedApp
from tests.support.clock import ticking_clock

TEXT_LIMIT = 4096


@dataclass
class FakeTelegram(ServedApp, Troubled):
    token: str = "123456789:AAFakeTelegramBotTokenForTests_abcdef"
    chat_id: str = "-1001234567890"
    messages: list[dict] = field(default_factory=list)
    chats: set[str] = field(default_factory=set)  # more chats the bot may write to (besides chat_id)
    updates: list[dict] = field(default_factory=list)  # unconfirmed updates, oldest first
    polls: list[dict] = field(default_factory=list)  # each getUpdates' parameters
    longest_poll: float = 2.0  # a long poll here waits at most this long, whatever its timeout

    def __post_init__(self) -> None:
        Troubled.__post_init__(self)
        self._ids = itertools.count(861_000_001)
        self._arrived = threading.Condition()
        self.clock = ticking_clock()  # the messages' dates
        self.app = self._build()

    def say(self, text: str, chat_id: str | None = None, user_id: int = 7001, chat_type: str = "private",
            date: float | None = None) -> int:
        """A message to the bot from ``user_id`` in ``chat_id`` (the notification chat unless given),
        sent at ``date`` (Unix seconds; now unless given)."""
        chat = int(chat_id or self.chat_id)
        with self._arrived:
            update_id = next(self._ids)
            self.updates.append({"update_id": update_id, "message": {
                "message_id": update_id % 10000, "date": int(self.clock() if date is None else date), "text": text,
                "from": {"id": user_id, "is_bot": False, "first_name": "Trader"},
                "chat": {"id": chat, "type": chat_type}}})
            self._arrived.notify_all()
        return update_id

    def to(self, chat_id: str) -> list[str]:
        """The texts the bot sent to one chat."""
        return [m["text"] for m in self.messages if str(m["chat"]["id"]) == str(chat_id)]

    @property
    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]

    def _build(self) -> Flask:
        app = Flask("fake-telegram")
        fake = self

        def error(code: int, description: str, **parameters):
            body = {"ok": False, "error_code": code, "description": description}
            if parameters:
                body["parameters"] = parameters
            return jsonify(body), code

        def refusal(token):
            """What the Bot API answers before reading a call: trouble the test arranged (a hang, a
            429 with retry_after, a 5xx), or 401 for a token that is not the bot's."""
            trouble = fake.next_trouble()
            if trouble is not None:
                time.sleep(trouble.hang)
                if trouble.status == 429:
                    wait = int(trouble.retry_after or 1)
                    return error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
                return error(trouble.status, "Internal Server Error")
            if token != fake.token:
                return error(401, "Unauthorized")
            return None

        @app.post("/bot<token>/sendMessage")
        def send_message(token):
            refused = refusal(token)
            if refused is not None:
                return refused
            params = dict(request.values.items())
            params.update(request.get_json(silent=True) or {})
            if str(params.get("chat_id", "")) not in {fake.chat_id, *fake.chats}:
                return error(400, "Bad Request: chat not found")
            text = params.get("text") or ""
            if not text.strip():
                return error(400, "Bad Request: message text is empty")
            if len(text) > TEXT_LIMIT:
                return error(400, "Bad Request: message is too long")
            message = {"message_id": len(fake.messages) + 1, "date": int(fake.clock()), "text": text,
                       "chat": {"id": int(params["chat_id"]), "type": "supergroup"}}
            fake.messages.append(message)
            return jsonify(ok=True, result=message)

        @app.post("/bot<token>/getUpdates")
        def get_updates(token):
            refused = refusal(token)
            if refused is not None:
                return refused
            params = dict(request.values.items())
            params.update(request.get_json(silent=True) or {})
            fake.polls.append(params)
            offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 100)
            deadline = time.monotonic() + min(float(params.get("timeout") or 0), fake.longest_poll)
            with fake._arrived:
                while True:
                    if offset > 0:  # confirms (and forgets) every update below the offset
                        fake.updates = [u for u in fake.updates if u["update_id"] >= offset]
                    elif offset < 0:
                        fake.updates = fake.updates[offset:]
                    if fake.updates or time.monotonic() >= deadline:
                        break
                    fake._arrived.wait(deadline - time.monotonic())
                return jsonify(ok=True, result=fake.updates[:limit])

        return app
