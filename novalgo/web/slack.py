"""Slack's slash command: ``/novalgo status``, ``/novalgo pause AAPL``, ... POSTed to /slack/command.

Every request is checked against the app's signing secret as Slack documents it ("Verifying
requests from Slack"): ``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{raw body}``, compared in constant
time, the timestamp within five minutes (a replayed request is refused). A bad, missing or old
signature gets 401 and nothing is done. The answer goes back in the HTTP response, well inside
Slack's 3 s: reads come from the journal and the state the leader stored, and pause, resume and
flatten are journalled for the leader, never done here (no Google or Alpaca call on this path).
Anyone in the workspace may ask for status; only the listed user ids may act.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from flask import Blueprint, current_app, jsonify, request
from slack_sdk.signature import SignatureVerifier

from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.chat import ACTIONS, parse_command

blueprint = Blueprint("slack", __name__)
log = logging.getLogger(__name__)
PREFIX = "/novalgo "


class _Clock:
    """slack_sdk's clock shape over the app's clock (tests set ``novalgo.clock``)."""

    def __init__(self, now):
        self.now = now


def _clock():
    return current_app.extensions.get("novalgo.clock", SYSTEM_CLOCK)


def chat_desk():
    """The web workers' desk (stored reads, queued actions), built once per app; Discord shares it."""
    desk = current_app.extensions.get("novalgo.chat_desk")
    if desk is None:
        from novalgo.engine.chat_wiring import web_desk

        desk = current_app.extensions["novalgo.chat_desk"] = web_desk(current_app.extensions["novalgo"], _clock())
    return desk


def signed_by_slack(secret: str, body: bytes, timestamp: str | None, signature: str | None, now: float) -> bool:
    """Whether the request carries Slack's valid, fresh signature."""
    try:
        return SignatureVerifier(secret, _Clock(lambda: now)).is_valid(body, timestamp, signature)
    except (ValueError, TypeError):  # a timestamp that is not a number
        return False


@blueprint.post("/slack/command")
def command():
    settings = current_app.extensions["novalgo"].settings.chat
    if not settings.slack_signing_secret:
        return jsonify(error="Slack commands are not set up (NOVALGO_SLACK_SIGNING_SECRET)"), 404
    body = request.get_data(cache=True)
    if not signed_by_slack(settings.slack_signing_secret, body, request.headers.get("X-Slack-Request-Timestamp"),
                           request.headers.get("X-Slack-Signature"), _clock()()):
        log.warning("slack: refused a command with a bad, missing or old signature from %s", request.remote_addr)
        return jsonify(error="invalid signature"), 401
    form = {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
    user = form.get("user_id", "")
    parsed = parse_command(form.get("text", ""))
    may_act = user in settings.slack_allowed
    if parsed.verb in ACTIONS:
        log.info("slack: %s %s from user %s%s", parsed.verb, parsed.symbol or "", user,
                 "" if may_act else " (not allowed to act)")
    # Slack's id of the request is not sent; the trigger id is unique per invocation.
    key = f"slack:{form.get('trigger_id') or request.headers.get('X-Slack-Request-Timestamp')}:{user}"
    text = chat_desk().handle(parsed, who=f"slack:{user}", key=key, may_act=may_act, prefix=PREFIX)
    return jsonify(response_type="ephemeral", text=text)
