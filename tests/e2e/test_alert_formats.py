"""End to end: one real rendered body of each alert family through the real service under gunicorn.

One service on local defaults. Its webhook secret is a numeric PineConnector licence id, because
PineConnector's first field is both the licence id and the only secret its messages can carry.
"""

from __future__ import annotations

import json

import pytest

from tests.support.running_service import RunningService

LICENCE_ID = "60123456789"

# (how it is posted, body, what /alerts should show: action, symbol, timeframe)
FAMILIES = [
    pytest.param("body", {  # 3Commas "Strategy" signal bot, rendered
        "secret": LICENCE_ID, "max_lag": "300", "timestamp": "2024-05-01T14:30:00Z", "trigger_price": "189.5",
        "tv_exchange": "NASDAQ", "tv_instrument": "AAPL", "action": "buy", "bot_uuid": "7c0f6d2e-0000-4000-8000-000000000000",
        "strategy_info": {"market_position": "long", "market_position_size": "10", "prev_market_position": "flat",
                          "prev_market_position_size": "0"},
        "order": {"amount": "10", "currency_type": "base"}}, ("buy", "AAPL", "15 Min"), id="3commas"),
    pytest.param("body", f"{LICENCE_ID},sell,TSLA,risk=1,sl=50", ("sell", "TSLA", "30 Min"), id="pineconnector"),
    pytest.param("url", "LDC Open Long ▲ | NASDAQ:HOOD@25.40 | (45)", ("buy", "HOOD", "45"), id="lorentzian"),
    pytest.param("url", "UT Bot Sell AAPL", ("sell", "AAPL", "15 Min"), id="ut-bot"),
    pytest.param("body", {  # a JSON template whose na values TradingView rendered as text
        "action": "buy", "ticker": "TSLA", "interval": "30", "close": "NaN", "quantity": "None",
        "take_profit": "{{plot_0}}", "passphrase": LICENCE_ID}, ("buy", "TSLA", "30"), id="placeholders-as-text"),
    pytest.param("body", {  # strategy placeholders: a sell that leaves the strategy flat is a close
        "ticker": "NASDAQ:HOOD", "interval": "45", "key": LICENCE_ID,
        "strategy": {"order": {"action": "sell", "contracts": "100"}, "position_size": "0"}},
        ("close", "HOOD", "45"), id="strategy-placeholders"),
]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    with RunningService(tmp_path_factory.mktemp("formats") / "data", LICENCE_ID) as started:
        yield started


@pytest.mark.parametrize("posted, body, shown", FAMILIES)
def test_each_alert_family_is_read_and_shown_in_alerts(service, posted, body, shown):
    record, listed = service.settled_record(posted, body)
    assert (record["action"], record["symbol"], record["timeframe"]) == shown
    # Read and decided (a price-less short may FAIL to size; that is trading, not reading).
    assert record["status"] not in ("QUEUED", "PROCESSING", "DUPLICATE"), record
    assert LICENCE_ID not in json.dumps(listed)  # the licence id is the secret: never stored or shown
