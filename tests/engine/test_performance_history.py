"""The Performance tab over the account's whole history, through AlpacaBroker → alpaca-py → the fake Alpaca."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal

from novalgo.broker.alpaca import AlpacaBroker
from novalgo.broker.throttle import RequestBudget
from novalgo.engine.journal import Journal
from novalgo.engine.performance import PerformanceUpdater
from novalgo.sheet.local import LocalSheetBackend
from tests.fakes.alpaca_server import FakeAlpaca
from tests.support.clock import pinned_start

ACTIVITIES = ("GET", "/v2/account/activities/FILL")
NOW = pinned_start()  # where the fake's clock starts


def broker_for(fake: FakeAlpaca) -> AlpacaBroker:
    return AlpacaBroker(fake.key_id, fake.secret_key, base_url=fake.url, data_url=fake.url, wall_clock=fake.clock,
                        budget=RequestBudget(), sdk_retry_wait=0, account_ttl=0)


def updater(fake: FakeAlpaca, settings) -> PerformanceUpdater:
    """A fresh process: its own broker, journal and sheet on the same data dir."""
    journal = Journal(settings.data_dir / "journal.sqlite3", sync="normal", clock=fake.clock)
    return PerformanceUpdater(broker_for(fake), LocalSheetBackend.from_settings(settings), journal, settings,
                              clock=fake.clock.now)


def performance_rows(settings) -> list[list[str]]:
    with open(settings.data_dir / "sheet" / "Performance.csv", newline="") as handle:
        return list(csv.reader(handle))


def test_a_long_opened_before_the_window_and_sold_inside_it_is_one_trade_against_its_real_entry(fake, settings):
    assert settings.performance_days == 30
    fake.add_fills("AAPL", 1, qty=Decimal(10), price=120, start=NOW - timedelta(days=60))
    fake.add_fills("AAPL", 1, qty=Decimal(10), side="sell", price=150, start=NOW - timedelta(days=2))

    numbers = updater(fake, settings).run_once()

    assert numbers["symbols"]["AAPL"]["total_trades"] == 1
    assert numbers["symbols"]["AAPL"]["winning_trades"] == 1
    assert numbers["symbols"]["AAPL"]["total_pnl"] == "300.00"  # 10 × ($150 − $120), not a $1,500 short
    assert numbers["symbols"]["AAPL"]["open_qty"] == "0"
    assert (numbers["fills"], numbers["history_fills"]) == (1, 2)
    assert performance_rows(settings)[1][:6] == ["AAPL", "1", "1", "0", "100.0%", "$300.00"]


def test_a_losing_long_from_before_the_window_is_a_loss(fake, settings):
    fake.add_fills("MSFT", 1, qty=Decimal(4), price=400, start=NOW - timedelta(days=60))
    fake.add_fills("MSFT", 1, qty=Decimal(4), side="sell", price=390, start=NOW - timedelta(days=1))

    msft = updater(fake, settings).run_once()["symbols"]["MSFT"]

    assert (msft["total_trades"], msft["losing_trades"], msft["total_pnl"]) == (1, 1, "-40.00")


def test_trades_closed_before_the_window_are_not_shown(fake, settings):
    fake.add_fills("AAPL", 1, qty=Decimal(10), price=100, start=NOW - timedelta(days=90))
    fake.add_fills("AAPL", 1, qty=Decimal(10), side="sell", price=110, start=NOW - timedelta(days=60))
    fake.add_fills("AAPL", 1, qty=Decimal(5), price=100, start=NOW - timedelta(days=3))

    aapl = updater(fake, settings).run_once()["symbols"]["AAPL"]

    assert (aapl["total_trades"], aapl["open_qty"]) == (0, "5")


def test_a_short_opened_before_the_window_and_covered_inside_it_wins(fake, settings):
    fake.add_fills("TSLA", 1, qty=Decimal(3), side="sell", price=250, start=NOW - timedelta(days=45))
    fake.add_fills("TSLA", 1, qty=Decimal(3), price=200, start=NOW - timedelta(days=5))
    assert [a["side"] for a in fake.activities] == ["sell_short", "buy"]

    tsla = updater(fake, settings).run_once()["symbols"]["TSLA"]

    assert (tsla["total_trades"], tsla["winning_trades"], tsla["total_pnl"]) == (1, 1, "150.00")


def test_the_fake_says_sell_for_a_close_and_sell_short_for_an_open_or_an_add(fake):
    fake.add_fills("AAPL", 1, qty=Decimal(2), start=NOW - timedelta(days=3))
    fake.add_fills("AAPL", 1, qty=Decimal(2), side="sell", start=NOW - timedelta(days=2))  # closes the long
    fake.add_fills("AAPL", 2, qty=Decimal(1), side="sell", start=NOW - timedelta(days=1))  # opens, then adds

    assert [a["side"] for a in fake.activities] == ["buy", "sell", "sell_short", "sell_short"]
    assert all(o["side"] in ("buy", "sell") for o in fake.orders.values()), "orders stay buy or sell"


def test_the_first_run_pages_back_to_the_first_fill_and_later_runs_read_only_new_pages(fake, settings):
    fake.add_fills("AAPL", 250, start=NOW - timedelta(days=50), step=timedelta(hours=1))
    performance = updater(fake, settings)

    assert performance.run_once()["history_fills"] == 250
    assert fake.count(*ACTIVITIES) == 3  # 100 + 100 + 50

    performance.run_once()
    assert fake.count(*ACTIVITIES) == 4, "nothing new: one short page after the newest id"

    fake.add_fills("AAPL", 1, qty=Decimal(250), side="sell", price=160, start=NOW - timedelta(minutes=5))
    numbers = performance.run_once()
    assert fake.count(*ACTIVITIES) == 5
    assert numbers["history_fills"] == 251
    assert numbers["symbols"]["AAPL"]["total_pnl"] == "2500.00"  # 250 × ($160 − $150)


def test_the_next_page_starts_after_the_newest_stored_id(fake, settings):
    fake.add_fills("AAPL", 3, start=NOW - timedelta(days=1))
    performance = updater(fake, settings)
    performance.run_once()
    assert "page_token" not in fake.activity_queries[0], "the first run starts at the account's first fill"

    performance.run_once()

    query = fake.activity_queries[-1]
    assert (query["page_token"], query["direction"], query["page_size"]) == (fake.activities[-1]["id"], "asc", "100")


def test_a_restart_keeps_the_stored_history_and_reads_only_what_is_new(fake, settings):
    fake.add_fills("AAPL", 1, qty=Decimal(10), price=120, start=NOW - timedelta(days=60))
    updater(fake, settings).run_once()
    fake.add_fills("AAPL", 1, qty=Decimal(10), side="sell", price=150, start=NOW - timedelta(days=1))

    numbers = updater(fake, settings).run_once()  # a new process: new broker, journal and sheet objects

    assert fake.activity_queries[-1]["page_token"] == fake.activities[0]["id"], "starts after the stored fill"
    assert numbers["symbols"]["AAPL"]["total_pnl"] == "300.00"
    assert numbers["history_fills"] == 2


def test_the_breakdown_credits_the_row_whose_alert_closed_the_old_position(fake, settings):
    from novalgo.web import create_app
    from tests.support.alerts import alert_body, journal_alert, run_queue

    fake.add_fills("AAPL", 1, qty=Decimal(10), price=120, start=NOW - timedelta(days=60))
    fake.set_price("AAPL", 130)
    services = create_app(settings.with_overrides(fill_wait=0.3), broker=broker_for(fake),
                          start_background=False).extensions["novalgo"]
    journal_alert(services, alert_body("close", "AAPL", "15", 130))
    assert run_queue(services) == ["WAITING"]

    numbers = services.performance.run_once()

    assert numbers["by_timeframe"]["AAPL 15 Min"]["total_pnl"] == "100.00"  # 10 × ($130 − $120)
    assert list(numbers["by_timeframe"]) == ["AAPL 15 Min"]
