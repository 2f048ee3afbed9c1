"""The HTTP contract of /webhook and the read endpoints, through the real Flask app."""

from __future__ import annotations

import json

import pytest

from novalgo.web import create_app
from tests.support.alerts import SECRET, alert_body, run_queue


def post(client, body, path="/webhook", **kwargs):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(path, data=data, **kwargs)


def test_accepted_alert_is_journalled_before_the_answer(client, services):
    response = post(client, alert_body("buy", price=200), content_type="text/plain")
    assert response.status_code == 202
    answer = response.get_json()
    assert answer["status"] == "accepted"
    record = services.journal.get(answer["alert_id"])
    assert record["status"] == "QUEUED"
    assert (record["action"], record["symbol"], record["timeframe_minutes"], record["price"]) == ("buy", "AAPL", 15, "200")
    assert SECRET not in record["body"]
    assert services.broker.positions() == []  # nothing traded on the request path


@pytest.mark.parametrize("path,body", [
    (f"/webhook/{SECRET}", "BUY AAPL 15"),
    (f"/webhook/{SECRET}", "My strategy (20, 50): order buy @ 25 filled on NASDAQ:AAPL. New strategy position is 25"),
    ("/webhook", {"ticker": "AAPL", "interval": "15", "strategy": {"order_action": "buy", "market_position": "long"},
                  "passphrase": SECRET}),
], ids=["plain-text-url-secret", "default-strategy-message", "nested-strategy"])
def test_trader_formats_are_accepted(client, path, body):
    response = post(client, body, path=path)
    assert response.status_code == 202, response.get_json()


@pytest.mark.parametrize("body,reason", [
    ({"symbol": "AAPL", "secret": SECRET}, "missing action"),
    ({"action": "buy", "secret": SECRET}, "missing symbol"),
    ({"action": "hold", "symbol": "AAPL", "secret": SECRET}, "unknown action 'hold'"),
    ({"action": "buy", "symbol": "AAPL", "timeframe": "fortnight", "secret": SECRET}, "bad timeframe"),
    ({"action": "buy", "symbol": "AAPL", "price": "-3", "secret": SECRET}, "bad price"),
    ({"action": "buy", "symbol": "AAPL", "price": "abc", "secret": SECRET}, "bad price"),
])
def test_unreadable_alerts_get_400_with_the_reason_and_change_nothing(client, services, body, reason):
    response = post(client, body)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]
    assert services.journal.recent() == []


def test_a_refusal_shows_what_was_read_and_how_to_fix_it(client, services):
    response = post(client, "LDC Open Long ▲ | BTCUSDT.P@64000 | (15)", path=f"/webhook/{SECRET}")
    assert response.status_code == 400
    answer = response.get_json()
    assert set(answer) == {"error", "read", "hint"}
    assert "perpetual" in answer["error"]
    assert answer["read"] == {"action": "buy", "symbol": "BTCUSDT.P", "timeframe": "15", "price": "64000",
                              "quantity": None}
    assert answer["hint"].endswith(".")
    assert services.journal.recent() == []


def test_an_ambiguous_text_is_refused_with_a_hint(client):
    answer = post(client, "Buy AAPL or Sell TSLA", path=f"/webhook/{SECRET}").get_json()
    assert "which disagree" in answer["error"]
    assert answer["read"]["symbol"] is None and answer["hint"]


def test_an_unreadable_body_with_the_secret_in_the_url_gets_a_hint(client):
    answer = post(client, b"\xff\xfe not text", path=f"/webhook/{SECRET}").get_json()
    assert answer["error"] == "body is not UTF-8 text"
    assert answer["read"] == {"action": None, "symbol": None, "timeframe": None, "price": None, "quantity": None}
    assert "UTF-8" in answer["hint"]


@pytest.mark.parametrize("body,path", [
    ("LDC Open Long ▲ | BTCUSDT.P@64000 | (15)", "/webhook/wrong"),
    ({"action": "buy", "symbol": "BINANCE:BTCUSDT.P", "timeframe": "15", "secret": "wrong"}, "/webhook"),
    (b"\xff\xfe not text", "/webhook"),
], ids=["text-wrong-url-secret", "json-wrong-secret", "not-text-no-secret"])
def test_a_refusal_never_shows_what_was_read_to_a_caller_without_the_secret(client, body, path):
    response = post(client, body, path=path)
    assert response.status_code == 401
    assert response.get_json() == {"error": "bad or missing secret"}
    assert "BTCUSDT" not in response.get_data(as_text=True)


def test_bad_json_with_url_secret_is_400(client):
    response = post(client, "{not json", path=f"/webhook/{SECRET}")
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["error"]


@pytest.mark.parametrize("body,path", [
    ({"action": "buy", "symbol": "AAPL"}, "/webhook"),
    ({"action": "buy", "symbol": "AAPL", "secret": "wrong"}, "/webhook"),
    ({"action": "buy", "symbol": "AAPL"}, "/webhook/wrong"),
    ("{not json", "/webhook"),
], ids=["missing", "wrong-in-body", "wrong-in-path", "garbage"])
def test_bad_or_missing_secret_is_401_and_journals_nothing(client, services, body, path):
    response = post(client, body, path=path)
    assert response.status_code == 401
    assert response.get_json() == {"error": "bad or missing secret"}
    assert services.journal.recent() == []


def test_addresses_outside_the_allowlist_get_403(client):
    response = post(client, alert_body("buy"), environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 403
    assert "203.0.113.9" in response.get_json()["error"]


def test_tradingview_addresses_are_allowed(client):
    response = post(client, alert_body("buy"), environ_base={"REMOTE_ADDR": "52.89.214.238"})
    assert response.status_code == 202


def test_forwarded_for_is_trusted_only_from_configured_proxies(settings):
    app = create_app(settings.with_overrides(trusted_proxies=_nets("127.0.0.1")), start_background=False)
    client = app.test_client()
    spoofed = post(client, alert_body("buy"), headers={"X-Forwarded-For": "52.89.214.238"},
                   environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert spoofed.status_code == 403  # not from our proxy: the header is ignored
    via_proxy = post(client, alert_body("buy"), headers={"X-Forwarded-For": "203.0.113.9, 52.89.214.238"},
                     environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert via_proxy.status_code == 202  # nginx appended TradingView's address: the rightmost untrusted hop


def test_body_over_64kb_is_413(client):
    response = post(client, json.dumps({"action": "buy", "symbol": "AAPL", "secret": SECRET, "pad": "x" * 70000}))
    assert response.status_code == 413
    assert "64 KB" in response.get_json()["error"]


def test_unknown_symbol_is_accepted_and_recorded_as_skipped(client, services):
    answer = post(client, alert_body("buy", "ZZZZ", "15", 10)).get_json()
    run_queue(services)
    record = services.journal.get(answer["alert_id"])
    assert record["status"] == "SKIPPED"
    assert "not in the Config tab" in record["reason"]


def test_a_re_delivered_body_is_a_duplicate_before_and_after_the_first_is_traded(client, services):
    first = post(client, alert_body("buy", price=200)).get_json()
    second = post(client, alert_body("buy", price=200))
    assert second.status_code == 200
    assert second.get_json()["status"] == "duplicate"
    assert second.get_json()["duplicate_of"] == first["alert_id"]
    assert run_queue(services) == ["FILLED"]
    third = post(client, alert_body("buy", price=200))  # TradingView's next re-send, after the trade
    assert third.get_json() == {"status": "duplicate", "alert_id": third.get_json()["alert_id"],
                                "duplicate_of": first["alert_id"]}
    assert run_queue(services) == []
    assert [p.qty for p in services.broker.positions()] == [25]


def test_the_same_body_after_another_signal_is_a_new_signal(client, services):
    for action in ("buy", "sell", "buy"):
        assert post(client, alert_body(action, price=200)).status_code == 202
    assert run_queue(services) == ["FILLED", "FILLED", "FILLED"]
    assert [p.qty for p in services.broker.positions()] == [25]


def test_wait_answers_like_the_original_bot(settings):
    app = create_app(settings, start_background=True)
    client = app.test_client()
    try:
        response = post(client, alert_body("buy", "AAPL", "15 Min", 200), path="/webhook?wait=2.5")
        answer = response.get_json()
        assert response.status_code == 200, answer
        assert {k: answer[k] for k in ("status", "action", "symbol", "timeframe", "amount")} == {
            "status": "success", "action": "BUY", "symbol": "AAPL", "timeframe": "15 Min", "amount": 5000}
        assert answer["order_id"]
        assert answer["outcome"] == "FILLED"
    finally:
        app.extensions["novalgo.background"].stop()


@pytest.mark.parametrize("wait", ["3", "-1", "soon"])
def test_wait_out_of_range_is_400(client, wait):
    assert post(client, alert_body("buy"), path=f"/webhook?wait={wait}").status_code == 400


def test_admin_reads_need_the_token_when_one_is_set(settings):
    app = create_app(settings.with_overrides(admin_token="admin-token"), start_background=False)
    client = app.test_client()
    assert client.get("/config").status_code == 401
    assert client.get("/config", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/config", headers={"Authorization": "Bearer admin-token"}).get_json()
    assert answer["config"] == {"AAPL 15 Min": 5000, "TSLA 30 Min": 30000, "HOOD 45 Min": 40000}
    assert answer["total"] == 3


def test_without_a_token_admin_reads_are_loopback_only(client):
    assert client.get("/positions").status_code == 200
    assert client.get("/positions", environ_base={"REMOTE_ADDR": "52.89.214.238"}).status_code == 401


def test_positions_and_alerts_after_trading(client, services):
    post(client, alert_body("sell", price=250))
    run_queue(services)
    positions = client.get("/positions").get_json()
    assert positions == {"positions": [{"symbol": "AAPL", "qty": "-20", "side": "SHORT", "market_value": "-5000",
                                        "unrealized_pl": "0"}], "total": 1}
    alerts = client.get("/alerts?limit=5").get_json()["alerts"]
    assert [(a["action"], a["symbol"], a["timeframe_minutes"], a["status"]) for a in alerts] == [("sell", "AAPL", 15, "FILLED")]
    assert alerts[0]["orders"][0]["qty"] == "20"
    assert client.get("/alerts?limit=zero").status_code == 400


def test_health_is_public_and_says_503_when_the_executor_is_dead(client, services, app):
    app.extensions["novalgo.started_at"] = services.clock() - 3600
    response = client.get("/health", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert response.status_code == 503
    assert response.get_json()["status"] == "executor not running"
    services.journal.beat()
    body = client.get("/health").get_json()
    assert body["status"] == "healthy"
    assert (body["mode"], body["sheet"], body["broker"]) == ("simulated", "local", "simulated")
    assert SECRET not in json.dumps(body)


def _nets(*addresses):
    import ipaddress

    return tuple(ipaddress.ip_network(a) for a in addresses)
