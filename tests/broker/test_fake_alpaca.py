"""The fake Alpaca itself: raw HTTP, so its paths, status codes and bodies are pinned down."""

from __future__ import annotations

import pytest
import requests


@pytest.fixture
def http(fake):
    session = requests.Session()
    session.headers.update({"APCA-API-KEY-ID": fake.key_id, "APCA-API-SECRET-KEY": fake.secret_key})
    return lambda method, path, **kw: session.request(method, fake.url + path, timeout=5, **kw)


def order(**fields):
    return {"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day", **fields}


def test_keys_are_required(fake):
    answer = requests.get(fake.url + "/v2/account", timeout=5)
    assert answer.status_code == 401 and answer.json() == {"code": 40110000, "message": "request is not authorized"}
    data = requests.get(fake.url + "/v2/stocks/trades/latest?symbols=AAPL&feed=iex", timeout=5)
    assert data.status_code == 403


def test_missing_position_is_alpacas_404(http):
    answer = http("GET", "/v2/positions/AAPL")
    assert answer.status_code == 404
    assert answer.json() == {"code": 40410000, "message": "position does not exist"}


@pytest.mark.parametrize("fields, status, message", [
    ({"qty": "1", "notional": "10"}, 422, "only one of qty or notional is accepted"),
    ({}, 422, "qty or notional is required"),
    ({"notional": "100", "time_in_force": "gtc"}, 422, "fractional orders must be DAY orders"),
    ({"qty": "0.5", "time_in_force": "gtc"}, 422, "fractional orders must be DAY orders"),
    ({"qty": "0.5", "side": "sell"}, 422, "fractional orders cannot be sold short"),
    ({"notional": "5000000"}, 403, "insufficient buying power"),
    ({"symbol": "BTC/USD", "qty": "1", "time_in_force": "day"}, 422, "invalid crypto time_in_force"),
    ({"symbol": "BTC/USD", "qty": "1", "side": "sell", "time_in_force": "gtc"}, 403,
     "insufficient balance for BTC (requested: 1, available: 0)"),
])
def test_order_rules(http, fields, status, message):
    answer = http("POST", "/v2/orders", json=order(**fields))
    assert (answer.status_code, answer.json()["message"]) == (status, message)


def test_client_order_id_must_be_unique(http):
    assert http("POST", "/v2/orders", json=order(qty="1", client_order_id="u-1")).status_code == 200
    again = http("POST", "/v2/orders", json=order(qty="1", client_order_id="u-1"))
    assert again.status_code == 422
    assert again.json() == {"code": 40010001, "message": "client_order_id must be unique"}


def test_orders_list_filters_and_lookup_by_client_id(fake, http):
    fake.market.close()
    for n, symbol in enumerate(("AAPL", "MSFT", "AAPL")):
        http("POST", "/v2/orders", json=order(symbol=symbol, qty="1", client_order_id=f"l-{n}"))
    assert len(http("GET", "/v2/orders").json()) == 3  # status=open by default
    assert [o["client_order_id"] for o in http("GET", "/v2/orders?symbols=AAPL&direction=asc").json()] == ["l-0", "l-2"]
    assert len(http("GET", "/v2/orders?status=closed").json()) == 0
    found = http("GET", "/v2/orders:by_client_order_id?client_order_id=l-1").json()
    assert found["symbol"] == "MSFT" and found["status"] == "accepted"
    assert http("DELETE", f"/v2/orders/{found['id']}").status_code == 204
    assert http("GET", f"/v2/orders/{found['id']}").json()["status"] == "canceled"
    fake.market.open()
    assert {o["status"] for o in http("GET", "/v2/orders?status=all").json()} == {"filled", "canceled"}


def test_activities_are_newest_first_and_page_by_token(fake, http):
    fake.add_fills("AAPL", 5)
    first = http("GET", "/v2/account/activities/FILL?page_size=2").json()
    assert first[0]["transaction_time"] > first[1]["transaction_time"]
    rest = http("GET", f"/v2/account/activities/FILL?page_size=100&page_token={first[-1]['id']}").json()
    assert len(rest) == 3 and rest[0]["transaction_time"] < first[-1]["transaction_time"]
    assert len(http("GET", "/v2/account/activities?activity_types=FILL").json()) == 5


def test_faults_count_and_stop(fake, http):
    fake.fail("GET", "/v2/clock", 503, times=2)
    assert [http("GET", "/v2/clock").status_code for _ in range(3)] == [503, 503, 200]
    assert fake.count("GET", "/v2/clock") == 3


def test_sip_data_is_refused_like_a_free_plan(http):
    answer = http("GET", "/v2/stocks/trades/latest?symbols=AAPL")
    assert answer.status_code == 403 and "SIP" in answer.json()["message"]
    single = http("GET", "/v2/stocks/AAPL/trades/latest?feed=iex").json()
    assert single["symbol"] == "AAPL" and single["trade"]["p"] == 150.0
