"""A fake Discord on loopback: the Execute Webhook endpoint, as documented.

``POST /api/webhooks/{id}/{token}`` with JSON ``content`` answers 204 No Content (200 with the
message when ``?wait=true``). Errors are JSON with ``message`` and ``code``: 404 Unknown Webhook
(10015), 400 Cannot send an empty message (50006), 400 Invalid Form Body (50035) for content
over 2000 characters. A rate limit is 429 with ``retry_after`` in seconds (a float) in the body
and a ``Retry-After`` header. Troubles (a 5xx, a 429, a hang) are scripted per request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask, Response, jsonify, request

from tests.fakes.slack_server import ServedApp

CONTENT_LIMIT = 2000


@dataclass
class Trouble:
    """What the next request gets instead of being served: a status, a rate limit, or a hang."""

    status: int = 500
    retry_after: float | None = None
    hang: float = 0.0


@dataclass
class Troubled:
    """A queue of troubles, one per request, shared by the fakes of Discord and Telegram."""

    troubles: list[Trouble] = field(default_factory=list)
    attempts: int = 0

    def __post_init__(self) -> None:
        self._trouble_lock = threading.Lock()

    def fail(self, times: int, status: int = 500) -> None:
        self._add([Trouble(status) for _ in range(times)])

    def rate_limit(self, times: int, retry_after: float) -> None:
        self._add([Trouble(429, retry_after) for _ in range(times)])

    def hang(self, times: int, seconds: float) -> None:
        """Answer (a 503) only after ``seconds``: a client with a shorter timeout gives up first."""
        self._add([Trouble(503, hang=seconds) for _ in range(times)])

    def _add(self, troubles: list[Trouble]) -> None:
        with self._trouble_lock:
            self.troubles.extend(troubles)

    def next_trouble(self) -> Trouble | None:
        with self._trouble_lock:
            self.attempts += 1
            return self.troubles.pop(0) if self.troubles else None


@dataclass
class FakeDiscord(ServedApp, Troubled):
    webhook_id: str = "112233445566778899"
    webhook_token: str = "fAkE-dIsCoRd-WeBhOoK-tOkEn-0123456789"
    messages: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        Troubled.__post_init__(self)
        self.app = self._build()

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/api/webhooks/{self.webhook_id}/{self.webhook_token}"

    @property
    def contents(self) -> list[str]:
        return [m["content"] for m in self.messages]

    def _build(self) -> Flask:
        app = Flask("fake-discord")
        fake = self

        @app.post("/api/webhooks/<webhook_id>/<token>")
        def execute(webhook_id, token):
            trouble = fake.next_trouble()
            if trouble is not None:
                time.sleep(trouble.hang)
                if trouble.status == 429:
                    answer = jsonify(message="You are being rate limited.", retry_after=trouble.retry_after,
                                     **{"global": False})
                    answer.status_code = 429
                    answer.headers["Retry-After"] = str(trouble.retry_after)
                    return answer
                return jsonify(message="Internal Server Error", code=0), trouble.status
            if (webhook_id, token) != (fake.webhook_id, fake.webhook_token):
                return jsonify(message="Unknown Webhook", code=10015), 404
            body = request.get_json(silent=True) or {}
            content = body.get("content") or ""
            if not content and not body.get("embeds"):
                return jsonify(message="Cannot send an empty message", code=50006), 400
            if len(content) > CONTENT_LIMIT:
                return jsonify(message="Invalid Form Body", code=50035, errors={"content": {"_errors": [
                    {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]}}), 400
            message = {"id": str(len(fake.messages) + 1), "content": content, "channel_id": "C1"}
            fake.messages.append(message)
            if request.args.get("wait") == "true":
                return jsonify(message)
            return Response(status=204)

        return app
