"""Discord's /novalgo through the interactions endpoint: Ed25519-signed requests only, a PONG to a
PING, answers as ephemeral messages from stored state, actions for listed users queued for the leader.

Requests are built as https://discord.com/developers/docs/interactions/overview (security and
authorization: X-Signature-Ed25519 over X-Signature-Timestamp + body; 401 when invalid) and
https://discord.com/developers/docs/interactions/receiving-and-responding (interaction types 1 and
2, response types 1 and 4, flag 64 ephemeral) describe them.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from novalgo.domain.guards import parse_settings_tab
from novalgo.engine.chat_wiring import leader_desk
from novalgo.settings import ChatSettings
from novalgo.web import create_app
from tests.support.clock import Clock

NOW = int(datetime(2026, 5, 4, 17, 0, tzinfo=timezone.utc).timestamp())
BOSS, VISITOR = "80351110224678912", "80351110224678913"
DISCORDS_KEY = Ed25519PrivateKey.generate()  # Discord's signing key for the application, made here
PUBLIC_HEX = DISCORDS_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@pytest.fixture
def clock():
    return Clock(NOW)


@pytest.fixture
def app(settings, clock):
    app = create_app(settings.with_overrides(chat=ChatSettings(discord_public_key=PUBLIC_HEX,
                                                               discord_allowed=(BOSS,))), start_background=False)
    app.extensions["novalgo.clock"] = clock
    return app


def interaction(text: str | None, user: str = VISITOR, kind: int = 2, number: int = 1) -> bytes:
    body = {"id": f"11{number:017d}", "application_id": "775799577604882472", "type": kind, "token": "x" * 20,
            "version": 1, "member": {"user": {"id": user, "username": "trader"}, "roles": []}}
    if kind == 2:
        body["data"] = {"id": "771825006014889984", "name": "novalgo", "type": 1,
                        "options": [{"type": 3, "name": "command", "value": text}] if text else []}
    return json.dumps(body).encode()


def signed(body: bytes, timestamp: int, key: Ed25519PrivateKey = DISCORDS_KEY) -> dict[str, str]:
    return {"X-Signature-Ed25519": key.sign(str(timestamp).encode() + body).hex(),
            "X-Signature-Timestamp": str(timestamp), "Content-Type": "application/json"}


def post(client, clock, body, **override):
    headers = signed(body, int(clock.now))
    headers.update(override)
    return client.post("/discord/interactions", data=body, headers=headers)


def test_a_ping_gets_a_pong(client, clock):
    answer = post(client, clock, interaction(None, kind=1))
    assert answer.status_code == 200 and answer.json == {"type": 1}


@pytest.mark.parametrize("case", ["unsigned", "other key", "tampered", "old"])
def test_anything_not_signed_by_discord_gets_401(client, services, clock, case):
    body = interaction("pause", BOSS)
    headers = signed(body, NOW)
    if case == "unsigned":
        headers.pop("X-Signature-Ed25519")
    elif case == "other key":
        headers = signed(body, NOW, Ed25519PrivateKey.generate())
    elif case == "tampered":
        body = interaction("flatten confirm", BOSS)
    elif case == "old":
        clock.now = NOW + 301
    answer = client.post("/discord/interactions", data=body, headers=headers)
    assert answer.status_code == 401
    desk, switchboard, _, queue = leader_desk(services, clock)
    assert queue.run_once(switchboard.perform) == 0


def test_status_for_anyone_actions_for_the_listed(client, services, clock):
    answer = post(client, clock, interaction("status"))
    assert answer.json["type"] == 4 and answer.json["data"]["flags"] == 64
    assert answer.json["data"]["content"].startswith("Trading: ON")
    refused = post(client, clock, interaction("pause", VISITOR, number=2)).json["data"]["content"]
    assert refused.startswith("Only listed people may pause")

    services.journal.set_meta("executor_heartbeat", str(clock.now))
    queued = post(client, clock, interaction("pause", BOSS, number=3)).json["data"]["content"]
    assert queued == "OK, pause all entries: queued, the bot does it within seconds."
    desk, switchboard, _, queue = leader_desk(services, clock)
    assert queue.run_once(switchboard.perform) == 1
    assert parse_settings_tab(services.sheet.read_settings())[0].paused


def test_off_without_a_public_key(settings, clock):
    client = create_app(settings, start_background=False).test_client()
    body = interaction("status")
    assert client.post("/discord/interactions", data=body, headers=signed(body, NOW)).status_code == 404
