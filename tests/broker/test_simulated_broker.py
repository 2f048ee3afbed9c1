"""The simulated broker: $100,000 of pretend money that fills at the alert's price and keeps Alpaca's rules."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from novalgo.broker.base import FILLED, REJECTED, OrderRequest
from novalgo.broker.simulated import SimulatedBroker
from tests.support.clock import Clock

T0 = datetime(2025, 3, 3, 15, 0, tzinfo=timezone.utc).timestamp()
DAY = 86400.0
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def broker(data_dir, clock) -> SimulatedBroker:
    return SimulatedBroker(data_dir, clock=clock)


_ids = iter(range(1, 10**6))


def order(side: str, symbol: str = "AAPL", qty=None, notional=None, price=None, cid: str | None = None) -> OrderRequest:
    return OrderRequest(cid or f"cid-{next(_ids)}", symbol, side, None if qty is None else D(qty),
                        None if notional is None else D(notional), None if price is None else D(price))


def test_a_fresh_account_has_100000_dollars_and_nothing_held(broker):
    account = broker.account()
    assert (account.mode, account.status, account.cash, account.equity, account.buying_power) == (
        "simulated", "ACTIVE", 100000, 100000, 100000)
    assert broker.positions() == []
    assert broker.position("AAPL").qty == 0 and broker.position("AAPL").side == "FLAT"
    assert broker.market_open() is True


def test_a_dollar_buy_fills_at_the_alerts_price(broker):
    state = broker.submit(order("buy", notional="5000", price="200", cid="nva-a1-0"))
    assert (state.status, state.filled_qty, state.filled_avg_price, state.client_order_id) == (FILLED, 25, 200, "nva-a1-0")
    assert state.is_final and state.broker_order_id
    position = broker.position("AAPL")
    assert (position.qty, position.avg_entry_price, position.side) == (25, 200, "LONG")
    assert broker.account().cash == 95000


def test_a_dollar_buy_that_does_not_divide_buys_a_fraction(broker):
    state = broker.submit(order("buy", notional="5000", price="201"))
    assert state.filled_qty == D("24.875621890")  # Alpaca's nine decimal places, rounded down
    assert broker.position("AAPL").qty == D("24.875621890")


def test_a_short_is_whole_shares(broker):
    state = broker.submit(order("sell", qty="20", price="250"))
    assert (state.status, state.filled_qty, state.filled_avg_price) == (FILLED, 20, 250)
    position = broker.position("AAPL")
    assert (position.qty, position.avg_entry_price, position.side) == (-20, 250, "SHORT")
    assert broker.account().cash == 105000


def test_crossing_zero_in_one_order_is_refused_in_alpacas_words(broker):
    broker.submit(order("buy", qty="25", price="200"))
    state = broker.submit(order("sell", qty="45", price="250"))
    assert state.status == REJECTED
    assert state.reason == "insufficient qty available for order (requested: 45, available: 25)"
    assert broker.position("AAPL").qty == 25  # nothing changed
    assert broker.fills(datetime.fromtimestamp(0, timezone.utc))[-1].side == "buy"


def test_crossing_zero_from_short_is_refused_too(broker):
    broker.submit(order("sell", qty="20", price="250"))
    state = broker.submit(order("buy", qty="30", price="240"))
    assert (state.status, state.reason) == (REJECTED, "insufficient qty available for order (requested: 30, available: 20)")


@pytest.mark.parametrize("request_", [
    pytest.param(dict(qty="0.5"), id="fractional-qty"),
    pytest.param(dict(notional="1000"), id="dollar-sell"),
])
def test_a_fractional_short_is_refused(broker, request_):
    state = broker.submit(order("sell", price="333", **request_))
    assert (state.status, state.reason) == (REJECTED, "fractional orders cannot be sold short")
    assert broker.position("AAPL").qty == 0


def test_selling_a_fractional_long_exactly_is_allowed(broker):
    broker.submit(order("buy", notional="5000", price="201"))
    state = broker.submit(order("sell", qty="24.875621890", price="210"))
    assert state.status == FILLED
    assert broker.positions() == []


def test_without_any_price_the_order_is_rejected_with_the_reason(broker):
    state = broker.submit(order("buy", symbol="TSLA", notional="5000"))
    assert state.status == REJECTED
    assert state.reason == ('no price for TSLA: the simulator fills at the alert\'s price, so add '
                            '"price": "{{close}}" to the alert')
    assert broker.position("TSLA").qty == 0 and broker.account().cash == 100000


def test_without_an_alert_price_the_last_price_seen_is_used(broker):
    broker.submit(order("buy", notional="2000", price="200"))
    state = broker.submit(order("sell", qty="10"))
    assert (state.status, state.filled_avg_price) == (FILLED, 200)
    broker.observe_price("AAPL", D("220"))
    assert broker.latest_price("AAPL") == 220
    assert broker.submit(order("buy", qty="1")).filled_avg_price == 220


def test_a_buy_beyond_the_cash_is_refused(broker):
    state = broker.submit(order("buy", notional="150000", price="100"))
    assert state.status == REJECTED
    assert state.reason.startswith("insufficient buying power")


def test_the_same_client_order_id_twice_is_one_order_and_one_fill(broker):
    first = broker.submit(order("buy", notional="5000", price="200", cid="nva-abc-0"))
    again = broker.submit(order("buy", notional="5000", price="205", cid="nva-abc-0"))
    assert again == first
    assert broker.position("AAPL").qty == 25
    assert len(broker.fills(datetime.fromtimestamp(0, timezone.utc))) == 1
    assert broker.find_order("nva-abc-0") == first
    assert broker.find_order("nva-never-sent-0") is None
    assert broker.orders(["nva-abc-0", "nva-never-sent-0"]) == {"nva-abc-0": first}


def test_a_rejected_order_stays_rejected_when_resent(broker):
    first = broker.submit(order("sell", qty="0.5", price="100", cid="nva-r-0"))
    assert broker.submit(order("sell", qty="1", price="100", cid="nva-r-0")) == first
    assert broker.position("AAPL").qty == 0


def test_state_persists_across_a_restart(data_dir, clock):
    before = SimulatedBroker(data_dir, clock=clock)
    placed = before.submit(order("buy", notional="5000", price="200", cid="nva-keep-0"))
    before.submit(order("sell", symbol="TSLA", qty="100", price="300"))

    after = SimulatedBroker(data_dir, clock=clock)  # a new process on the same data dir
    assert after.find_order("nva-keep-0") == placed
    assert [(p.symbol, p.qty) for p in after.positions()] == [("AAPL", 25), ("TSLA", -100)]
    assert after.account().cash == 100000 - 5000 + 30000
    assert after.latest_price("TSLA") == 300
    # Resending after the restart still finds the first order.
    assert after.submit(order("buy", notional="5000", price="200", cid="nva-keep-0")) == placed
    assert after.position("AAPL").qty == 25


def test_a_long_round_trip_moves_cash_equity_and_pnl(broker):
    broker.submit(order("buy", notional="5000", price="200"))
    broker.observe_price("AAPL", D("210"))
    [position] = broker.positions()
    assert (position.qty, position.avg_entry_price, position.market_value, position.unrealized_pl) == (25, 200, 5250, 250)
    account = broker.account()
    assert (account.cash, account.equity) == (95000, 100250)

    broker.submit(order("sell", qty="25", price="210"))
    account = broker.account()
    assert (account.cash, account.equity) == (100250, 100250)
    assert broker.positions() == []
    assert broker.position("AAPL").avg_entry_price == 0


def test_a_short_round_trip_moves_cash_equity_and_pnl(broker):
    broker.submit(order("sell", qty="20", price="250"))
    broker.observe_price("AAPL", D("240"))
    [position] = broker.positions()
    assert (position.qty, position.avg_entry_price, position.market_value, position.unrealized_pl) == (-20, 250, -4800, 200)
    assert (broker.account().cash, broker.account().equity) == (105000, 100200)
    broker.submit(order("buy", qty="20", price="240"))
    assert (broker.account().cash, broker.account().equity) == (100200, 100200)


def test_adding_to_a_position_averages_the_entry_and_reducing_keeps_it(broker):
    broker.submit(order("buy", qty="10", price="100"))
    broker.submit(order("buy", qty="30", price="120"))
    assert broker.position("AAPL").avg_entry_price == 115
    broker.submit(order("sell", qty="15", price="130"))
    assert (broker.position("AAPL").qty, broker.position("AAPL").avg_entry_price) == (25, 115)


def test_the_issue_scenario_in_the_simulator(broker):
    """BUY at 200, SELL at 250 (close + short), BUY at 200 (cover + long), CLOSE at 210."""
    steps = [
        [order("buy", notional="5000", price="200")],
        [order("sell", qty="25", price="250"), order("sell", qty="20", price="250")],
        [order("buy", qty="20", price="200"), order("buy", notional="5000", price="200")],
        [order("sell", qty="25", price="210")],
    ]
    held = []
    for legs in steps:
        assert all(broker.submit(leg).status == FILLED for leg in legs)
        held.append(broker.position("AAPL").qty)
    assert held == [25, -20, 25, 0]
    # +25×(250−200) + 20×(250−200) + 25×(210−200) = 1250 + 1000 + 250
    assert broker.account().equity == 102500


def test_fills_since_a_time_are_oldest_first_and_timezone_aware(broker, clock):
    broker.submit(order("buy", qty="10", price="100", cid="early"))
    clock.now += 60
    broker.submit(order("sell", qty="4", price="101", cid="late-1"))
    clock.now += 60
    broker.submit(order("sell", qty="6", price="102", cid="late-2"))
    since = datetime.fromtimestamp(T0 + 30, timezone.utc)
    fills = broker.fills(since)
    assert [(f.client_order_id, f.side, f.qty, f.price) for f in fills] == [
        ("late-1", "sell", 4, 101), ("late-2", "sell", 6, 102)]
    assert fills[0].time == datetime.fromtimestamp(T0 + 60, timezone.utc)
    assert all(f.time.tzinfo is not None for f in fills)
    assert fills[0].order_id == broker.find_order("late-1").broker_order_id
    assert broker.fills(datetime.fromtimestamp(T0 + 1000, timezone.utc)) == []


def test_equity_history_keeps_one_figure_per_day(broker, clock):
    broker.submit(order("buy", qty="10", price="100"))
    broker.observe_price("AAPL", D("110"))
    broker.account()  # an account read marks the day's equity
    clock.now += DAY
    broker.observe_price("AAPL", D("90"))
    broker.account()
    clock.now += 2 * DAY
    broker.submit(order("sell", qty="10", price="95"))
    assert broker.equity_history() == [
        (date(2025, 3, 3), D("100100")), (date(2025, 3, 4), D("99900")), (date(2025, 3, 6), D("99950"))]


def test_equity_is_kept_under_the_eastern_trading_day_not_the_utc_date(broker, clock):
    # 21:00 New York on Monday 3 March is already Tuesday in UTC: the figure is still Monday's.
    clock.now = datetime(2025, 3, 3, 21, 0, tzinfo=NEW_YORK).timestamp()
    broker.account()
    clock.now = datetime(2025, 3, 4, 10, 0, tzinfo=NEW_YORK).timestamp()
    broker.submit(order("buy", qty="10", price="100"))
    broker.observe_price("AAPL", D("90"))
    broker.account()
    assert broker.equity_history() == [(date(2025, 3, 3), D("100000")), (date(2025, 3, 4), D("99900"))]


def test_crypto_is_never_shortable_here(broker):
    assert broker.asset("BTC/USD").shortable is False
    assert broker.asset("AAPL").shortable is True and broker.asset("AAPL").fractionable is True


def test_fills_after_an_id_carry_alpacas_sell_and_sell_short(broker, clock):
    for side, qty in (("buy", "10"), ("sell", "10"), ("sell", "3"), ("sell", "2"), ("buy", "5")):
        broker.submit(order(side, qty=qty, price="100"))
        clock.now += 60

    fills = broker.fills_after(None)

    assert [f.side for f in fills] == ["buy", "sell", "sell_short", "sell_short", "buy"]
    assert [f.side for f in broker.fills_after(fills[2].activity_id)] == ["sell_short", "buy"]
    assert broker.fills_after(fills[-1].activity_id) == []
    assert broker.account().account_id == "simulated"


SUNDAY_NOON = datetime(2026, 12, 13, 17, 0, tzinfo=timezone.utc).timestamp()  # 12:00 in New York
FRIDAY_EVENING = datetime(2026, 12, 11, 22, 0, tzinfo=timezone.utc).timestamp()  # 17:00 in New York


@pytest.mark.parametrize("moment", [SUNDAY_NOON, FRIDAY_EVENING])
def test_a_stock_filled_outside_regular_hours_says_alpaca_would_wait_for_the_open(broker, clock, moment):
    clock.now = moment
    state = broker.submit(order("buy", notional="5000", price="200"))
    assert state.status == FILLED, "local demos work at any hour"
    assert state.reason == ("filled by the simulator, which trades around the clock; on Alpaca a stock order "
                            "sent now would wait for Mon 14 Dec 09:30 ET")


def test_crypto_and_regular_hours_fills_say_nothing_more(broker, clock):
    clock.now = SUNDAY_NOON
    assert broker.submit(order("buy", "BTC/USD", notional="5000", price="50000")).reason == ""
    clock.now = datetime(2026, 12, 14, 14, 30, tzinfo=timezone.utc).timestamp()  # Monday 09:30 New York
    assert broker.submit(order("buy", notional="5000", price="200")).reason == ""


def test_a_close_never_opens_the_other_side(tmp_path):
    """As Alpaca does with position_intent sell_to_close: a close sent on a stale belief is refused."""
    from decimal import Decimal

    from novalgo.broker.base import OrderRequest
    from novalgo.broker.simulated import SimulatedBroker

    broker = SimulatedBroker(tmp_path)
    state = broker.submit(OrderRequest("nva-x-0", "AAPL", "sell", qty=Decimal(10), price_hint=Decimal(100),
                                       closing=True))
    assert (state.status, state.reason) == ("rejected", "position intent mismatch. inferred sell to open")
    assert broker.position("AAPL").qty == 0
