"""End to end: issue 22's dialects through the real service (`novalgo serve`, gunicorn) on local defaults.

Its secret is the kind `novalgo serve` generates (letters and digits), so PineConnector's
licence-id field carries it as any text; every other text is posted with the secret in the URL.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.running_service import RunningService

SECRET = "Gen3rated-secret_XyZ"

# (posted with the secret in: "body" or "url", body, what /alerts shows: action, symbol)
DIALECTS = [
    pytest.param("body", {"symbol": "AAPL", "date": "2024-05-01T14:30:00Z", "data": "buy", "quantity": "1",
                          "risk_percentage": "0", "price": "189.5", "tp": "0", "sl": "0", "token": SECRET},
                 ("buy", "AAPL"), id="pickmytrade"),
    pytest.param("body", {"ticker": "AAPL", "closeall": "true", "pointer": "m1k3y", "secret": SECRET},
                 ("close", "AAPL"), id="tickerly-closeall"),
    pytest.param("body", {"data": {"strategy-order-action": "sell", "ticker": "NASDAQ:TSLA"},
                          "strategy": {"market_position": "flat"}, "secret": SECRET}, ("close", "TSLA"),
                 id="nested-hyphenated-sell-to-flat"),
    pytest.param("url", "Chandelier Exit Buy, NASDAQ:HOOD", ("buy", "HOOD"), id="chandelier-exit"),
    pytest.param("body", f"{SECRET} , closeshort , TSLA", ("close", "TSLA"), id="pineconnector-text-licence"),
    pytest.param("url", "MyKeys(HOOD) { market(position=0); } #bot", ("close", "HOOD"), id="alertatron"),
    pytest.param("url", "e=alpaca s=TSLA b=short q=2 t=market", ("sell", "TSLA"), id="autoview"),
    pytest.param("url", "SYMBOL=AAPL;SIGNAL=SELL;ORDER_TYPE=MARKET;VOLUME=2%", ("sell", "AAPL"), id="octobot"),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with RunningService(tmp_path_factory.mktemp("dialects") / "data", SECRET) as started:
        yield started


@pytest.mark.parametrize("posted, body, shown", DIALECTS)
def test_each_dialect_is_read_and_decided_by_the_real_service(service, posted, body, shown):
    record, listed = service.settled_record(posted, body)
    assert (record["action"], record["symbol"]) == shown
    assert record["status"] not in ("QUEUED", "PROCESSING", "DUPLICATE", "FAILED"), record
    assert SECRET not in json.dumps(listed)


def test_broken_json_with_the_secret_is_told_where_it_breaks(service):
    answer = requests.post(f"{service.url}/webhook", data='{"action": "buy", "symbol": "AAPL" "secret": "' + SECRET + '"}',
                           timeout=10)
    assert answer.status_code == 400 and "line 1 column" in answer.json()["error"], answer.text
