"""On a fresh simulator `novalgo try` and the service agree on a text alert that carries no price."""

from __future__ import annotations

import csv

from novalgo.broker.simulated import SEED_PRICES, SimulatedBroker
from novalgo.settings import Settings
from novalgo.sheet.local import LocalSheetBackend
from novalgo.web import create_app
from tests.cli.test_try import lines, run_try
from tests.support.alerts import SECRET, run_queue


def service(data_dir):
    app = create_app(Settings(webhook_secret=SECRET, data_dir=data_dir, run_background=False, journal_sync="normal"),
                     start_background=False)
    return app.test_client(), app.extensions["novalgo"]


def test_buy_aapl_15_fills_in_try_and_in_the_service(tmp_path):
    data_dir = tmp_path / "data"
    shown = lines(run_try(data_dir, "BUY AAPL 15").output)
    assert "outcome FILLED once the orders fill" in shown

    client, services = service(data_dir)
    assert client.post(f"/webhook/{SECRET}", data="BUY AAPL 15").status_code == 202
    assert run_queue(services) == ["FILLED"]
    assert services.broker.position("AAPL").avg_entry_price == SEED_PRICES["AAPL"]


def test_a_symbol_the_simulator_has_no_price_for_fails_in_both(tmp_path):
    data_dir = tmp_path / "data"
    config = LocalSheetBackend(data_dir / "sheet").config_path
    rows = list(csv.reader(config.open()))
    rows.append(["NVDA", "1000", "TRUE", "15 Min"] + [""] * (len(rows[0]) - 4))
    csv.writer(config.open("w", newline="")).writerows(rows)

    shown = lines(run_try(data_dir, "BUY NVDA 15").output)
    assert "outcome FAILED: no price for NVDA: the simulator fills at the alert's price, so send one " \
           "('BUY NVDA 15 @{{close}}' in text, \"price\": \"{{close}}\" in JSON)" in shown, shown

    client, services = service(data_dir)
    assert client.post(f"/webhook/{SECRET}", data="BUY NVDA 15").status_code == 202
    assert run_queue(services) == ["FAILED"]


def test_first_prices_are_given_once_to_a_simulator_that_has_seen_none(tmp_path):
    fresh = SimulatedBroker(tmp_path / "fresh", watch_every=0)
    assert fresh.seed_prices() and fresh.latest_price("AAPL") == SEED_PRICES["AAPL"]
    fresh.observe_price("AAPL", SEED_PRICES["AAPL"] + 1)
    assert not fresh.seed_prices() and fresh.latest_price("AAPL") == SEED_PRICES["AAPL"] + 1

    used = SimulatedBroker(tmp_path / "used", watch_every=0)
    used.observe_price("NVDA", SEED_PRICES["AAPL"])
    assert not used.seed_prices() and used.latest_price("AAPL") is None
