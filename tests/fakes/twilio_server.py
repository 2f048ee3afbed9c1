"""A fake of Twilio's Messages API on loopback: ``POST /2010-04-01/Accounts/{sid}/Messages.json``.

Basic auth with the account SID and auth token, form-encoded To/From/Body, and Twilio's JSON
answers: 201 with the message resource, 401 code 20003, 400 code 21211 for a bad number.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from email.utils import formatdate

from flask import Flask, jsonify, request

from tests.fakes.slack_server import ServedApp

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _error(status: int, code: int, message: str):
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}
    return jsonify(body), status


@dataclass
class FakeTwilio(ServedApp):
    account_sid: str = "AC" + "0" * 31 + "1"
    auth_token: str = "test-auth-token"
    sent: list[dict] = field(default_factory=list)
    fail_with: tuple[int, int, str] | None = None  # (status, code, message) for every send

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self.app = self._build()

    def _build(self) -> Flask:
        app = Flask("fake-twilio")
        fake = self

        @app.post("/2010-04-01/Accounts/<sid>/Messages.json")
        def create_message(sid):
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (fake.account_sid, fake.auth_token) \
                    or sid != fake.account_sid:
                return _error(401, 20003, "Authenticate")
            if fake.fail_with:
                return _error(*fake.fail_with)
            to, sender, body = request.form.get("To", ""), request.form.get("From", ""), request.form.get("Body", "")
            if not E164.match(to):
                return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
            if not body:
                return _error(400, 21602, "Message body is required.")
            message_sid = f"SM{next(fake._ids):032x}"
            now = formatdate(usegmt=True)
            fake.sent.append({"to": to, "from": sender, "body": body, "sid": message_sid})
            return jsonify({
                "account_sid": sid, "api_version": "2010-04-01", "body": body, "date_created": now,
                "date_sent": None, "date_updated": now, "direction": "outbound-api", "error_code": None,
                "error_message": None, "from": sender, "messaging_service_sid": None, "num_media": "0",
                "num_segments": str(1 + len(body) // 160), "price": None, "price_unit": "USD", "sid": message_sid,
                "status": "queued", "to": to,
                "subresource_uris": {"media": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}/Media.json"},
                "uri": f"/2010-04-01/Accounts/{sid}/Messages/{message_sid}.json",
            }), 201

        return app
