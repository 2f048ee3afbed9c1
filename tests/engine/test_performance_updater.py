"""The Performance tab after real trading: executor → simulated broker → journal → FIFO → sheet."""

from __future__ import annotations

import csv
from datetime import timedelta
from decimal import Decimal

from novalgo.broker.base import OrderRequest
from novalgo.engine.performance import PerformanceUpdater
from novalgo.sheet.layout import BREAKDOWN_HEADERS, PERFORMANCE_HEADERS
from tests.support.alerts import alert_body, journal_alert, run_queue


def trade(services, *steps) -> None:
    for action, symbol, timeframe, price, status in steps:
        journal_alert(services, alert_body(action, symbol, timeframe, price))
        assert run_queue(services) == [status]


def performance_csv(settings) -> list[list[str]]:
    with open(settings.data_dir / "sheet" / "Performance.csv", newline="") as handle:
        return list(csv.reader(handle))


def updater(services, settings, **kwargs) -> PerformanceUpdater:
    return PerformanceUpdater(services.broker, services.sheet, services.journal, settings,
                              **{"clock": services.clock.now, **kwargs})


def test_the_trading_scenario_shows_aapl_trades_with_the_right_pnl(services, settings):
    trade(services,
          ("buy", "NASDAQ:AAPL", "15", 200, "FILLED"),   # long 25
          ("sell", "NASDAQ:AAPL", "15", 250, "FILLED"),  # close +1250, short 20
          ("buy", "NASDAQ:AAPL", "15", 200, "FILLED"),   # cover +1000, long 25
          ("close", "NASDAQ:AAPL", "15", 210, "WAITING"))  # close +250

    numbers = updater(services, settings).run_once()

    cells = performance_csv(settings)
    assert cells[0] == list(PERFORMANCE_HEADERS)
    aapl = cells[1]
    assert aapl[:9] == ["AAPL", "3", "3", "0", "100.0%", "$2500.00", "$833.33", "$1250.00", "$250.00"]
    assert aapl[9].endswith(("PST", "PDT")), "last_updated in the configured zone (Los Angeles)"
    assert cells[2][:6] == ["TOTAL", "3", "3", "0", "100.0%", "$2500.00"]
    assert cells[4] == list(BREAKDOWN_HEADERS)
    assert cells[5] == ["AAPL", "15 Min", "3", "3", "0", "100.0%", "$2500.00", "$833.33", "$1250.00", "$250.00"]
    assert len(cells) == 6
    assert numbers["symbols"]["AAPL"]["total_pnl"] == "2500.00"
    assert numbers["by_timeframe"]["AAPL 15 Min"]["total_trades"] == 3
    assert numbers["fills"] == 6


def test_each_trade_is_credited_to_the_row_whose_alert_closed_it_and_others_are_manual(services, settings):
    with open(settings.data_dir / "sheet" / "Config.csv", "a") as handle:
        handle.write("AAPL,2000,TRUE,1 Hour,,\n")
    trade(services,
          ("buy", "AAPL", "15", 200, "FILLED"),   # 15 Min: long 25
          ("sell", "AAPL", "60", 210, "FILLED"),  # 1 Hour closes the 25 (+250) and shorts 9
          ("buy", "AAPL", "60", 205, "FILLED"))   # 1 Hour covers the 9 (+45) and buys $2000
    long_qty = services.broker.position("AAPL").qty
    # An order placed by hand at the broker, not by any alert: closes the long at a loss.
    services.broker.submit(OrderRequest("by-hand-1", "AAPL", "sell", qty=long_qty, price_hint=Decimal("204")))

    numbers = updater(services, settings).run_once()

    loss = (Decimal("204") - Decimal("205")) * long_qty
    breakdown = numbers["by_timeframe"]
    assert list(breakdown) == ["AAPL 1 Hour", "AAPL manual"], "no 15 Min trade: its long was closed by 1 Hour"
    assert (breakdown["AAPL 1 Hour"]["total_trades"], breakdown["AAPL 1 Hour"]["total_pnl"]) == (2, "295.00")
    assert breakdown["AAPL manual"]["total_pnl"] == str(loss.quantize(Decimal("0.01")))
    assert numbers["symbols"]["AAPL"]["total_pnl"] == str((295 + loss).quantize(Decimal("0.01")))
    cells = performance_csv(settings)
    assert [row[:3] for row in cells[5:]] == [["AAPL", "1 Hour", "2"], ["AAPL", "manual", "1"]]


def test_fills_older_than_the_window_are_left_out(services, settings):
    trade(services, ("buy", "AAPL", "15", 200, "FILLED"), ("close", "AAPL", "15", 210, "WAITING"))
    later = services.clock.now() + timedelta(days=settings.performance_days + 1)

    numbers = updater(services, settings, clock=lambda: later).run_once()

    assert numbers["symbols"] == {} and numbers["fills"] == 0
    assert [row[0] for row in performance_csv(settings)] == ["symbol", "TOTAL", "", "symbol"]


def test_a_shorter_table_replaces_a_longer_one(services, settings):
    trade(services, ("buy", "AAPL", "15", 200, "FILLED"), ("close", "AAPL", "15", 210, "WAITING"),
          ("buy", "TSLA", "30", 300, "FILLED"))
    updater(services, settings).run_once()
    assert [row[0] for row in performance_csv(settings)][:4] == ["symbol", "AAPL", "TSLA", "TOTAL"]
    later = services.clock.now() + timedelta(days=settings.performance_days + 1)
    updater(services, settings, clock=lambda: later).run_once()
    assert len(performance_csv(settings)) == 4


def test_get_performance_rebuilds_the_tab_and_answers_with_the_numbers(client, services, settings):
    trade(services, ("buy", "AAPL", "15", 200, "FILLED"), ("close", "AAPL", "15", 190.5, "WAITING"))

    answer = client.get("/performance")

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "Performance updated"
    assert body["symbols"]["AAPL"]["total_pnl"] == "-237.50"  # 25 shares × −$9.50
    assert body["by_timeframe"]["AAPL 15 Min"]["losing_trades"] == 1
    assert performance_csv(settings)[1][:6] == ["AAPL", "1", "0", "1", "0.0%", "-$237.50"]
