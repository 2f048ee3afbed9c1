"""A fake Telegram Bot API on loopback: ``sendMessage``, as documented.

``POST /bot{token}/sendMessage`` with ``chat_id`` and ``text`` (JSON or form) answers
``{"ok": true, "result": Message}``. Errors are ``{"ok": false, "error_code": N, "description":
...}`` with the same HTTP status: 401 Unauthorized (a wrong token), 400 "Bad Request: chat not
found", "message text is empty", "message is too long" (over 4096 characters). Flood control is
429 with ``parameters.retry_after`` (whole seconds). Troubles are scripted per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Flask, jsonify, request

from tests.fakes.discord_server import Troubled
from tests.support.clock import ticking_clock
from tests.fakes.slack_server import ServedApp

TEXT_LIMIT = 4096


@dataclass
class FakeTelegram(ServedApp, Troubled):
    token: str = "123456789:AAFakeTelegramBotTokenForTests_abcdef"
    chat_id: str = "-1001234567890"
    messages: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        Troubled.__post_init__(self)
        self.clock = ticking_clock()  # the messages' dates
        self.app = self._build()

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

        @app.post("/bot<token>/sendMessage")
        def send_message(token):
            trouble = fake.next_trouble()
            if trouble is not None:
                time.sleep(trouble.hang)
                if trouble.status == 429:
                    wait = int(trouble.retry_after or 1)
                    return error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
                return error(trouble.status, "Internal Server Error")
            if token != fake.token:
                return error(401, "Unauthorized")
            params = dict(request.values.items())
            params.update(request.get_json(silent=True) or {})
            if str(params.get("chat_id", "")) != fake.chat_id:
                return error(400, "Bad Request: chat not found")
            text = params.get("text") or ""
            if not text.strip():
                return error(400, "Bad Request: message text is empty")
            if len(text) > TEXT_LIMIT:
                return error(400, "Bad Request: message is too long")
            message = {"message_id": len(fake.messages) + 1, "date": int(fake.clock()), "text": text,
                       "chat": {"id": int(fake.chat_id), "type": "supergroup"}}
            fake.messages.append(message)
            return jsonify(ok=True, result=message)

        return app
