"""The report from an Alpaca account: alpaca-py against the wire-level fake Alpaca."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from novalgo.broker.alpaca import AlpacaBroker
from novalgo.broker.base import OrderRequest
from tests.fakes.alpaca_server import FakeAlpaca
from tests.support.analytics import run
from tests.support.clock import pinned_start


@pytest.fixture
def alpaca():
    with FakeAlpaca() as server:
        yield server


def business_days_to_yesterday(n: int) -> list[date]:
    today = pinned_start().astimezone(ZoneInfo("America/New_York")).date()  # the commands' and the fake's today
    return [d.date() for d in pd.bdate_range(end=today - timedelta(days=1), periods=n)]


def test_report_json_from_alpaca_with_spy_comparison(workdir, alpaca):
    days = business_days_to_yesterday(15)
    rng = np.random.default_rng(5)
    equity = 100_000 * np.cumprod(1 + rng.normal(0.001, 0.01, len(days)))
    spy = 500 * np.cumprod(1 + rng.normal(0.0005, 0.008, len(days)))
    alpaca.set_equity_history([(d, Decimal(f"{v:.2f}")) for d, v in zip(days, equity)])
    alpaca.set_daily_bars("SPY", [(d, Decimal(f"{v:.2f}")) for d, v in zip(days, spy)])

    broker = AlpacaBroker(alpaca.key_id, alpaca.secret_key, base_url=alpaca.url, data_url=alpaca.url, sdk_retry_wait=0,
                          wall_clock=alpaca.clock)
    broker.submit(OrderRequest("nva-a-0", "AAPL", "buy", qty=Decimal(10)))
    alpaca.set_price("AAPL", "160")
    broker.submit(OrderRequest("nva-b-0", "AAPL", "sell", qty=Decimal(10)))  # +$100 closed
    broker.submit(OrderRequest("nva-c-0", "MSFT", "buy", qty=Decimal(5)))  # still open

    env = {"APCA_API_KEY_ID": alpaca.key_id, "APCA_API_SECRET_KEY": alpaca.secret_key,
           "APCA_API_BASE_URL": alpaca.url, "APCA_API_DATA_URL": alpaca.url}
    result = run("report", "--json", "--dry-run", "--period", "1M", env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["source"] == "alpaca (paper)"
    assert data["days"] == len(days) + 1  # the history plus today's equity
    assert data["benchmark"]["common_days"] >= len(days) - 2 and data["benchmark"]["beta"] is not None
    assert data["trades"]["total_trades"] == 1 and data["trades"]["total_pnl"] == "100.00"
    assert [p["symbol"] for p in data["positions"]] == ["MSFT"]
    assert data["account"]["mode"] == "paper"
    assert alpaca.count("GET", "/v2/account/portfolio/history") == 1
    assert alpaca.secret_key not in result.output


def test_alpaca_refusing_the_keys_is_a_data_error_not_a_traceback(workdir, alpaca):
    env = {"APCA_API_KEY_ID": alpaca.key_id, "APCA_API_SECRET_KEY": "wrong",
           "APCA_API_BASE_URL": alpaca.url, "APCA_API_DATA_URL": alpaca.url}
    result = run("profit", env=env)
    assert result.exit_code == 3
    assert "cannot read the account data" in result.stderr and "wrong" not in result.output
