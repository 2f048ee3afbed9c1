"""POST /webhook?dry_run=1: an operator's rehearsal of an alert, behind the admin token, trading nothing."""

from __future__ import annotations

import pytest

from novalgo.web import create_app
from tests.support.alerts import SECRET, alert_body, run_queue

TOKEN = "test-admin-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def guarded(settings):
    app = create_app(settings.with_overrides(admin_token=TOKEN), start_background=False)
    return app.test_client(), app.extensions["novalgo"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}], ids=["no-token", "wrong-token"])
def test_without_the_admin_token_a_dry_run_is_refused_and_nothing_is_journalled(guarded, headers):
    client, services = guarded
    response = client.post("/webhook?dry_run=1", data=alert_body("buy", price=200), headers=headers)
    assert response.status_code == 401
    assert "NOVALGO_ADMIN_TOKEN" in response.get_json()["error"]
    assert services.journal.recent() == []


def test_with_no_token_set_only_this_machine_may_dry_run(client, services):
    response = client.post("/webhook?dry_run=1", data=alert_body("buy", price=200),
                           environ_base={"REMOTE_ADDR": "52.89.214.238"})  # TradingView may alert, not rehearse
    assert response.status_code == 401
    assert services.journal.recent() == []


def test_the_secret_is_still_checked(guarded):
    client, _ = guarded
    response = client.post("/webhook?dry_run=1", data=alert_body("buy", secret="wrong"), headers=ADMIN)
    assert (response.status_code, response.get_json()) == (401, {"error": "bad or missing secret"})


def test_the_answer_names_what_was_read_the_row_and_the_orders_without_trading(guarded):
    client, services = guarded
    assert client.post("/webhook", data=alert_body("buy", price=200)).status_code == 202
    assert run_queue(services) == ["FILLED"]
    alerts_before = len(services.journal.recent(1000))

    response = client.post(f"/webhook/{SECRET}?dry_run=1", data="LDC Open Short ▼ | NASDAQ:AAPL@250 | (15)",
                           headers=ADMIN)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "dry_run": True,
        "alert": {"action": "sell", "symbol": "AAPL", "timeframe": "15", "timeframe_minutes": 15, "price": "250",
                  "quantity": None, "take_profit": None, "stop_loss": None},
        "config_row": {"row": "AAPL 15 Min", "row_number": 2, "position_size": "5000", "active": True},
        "holding": {"held": "25", "pending": "0"},
        "orders": [{"purpose": "close", "side": "sell", "qty": "25", "notional": None},
                   {"purpose": "open", "side": "sell", "qty": "20", "notional": None}],
        "status": "FILLED", "reason": ""}
    assert len(services.journal.recent(1000)) == alerts_before
    assert services.broker.position("AAPL").qty == 25
    assert run_queue(services) == []


def test_a_refused_body_answers_as_the_webhook_does(guarded):
    client, _ = guarded
    response = client.post(f"/webhook/{SECRET}?dry_run=1", data="Buy AAPL or Sell TSLA", headers=ADMIN)
    assert response.status_code == 400
    assert set(response.get_json()) == {"error", "read", "hint"}


def test_an_unclear_dry_run_value_is_refused_not_traded(guarded):
    client, services = guarded
    response = client.post("/webhook?dry_run=maybe", data=alert_body("buy", price=200), headers=ADMIN)
    assert response.status_code == 400
    assert "dry_run='maybe'" in response.get_json()["error"]
    assert services.journal.recent() == []
