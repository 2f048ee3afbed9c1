"""Slash commands as Slack sends them, signed as Slack signs them.

The payload is https://api.slack.com/interactivity/slash-commands ("application/x-www-form-urlencoded":
token, team_id, channel_id, user_id, command, text, response_url, trigger_id, ...). The signature
is https://api.slack.com/authentication/verifying-requests-from-slack: X-Slack-Request-Timestamp,
and X-Slack-Signature = "v0=" + hex HMAC-SHA256 of "v0:{timestamp}:{raw body}" with the app's
signing secret. Written here from the page, not with slack_sdk, so the service's check is tested
against the document rather than against itself.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # the page's example shape, not a real secret


def command_body(text: str, user_id: str, trigger_id: str = "13345224609.738474920.8088930838d88f008e0") -> bytes:
    return urlencode({
        "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": "T0001", "team_domain": "example",
        "channel_id": "C2147483705", "channel_name": "trading", "user_id": user_id, "user_name": "trader",
        "command": "/novalgo", "text": text, "api_app_id": "A123456",
        "response_url": "https://hooks.slack.com/commands/1234/5678", "trigger_id": trigger_id,
    }).encode()


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """The headers Slack sends with the body."""
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature(secret, timestamp, body),
            "Content-Type": "application/x-www-form-urlencoded"}
