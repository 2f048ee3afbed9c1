"""Other bridges' messages through the real webhook on local defaults: the secret where each can carry it."""

from __future__ import annotations

import json

import pytest

from novalgo.web import create_app
from tests.support.alerts import SECRET


def post(client, body, path="/webhook"):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data=data.encode("utf-8"))


# (body, posted to, action, symbol): each family of issue 22, as its source documents it.
FAMILIES = [
    pytest.param({"symbol": "AAPL", "date": "2024-05-01T14:30:00Z", "data": "sell", "quantity": "1",
                  "risk_percentage": "0", "price": "189.5", "tp": "0", "sl": "0", "token": SECRET,
                  "multiple_accounts": [{"token": SECRET, "account_id": "2"}]}, "/webhook", "SELL", "AAPL",
                 id="pickmytrade"),
    pytest.param({"ticker": "TSLA", "closeall": "true", "pointer": "m1k3y", "secret": SECRET}, "/webhook", "CLOSE",
                 "TSLA", id="tickerly-closeall"),
    pytest.param({"data": {"strategy-order-action": "sell", "ticker": "NASDAQ:HOOD", "passphrase": SECRET}},
                 "/webhook", "SELL", "HOOD", id="nested-hyphenated"),
    pytest.param("Chandelier Exit Buy, NASDAQ:MSFT", f"/webhook/{SECRET}", "BUY", "MSFT", id="chandelier-exit"),
    pytest.param(f"{SECRET} , closeshort , NVDA", "/webhook", "CLOSE", "NVDA", id="pineconnector-text-licence"),
    pytest.param("MyKeys(AAPL) { market(side=buy, amount=1); } #bot", f"/webhook/{SECRET}", "BUY", "AAPL",
                 id="alertatron"),
    pytest.param("e=kraken s=ETHUSD b=buy q=0.5 t=market", f"/webhook/{SECRET}", "BUY", "ETH/USD", id="autoview"),
    pytest.param("SYMBOL=SOLUSD;SIGNAL=BUY;ORDER_TYPE=MARKET;VOLUME=2%", f"/webhook/{SECRET}", "BUY", "SOL/USD",
                 id="octobot"),
    pytest.param({"action": "sell", "ticker": "AAPL", "strategy": {"market_position": "flat"}, "key": SECRET},
                 "/webhook", "CLOSE", "AAPL", id="sell-to-flat"),
]


@pytest.mark.parametrize("body, path, action, symbol", FAMILIES)
def test_each_dialect_is_accepted_through_the_webhook(client, services, body, path, action, symbol):
    response = post(client, body, path)
    assert response.status_code == 202, response.get_json()
    answer = response.get_json()
    assert (answer["action"], answer["symbol"]) == (action, symbol)
    assert SECRET not in services.journal.get(answer["alert_id"])["body"]


def test_pineconnector_with_another_licence_id_still_needs_the_secret(client):
    assert post(client, "someone-else , buy , AAPL").status_code == 401


def test_broken_json_with_the_right_secret_says_where_it_breaks(client, services):
    response = post(client, '{"action": "buy", "symbol": "AAPL", "secret": "' + SECRET + '",}')
    assert response.status_code == 400
    answer = response.get_json()
    assert "not valid JSON" in answer["error"] and "line 1 column" in answer["error"]
    assert SECRET not in json.dumps(answer)
    assert services.journal.recent() == []


def test_broken_json_without_the_secret_says_nothing_about_the_body(client):
    response = post(client, '{"action": "buy", "symbol": "AAPL", "secret": "wrong",}')
    assert (response.status_code, response.get_json()) == (401, {"error": "bad or missing secret"})


def test_indicator_names_from_the_setting(settings):
    app = create_app(settings.with_overrides(indicator_names=("Short Squeeze",)), start_background=False)
    response = post(app.test_client(), "Short Squeeze Long NASDAQ:AAPL", f"/webhook/{SECRET}")
    assert response.status_code == 202 and response.get_json()["action"] == "BUY"
