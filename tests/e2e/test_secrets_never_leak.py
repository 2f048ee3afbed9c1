"""The webhook secret, the admin token and the Alpaca keys never land anywhere an operator reads.

The real service runs under gunicorn (``novalgo serve``, two workers) with distinctive secrets,
Alpaca keys pointing at the wire-level FakeAlpaca and the local CSV sheet. Alerts carry the
secret every way TradingView users send it (JSON field, URL path, text line, other key names),
plus wrong secrets. Then every byte the service left behind is searched: gunicorn's access
log (stdout) and error log (stderr), every file of the data dir (journal with its WAL, sheet
CSVs, config snapshot, leader lock), the fake broker's state and the admin endpoints' answers.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import requests

from tests.fakes.alpaca_server import FakeAlpaca
from tests.support.running_service import RunningService

WEBHOOK_SECRET = "whsecLEAKCANARY7f3a9c2e"
WRONG_SECRET = "wrongLEAKCANARY5d1b8e40"
ADMIN_TOKEN = "admtokLEAKCANARY9c4e2a17"
ALPACA_KEY_ID = "CANARY-KEY-ID-3Q9Z7X1W"
ALPACA_SECRET = "apcasecLEAKCANARY2b6d8f0a"
SECRETS = {"webhook secret": WEBHOOK_SECRET, "wrong secret": WRONG_SECRET, "admin token": ADMIN_TOKEN,
           "Alpaca key id": ALPACA_KEY_ID, "Alpaca secret key": ALPACA_SECRET}


def send_everything(service: RunningService) -> dict[str, int]:
    """Every way a secret reaches the service; returns each request's HTTP status."""
    url, s = service.url, WEBHOOK_SECRET
    buy = {"action": "buy", "symbol": "AAPL", "timeframe": "15", "price": 150}
    json_type = {"Content-Type": "application/json"}
    text_type = {"Content-Type": "text/plain"}
    sent = {
        "json field": requests.post(f"{url}/webhook?wait=2.5", json={**buy, "secret": s}, timeout=10),
        "url path": requests.post(f"{url}/webhook/{s}?wait=2.5", json={**buy, "action": "sell"}, timeout=10),
        "url path and field": requests.post(f"{url}/webhook/{s}", json={**buy, "action": "close", "secret": s},
                                            timeout=10),
        "encoded slash path": requests.post(f"{url}/webhook%2F{s}", json={**buy, "symbol": "TSLA", "timeframe": "30"},
                                            timeout=10),
        "text line": requests.post(f"{url}/webhook", data=f"secret={s} BUY TSLA 30 200", headers=text_type,
                                   timeout=10),
        "text line, passphrase last": requests.post(f"{url}/webhook", data=f"CLOSE TSLA 30 passphrase: {s}",
                                                    headers=text_type, timeout=10),
        "passphrase key": requests.post(f"{url}/webhook", json={**buy, "passphrase": s, "price": 151}, timeout=10),
        "Token key": requests.post(f"{url}/webhook", json={**buy, "Token": s, "price": 152}, timeout=10),
        "broken json": requests.post(f"{url}/webhook", data='{"secret": "%s", "action": "buy",' % s,
                                     headers=json_type, timeout=10),
        "query string": requests.post(f"{url}/webhook?secret={s}&token={ADMIN_TOKEN}", json=buy, timeout=10),
        "wrong field": requests.post(f"{url}/webhook", json={**buy, "secret": WRONG_SECRET}, timeout=10),
        "wrong path": requests.post(f"{url}/webhook/{WRONG_SECRET}", json=buy, timeout=10),
        "wrong text": requests.post(f"{url}/webhook", data=f"secret={WRONG_SECRET} BUY AAPL 15", headers=text_type,
                                    timeout=10),
    }
    return {name: answer.status_code for name, answer in sent.items()}


def read_admin(service: RunningService) -> dict[str, requests.Response]:
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    answers = {path: requests.get(service.url + path, headers=bearer, timeout=15)
               for path in ("/alerts?limit=1000", "/config", "/positions", "/performance")}
    answers["/health"] = requests.get(service.url + "/health", timeout=10)
    answers["/alerts?token="] = requests.get(f"{service.url}/alerts?token={ADMIN_TOKEN}", timeout=10)
    answers["wrong bearer"] = requests.get(f"{service.url}/alerts", headers={"Authorization": f"Bearer {WRONG_SECRET}"},
                                           timeout=10)
    return answers


def places_to_search(data_dir: Path, service: RunningService, fake: FakeAlpaca,
                     admin: dict[str, requests.Response]) -> dict[str, bytes]:
    places = {"access log (stdout)": service.stdout_path.read_bytes(),
              "error log (stderr)": service.stderr_path.read_bytes()}
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        places[f"data file {path.relative_to(data_dir)}"] = path.read_bytes()
    with sqlite3.connect(data_dir / "journal.sqlite3") as db:
        for table in ("alerts", "orders", "meta"):
            rows = db.execute(f"SELECT * FROM {table}").fetchall()
            places[f"journal table {table}"] = json.dumps(rows, default=str).encode()
    with fake.lock:
        state = {"orders": fake.orders, "positions": fake.positions, "activities": fake.activities,
                 "requests": fake.request_log}
        places["fake Alpaca state"] = json.dumps(state, default=str).encode()
    for path, answer in admin.items():
        places[f"GET {path}"] = answer.content
    return places


@pytest.fixture
def fake_alpaca():
    with FakeAlpaca(key_id=ALPACA_KEY_ID, secret_key=ALPACA_SECRET) as fake:
        yield fake


def test_no_secret_in_logs_journal_sheet_broker_or_answers(tmp_path, fake_alpaca):
    data_dir = tmp_path / "data"
    service = RunningService(data_dir, WEBHOOK_SECRET, NOVALGO_ADMIN_TOKEN=ADMIN_TOKEN,
                             APCA_API_KEY_ID=ALPACA_KEY_ID, APCA_API_SECRET_KEY=ALPACA_SECRET,
                             APCA_API_BASE_URL=fake_alpaca.url, APCA_API_DATA_URL=fake_alpaca.url)
    with service:
        codes = send_everything(service)
        assert service.wait_all_terminal(60) is not None, service.tail()
        admin = read_admin(service)
    # The sends really reached the service: accepted where the secret was right, refused otherwise.
    assert {codes[k] for k in ("json field", "url path")} == {200}, codes
    assert all(codes[k] in (200, 202) for k in ("url path and field", "encoded slash path", "text line",
                                                "text line, passphrase last", "passphrase key", "Token key")), codes
    assert all(codes[k] == 401 for k in ("query string", "wrong field", "wrong path", "wrong text")), codes
    assert codes["broken json"] in (400, 401)
    assert admin["/alerts?limit=1000"].status_code == 200 and admin["/health"].status_code == 200
    assert admin["/alerts?token="].status_code == 401 and admin["wrong bearer"].status_code == 401
    with sqlite3.connect(data_dir / "journal.sqlite3") as db:
        journalled = db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
    assert journalled == sum(1 for c in codes.values() if c in (200, 202))
    assert fake_alpaca.count("POST", "/v2/orders") >= 2  # orders went to the broker with the keys
    access_log = service.stdout_path.read_text()
    assert "/webhook/***" in access_log and "secret=***" in access_log  # the masked lines are there

    places = places_to_search(data_dir, service, fake_alpaca, admin)
    leaks = [f"{name} in {place}" for place, content in places.items() for name, secret in SECRETS.items()
             if secret.encode() in content]
    print(f"\nsearched {len(places)} places ({sum(map(len, places.values())):,} bytes) for {len(SECRETS)} secrets; "
          f"{journalled} alerts journalled, {fake_alpaca.count('POST', '/v2/orders')} orders sent; leaks: {len(leaks)}")
    assert leaks == []
