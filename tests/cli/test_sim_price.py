"""``novalgo sim price SYMBOL PRICE``: a trader moves the simulator's market and sees what filled,
and the running service (another process) hears of it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner

from novalgo.broker.base import CANCELED, FILLED, PENDING, OrderRequest
from novalgo.broker.simulated import SimulatedBroker
from novalgo.cli import main

NO_KEYS = {"APCA_API_KEY_ID": "", "APCA_API_SECRET_KEY": ""}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def run(data_dir: Path, *args: str, **env: str):
    return CliRunner().invoke(main, ["sim", "price", *args], env={"NOVALGO_DATA_DIR": str(data_dir), **NO_KEYS, **env})


def long_with_exits(broker: SimulatedBroker) -> tuple[str, str]:
    entry = broker.submit(OrderRequest("nva-e-0", "AAPL", "buy", D(10), price_hint=D(100),
                                       take_profit=D(102), stop_loss=D(95)))
    return entry.legs[0].client_order_id, entry.legs[1].client_order_id


def test_a_price_that_reaches_the_take_profit_fills_it_and_says_so(data_dir):
    service = SimulatedBroker(data_dir, watch_every=0)
    take, stop = long_with_exits(service)

    result = run(data_dir, "aapl", "101")
    assert result.exit_code == 0, result.output
    assert result.output == "AAPL 101.00: nothing filled; 2 order(s) still open\n"

    result = run(data_dir, "AAPL", "102.5")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "AAPL 102.50: take-profit sell 10 AAPL filled at 102.00",
        "AAPL 102.50: stop-loss sell 10 AAPL canceled (the take-profit filled: one cancels the other)",
    ]
    assert service.latest_price("AAPL") == D("102.5")
    assert service.find_order(take).status == FILLED and service.find_order(stop).status == CANCELED
    assert service.position("AAPL").qty == 0


def test_a_price_with_no_orders_is_just_recorded(data_dir):
    result = run(data_dir, "BTCUSD", "0.000123")
    assert (result.exit_code, result.output) == (0, "BTC/USD 0.000123: nothing filled\n")
    assert SimulatedBroker(data_dir, watch_every=0).latest_price("BTC/USD") == D("0.000123")


@pytest.mark.parametrize("args", [("AAPL", "abc"), ("--", "AAPL", "-3"), ("AAPL", "0"), ("AAPL", "NaN"), ("BTCUSD.P", "5")])
def test_a_bad_symbol_or_price_is_refused(data_dir, args):
    result = run(data_dir, *args)
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_with_alpaca_keys_it_refuses(data_dir):
    result = run(data_dir, "AAPL", "100", APCA_API_KEY_ID="key", APCA_API_SECRET_KEY="secret")
    assert result.exit_code == 2 and "prices come from Alpaca" in result.output
    assert not (data_dir / "simbroker.sqlite3").exists()


def test_the_running_service_hears_a_fill_made_by_the_command_in_another_process(data_dir):
    service = SimulatedBroker(data_dir, watch_every=0.05)  # the leader's broker, listening
    take, stop = long_with_exits(service)
    heard: list = []
    handle = service.listen(heard.append, lambda: None)
    try:
        env = {**os.environ, "NOVALGO_DATA_DIR": str(data_dir), **NO_KEYS}
        done = subprocess.run([sys.executable, "-m", "novalgo", "sim", "price", "AAPL", "94"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == "AAPL 94.00: stop-loss sell 10 AAPL filled at 94.00"
        deadline = time.monotonic() + 5
        while not any(s.client_order_id == stop and s.status == FILLED for s in heard) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [(s.client_order_id, s.status) for s in heard] == [
            (stop, FILLED), ("nva-e-0", FILLED), (take, CANCELED)]
        assert heard[1].legs[1].status == FILLED and heard[1].legs[0].status in (PENDING, CANCELED)
    finally:
        handle.stop()
