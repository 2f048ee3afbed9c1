"""A fake Slack on loopback: incoming webhooks, and the Web API calls slack_sdk makes.

Speaks Slack's shapes: webhooks answer plain text (``ok``, or 404 ``no_service``); Web API
methods answer 200 JSON with ``ok`` true or false and an ``error`` code. The file upload is
the three-step flow of ``files_upload_v2``: getUploadURLExternal → POST the bytes to the
returned URL → completeUploadExternal.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server


class ServedApp:
    """A Flask app served on 127.0.0.1 with an OS-chosen port, in a background thread."""

    app: Flask

    def start(self):
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Upload:
    file_id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    channel_id: str | None = None


@dataclass
class FakeSlack(ServedApp):
    hook_path: str = "/services/T000/B000/XXXXXXXX"
    bot_token: str = "xoxb-fake"
    channels: dict[str, str] = field(default_factory=lambda: {"#trading": "C0TRADING", "C0TRADING": "C0TRADING"})
    webhook_posts: list[dict] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    uploads: dict[str, Upload] = field(default_factory=dict)
    completed: list[Upload] = field(default_factory=list)
    fail_webhook: tuple[int, str] | None = None  # e.g. (500, "internal_error")

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self.app = self._build()

    @property
    def webhook_url(self) -> str:
        return self.url + self.hook_path

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def _params(self) -> dict:
        values = dict(request.values.items())
        if request.is_json:
            values.update(request.get_json())
        return values

    def _authorised(self) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.bot_token}"

    def _build(self) -> Flask:
        app = Flask("fake-slack")
        fake = self

        @app.post("/services/<path:rest>")
        def webhook(rest):
            if "/services/" + rest != fake.hook_path:
                return Response("no_service", 404, content_type="text/plain")
            if fake.fail_webhook:
                status, text = fake.fail_webhook
                return Response(text, status, content_type="text/plain")
            body = request.get_json(silent=True) or {}
            if not body.get("text") and not body.get("blocks"):
                return Response("no_text", 400, content_type="text/plain")
            fake.webhook_posts.append(body)
            return Response("ok", 200, content_type="text/plain")

        @app.post("/api/chat.postMessage")
        def post_message():
            if not fake._authorised():
                return jsonify(ok=False, error="invalid_auth")
            p = fake._params()
            channel = fake.channels.get(p.get("channel", ""))
            if channel is None:
                return jsonify(ok=False, error="channel_not_found")
            blocks = p.get("blocks")
            blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
            ts = f"1700000000.{next(fake._ids):06d}"
            fake.messages.append({"channel": channel, "text": p.get("text"), "blocks": blocks, "ts": ts})
            return jsonify(ok=True, channel=channel, ts=ts, message={"type": "message", "text": p.get("text"), "ts": ts})

        @app.route("/api/files.getUploadURLExternal", methods=["GET", "POST"])
        def get_upload_url():
            if not fake._authorised():
                return jsonify(ok=False, error="invalid_auth")
            p = fake._params()
            if not p.get("filename") or not str(p.get("length", "")).isdigit():
                return jsonify(ok=False, error="invalid_arguments")
            file_id = f"F{next(fake._ids):08d}"
            fake.uploads[file_id] = Upload(file_id, p["filename"], int(p["length"]))
            return jsonify(ok=True, upload_url=f"{fake.url}/upload/v1/{file_id}", file_id=file_id)

        @app.post("/upload/v1/<file_id>")
        def upload(file_id):
            item = fake.uploads.get(file_id)
            if item is None:
                return Response("not found", 404)
            item.data = request.get_data()
            if len(item.data) != item.length:
                return Response("length mismatch", 400)
            return Response(f"OK - {len(item.data)}", 200, content_type="text/plain")

        @app.post("/api/files.completeUploadExternal")
        def complete():
            if not fake._authorised():
                return jsonify(ok=False, error="invalid_auth")
            p = fake._params()
            files = json.loads(p.get("files") or "[]")
            done = []
            for f in files:
                item = fake.uploads.get(f.get("id"))
                if item is None or item.data is None:
                    return jsonify(ok=False, error="file_not_found")
                item.title = f.get("title")
                item.channel_id = p.get("channel_id")
                if item.channel_id and item.channel_id not in fake.channels.values():
                    return jsonify(ok=False, error="channel_not_found")
                fake.completed.append(item)
                done.append({"id": item.file_id, "title": item.title, "name": item.filename})
            return jsonify(ok=True, files=done)

        return app
