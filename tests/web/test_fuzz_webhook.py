"""Fuzzing POST /webhook through the real Flask app: never a 5xx, every refusal says why, and a
refused body never becomes an alert or an order.

A few hundred hypothesis-generated requests per run (``bench/fuzz.py`` sends 10,000 through
gunicorn). The queue is then run through the real executor and simulated broker, so the test
also sees that only acknowledged alerts ever reach the broker.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from novalgo.engine.journal import client_order_id
from novalgo.settings import Settings
from tests.support.alerts import SECRET, run_queue
from tests.support.clock import pinned_start
from tests.support.fuzz_bodies import FuzzRequest, requests_

EXAMPLES = 400


def journal_ids(services) -> set[str]:
    return {row[0] for row in services.journal._db().execute("SELECT id FROM alerts")}


def broker_client_ids(data_dir) -> list[str]:
    path = data_dir / "simbroker.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT client_order_id FROM orders")]


def post(client, request: FuzzRequest):
    headers = {"Content-Type": request.content_type} if request.content_type else {}
    return client.post(request.path, data=request.body, headers=headers)


def check_answer(answer, request: FuzzRequest) -> None:
    assert answer.status_code < 500, (answer.status_code, request, answer.get_data(as_text=True)[:300])
    if answer.status_code >= 400:
        payload = answer.get_json(silent=True)
        assert isinstance(payload, dict) and isinstance(payload.get("error"), str) and payload["error"], \
            (answer.status_code, request, answer.get_data(as_text=True)[:300])


@pytest.fixture
def fuzz_app(tmp_path):
    from novalgo.web import create_app

    app = create_app(Settings(webhook_secret=SECRET, data_dir=tmp_path / "data", run_background=False,
                              journal_sync="normal", clock_start=pinned_start()), start_background=False)
    return app, app.extensions["novalgo"], tmp_path / "data"


def test_fuzzed_requests_never_5xx_and_refused_ones_never_trade(fuzz_app):
    app, services, data_dir = fuzz_app
    client = app.test_client()
    codes: Counter[int] = Counter()
    accepted: set[str] = set()

    @hsettings(max_examples=EXAMPLES, deadline=None, database=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(requests_(SECRET))
    def one_request(request: FuzzRequest) -> None:
        before = journal_ids(services)
        answer = post(client, request)
        codes[answer.status_code] += 1
        check_answer(answer, request)
        added = journal_ids(services) - before
        if answer.status_code >= 400:
            assert added == set(), (answer.status_code, request)  # refused: nothing journalled
        elif answer.status_code == 202:
            assert added == {answer.get_json()["alert_id"]}
            accepted.add(answer.get_json()["alert_id"])

    one_request()
    statuses = run_queue(services)
    orders = broker_client_ids(data_dir)
    print(f"\nfuzz: {sum(codes.values())} requests, codes {dict(sorted(codes.items()))}, "
          f"{len(accepted)} accepted, {len(statuses)} processed, {len(orders)} orders at the broker")
    # Every order at the broker belongs to an acknowledged alert (legs 0 and 1 at most).
    legal = {client_order_id(alert_id, leg) for alert_id in accepted for leg in (0, 1)}
    assert set(orders) <= legal
    assert sum(codes[c] for c in codes if c >= 400) > EXAMPLES // 2  # the fuzz mostly hits the refusals


def refusal_of(client, body: bytes, path: str = "/webhook"):
    answer = client.post(path, data=body, headers={"Content-Type": "application/json"})
    return answer.status_code, (answer.get_json(silent=True) or {}).get("error")


@pytest.mark.parametrize("body", [
    b"[" * 50000,  # json.loads recursion: RecursionError, not ValueError
    b'{"a":' * 20000 + b"1" + b"}" * 20000,
    ('{"secret":"%s","action":"buy","symbol":"AAPL","timeframe":%s}' % (SECRET, "9" * 30)).encode(),
    ('{"secret":"%s","action":"buy","symbol":"AAPL","timeframe":"1e300"}' % SECRET).encode(),
    ('{"secret":"%s","action":"buy","symbol":"AAPL","timeframe":"%s M"}' % (SECRET, "9" * 20)).encode(),
    ('{"secret":"%s","action":"buy","symbol":"AAPL","timeframe":"15","price":%s}' % (SECRET, "9" * 5000)).encode(),
    ('{"secret":"%s","action":"buy","symbol":"AAPL","position":1e999999999999}' % SECRET).encode(),
    # Accepted once: the simulator took 1e-94466 as AAPL's price, and every later dollar-sized AAPL
    # order overflowed while being sized, holding the symbol's queue for minutes of retries.
    ('{"secret":"%s","action":"buy","symbol":"AAPL","timeframe":"15","price":1e-94466}' % SECRET).encode(),
], ids=["deep-array", "deep-object", "huge-int-timeframe", "huge-float-timeframe", "huge-months",
        "5000-digit-price", "huge-exponent-position", "tiny-price"])
def test_bodies_that_once_crashed_the_parser_get_a_reason(fuzz_app, body):
    app, services, _ = fuzz_app
    client = app.test_client()
    code, error = refusal_of(client, body)
    assert code < 500
    if code >= 400:
        assert error, code
    else:
        assert code == 202  # an absurd but harmless field (position size) may still be a valid alert
    # The secret in the path reaches the parser even when the body cannot carry a secret.
    code, error = refusal_of(client, body, f"/webhook/{SECRET}")
    assert code < 500 and (code in (200, 202) or error)  # 200: the same alert again, a duplicate
    # Whatever was accepted trades or settles without an internal error, and so does the next alert.
    refusal_of(client, ('{"secret":"%s","action":"buy","symbol":"AAPL","timeframe":"15"}' % SECRET).encode())
    assert all(status != "QUEUED" for status in run_queue(services))
