"""Discord's interactions endpoint: the /novalgo slash command, POSTed to /discord/interactions.

As Discord documents it (Interactions → "Receiving an Interaction", security headers): every
request carries ``X-Signature-Ed25519`` and ``X-Signature-Timestamp``, the signature of timestamp
+ raw body by Discord's key for the application; an invalid one must get 401 (Discord itself
sends such probes before it accepts the URL). A PING (type 1) gets a PONG; a command (type 2)
gets its answer as an ephemeral message (type 4, flag 64), within Discord's 3 s, from the same
desk as Slack: stored reads, actions queued for the leader. A timestamp more than five minutes
away is refused too, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import json
import logging

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Blueprint, current_app, jsonify, request

from novalgo.channels import DISCORD_LIMIT, fit
from novalgo.domain.chat import ACTIONS, parse_command
from novalgo.web.slack import _clock, chat_desk

blueprint = Blueprint("discord", __name__)
log = logging.getLogger(__name__)
PING, APPLICATION_COMMAND = 1, 2
PONG, CHANNEL_MESSAGE_WITH_SOURCE = 1, 4
EPHEMERAL = 1 << 6
FRESH = 300.0  # seconds either side of our clock a request's timestamp may be
PREFIX = "/novalgo "


def signed_by_discord(public_key_hex: str, body: bytes, timestamp: str | None, signature: str | None,
                      now: float) -> bool:
    """Whether the request carries the application's valid Ed25519 signature and a fresh timestamp."""
    if not timestamp or not signature:
        return False
    try:
        if abs(now - int(timestamp)) > FRESH:
            return False
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(
            bytes.fromhex(signature), timestamp.encode() + body)
    except (InvalidSignature, ValueError):
        return False
    return True


def command_text(data: dict) -> str:
    """The words typed: every option's value (``/novalgo command: pause AAPL``), or a subcommand's name."""
    words = []
    for option in data.get("options") or []:
        if "value" in option:
            words.append(str(option["value"]))
        else:  # a subcommand (``/novalgo pause symbol: AAPL``)
            words.append(option.get("name", ""))
            words += [str(o.get("value", "")) for o in option.get("options") or []]
    return " ".join(w for w in words if w)


@blueprint.post("/discord/interactions")
def interactions():
    settings = current_app.extensions["novalgo"].settings.chat
    if not settings.discord_public_key:
        return jsonify(error="Discord commands are not set up (NOVALGO_DISCORD_PUBLIC_KEY)"), 404
    body = request.get_data(cache=True)
    if not signed_by_discord(settings.discord_public_key, body, request.headers.get("X-Signature-Timestamp"),
                             request.headers.get("X-Signature-Ed25519"), _clock()()):
        log.warning("discord: refused an interaction with a bad, missing or old signature from %s",
                    request.remote_addr)
        return jsonify(error="invalid request signature"), 401
    try:
        interaction = json.loads(body)
    except ValueError:
        return jsonify(error="the body is not JSON"), 400
    if interaction.get("type") == PING:
        return jsonify(type=PONG)
    if interaction.get("type") != APPLICATION_COMMAND:
        return jsonify(error="only slash commands are answered"), 400
    user = str(((interaction.get("member") or {}).get("user") or interaction.get("user") or {}).get("id", ""))
    parsed = parse_command(command_text(interaction.get("data") or {}))
    may_act = user in settings.discord_allowed
    if parsed.verb in ACTIONS:
        log.info("discord: %s %s from user %s%s", parsed.verb, parsed.symbol or "", user,
                 "" if may_act else " (not allowed to act)")
    text = chat_desk().handle(parsed, who=f"discord:{user}", key=f"discord:{interaction.get('id')}",
                              may_act=may_act, prefix=PREFIX)
    return jsonify(type=CHANNEL_MESSAGE_WITH_SOURCE, data={"content": fit(text, DISCORD_LIMIT), "flags": EPHEMERAL})
