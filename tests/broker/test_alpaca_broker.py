"""AlpacaBroker through alpaca-py against the wire-level fake Alpaca on loopback."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from novalgo.broker.alpaca import AlpacaBroker, account_report
from novalgo.broker.base import CANCELED, FILLED, PARTIALLY_FILLED, PENDING, OrderRequest
from novalgo.broker.throttle import RequestBudget
from novalgo.errors import AmbiguousOrderError, OrderRejected, RetryableError
from novalgo.settings import Settings
from tests.fakes.alpaca_server import FakeAlpaca

ORDERS = ("POST", "/v2/orders")
LOOKUP = ("GET", "/v2/orders:by_client_order_id")


@pytest.fixture
def fake():
    with FakeAlpaca() as server:
        yield server


def make_broker(fake: FakeAlpaca, **options) -> AlpacaBroker:
    settings = dict(base_url=fake.url, data_url=fake.url, wall_clock=fake.clock, timeout=(2.0, 5.0), budget=RequestBudget(),
                    sdk_retry_wait=0)
    settings.update(options)
    return AlpacaBroker(fake.key_id, fake.secret_key, **settings)


@pytest.fixture
def broker(fake):
    return make_broker(fake)


def buy(cid: str, symbol: str = "AAPL", **size) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side="buy", **size)


def sell(cid: str, symbol: str = "AAPL", **size) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side="sell", **size)


def placed(fake: FakeAlpaca) -> list[dict]:
    return list(fake.orders.values())


# -- longs, shorts and Alpaca's rules ----------------------------------------------------


def test_long_for_a_fractionable_asset_is_a_day_notional_order_rounded_to_cents(fake, broker):
    assert broker.asset("AAPL").fractionable
    state = broker.submit(buy("a-1", notional=Decimal("1500.129")))

    assert state.status == FILLED and state.filled_avg_price == Decimal(150)
    (order,) = placed(fake)
    assert (order["notional"], order["qty"], order["time_in_force"]) == ("1500.12", None, "day")
    assert broker.position("AAPL").qty == Decimal("10.0008")
    assert broker.position("AAPL").side == "LONG"


def test_non_fractionable_asset_takes_whole_shares_and_refuses_notional(fake, broker):
    fake.add_asset("BRK.B", "450", fractionable=False)
    assert not broker.asset("BRK.B").fractionable

    state = broker.submit(buy("b-1", "BRK.B", qty=Decimal(3)))
    assert state.status == FILLED and state.filled_qty == 3

    with pytest.raises(OrderRejected, match="not fractionable"):
        broker.submit(buy("b-2", "BRK.B", notional=Decimal(1000)))
    assert len(placed(fake)) == 1


def test_short_is_whole_shares_and_shows_as_a_negative_position(fake, broker):
    state = broker.submit(sell("s-1", "TSLA", qty=Decimal(5)))
    assert state.status == FILLED
    position = broker.position("TSLA")
    assert position.qty == -5 and position.side == "SHORT" and position.avg_entry_price == 200
    assert [p.symbol for p in broker.positions()] == ["TSLA"]


def test_not_shortable_asset_fails_with_alpacas_reason(fake, broker):
    fake.add_asset("GME", "25", shortable=False, easy_to_borrow=False)
    assert not broker.asset("GME").shortable

    with pytest.raises(OrderRejected) as refused:
        broker.submit(sell("g-1", "GME", qty=Decimal(10)))
    assert "GME cannot be sold short" in str(refused.value) and "(422)" in str(refused.value)
    assert placed(fake) == []


def test_account_without_shorting_is_refused(fake):
    fake.shorting_enabled = False
    broker = make_broker(fake)
    assert broker.account().shorting_enabled is False
    with pytest.raises(OrderRejected, match="account is not allowed to short"):
        broker.submit(sell("n-1", qty=Decimal(1)))


def test_an_order_may_not_cross_zero_so_the_executor_must_close_first(fake, broker):
    broker.submit(buy("x-1", qty=Decimal(10)))

    with pytest.raises(OrderRejected) as refused:
        broker.submit(sell("x-2", qty=Decimal(15)))  # flip long 10 → short 5 in one order
    assert "insufficient qty available for order (requested: 15, available: 10)" in str(refused.value)
    assert "close the position first" in str(refused.value)
    assert broker.position("AAPL").qty == 10

    assert broker.submit(sell("x-3", qty=Decimal(10))).status == FILLED  # close …
    assert broker.submit(sell("x-4", qty=Decimal(5))).status == FILLED  # … then open the short
    assert broker.position("AAPL").qty == -5


def test_insufficient_buying_power_is_a_readable_rejection(fake, broker):
    with pytest.raises(OrderRejected) as refused:
        broker.submit(buy("big-1", notional=Decimal(10_000_000)))
    assert "insufficient buying power" in str(refused.value)
    assert "cannot afford" in str(refused.value)
    assert placed(fake) == []


def test_crypto_orders_are_gtc_and_positions_keep_the_slash(fake, broker):
    state = broker.submit(buy("c-1", "BTC/USD", notional=Decimal(600)))
    assert state.status == FILLED and state.symbol == "BTC/USD"
    assert placed(fake)[0]["time_in_force"] == "gtc"
    assert broker.position("BTC/USD").qty == Decimal("0.01")
    assert [p.symbol for p in broker.positions()] == ["BTC/USD"]
    assert broker.asset("BTC/USD").shortable is False


# -- idempotency: never a double order --------------------------------------------------


def test_duplicate_client_order_id_returns_the_first_order(fake, broker):
    first = broker.submit(buy("dup-1", qty=Decimal(2)))
    again = broker.submit(buy("dup-1", qty=Decimal(2)))

    assert again.broker_order_id == first.broker_order_id
    assert len(placed(fake)) == 1
    assert fake.count(*ORDERS) == 2  # Alpaca answered the second with 422 "must be unique"


def test_timeout_after_alpaca_placed_the_order_returns_that_order(fake):
    broker = make_broker(fake, timeout=(2.0, 0.3))
    fake.stall("POST", "/v2/orders", seconds=3.0)

    state = broker.submit(buy("slow-1", qty=Decimal(1)))

    assert state.client_order_id == "slow-1" and state.status == FILLED
    assert len(placed(fake)) == 1
    assert fake.count(*ORDERS) == 1 and fake.count(*LOOKUP) == 1


def test_5xx_after_placing_is_resolved_by_lookup_not_a_second_order(fake, broker):
    fake.fail("POST", "/v2/orders", 500, place=True)
    fake.fail("POST", "/v2/orders", 503, times=5)

    state = broker.submit(buy("err-1", qty=Decimal(1)))

    assert state.status == FILLED
    assert len(placed(fake)) == 1 and fake.count(*ORDERS) == 1


def test_5xx_storm_is_bounded_and_ambiguous_then_a_retry_places_exactly_one(fake, broker):
    fake.fail("POST", "/v2/orders", 503, times=100)

    with pytest.raises(AmbiguousOrderError):
        broker.submit(buy("storm-1", qty=Decimal(1)))
    assert placed(fake) == []
    assert fake.count(*ORDERS) == 2  # ours: the try and one resubmit (alpaca-py does not retry 503)

    fake.faults.clear()
    assert broker.submit(buy("storm-1", qty=Decimal(1))).status == FILLED
    assert len(placed(fake)) == 1


def test_504_retries_of_alpaca_py_and_ours_stay_bounded(fake, broker):
    fake.fail("POST", "/v2/orders", 504, times=100)
    with pytest.raises(AmbiguousOrderError):
        broker.submit(buy("gw-1", qty=Decimal(1)))
    assert fake.count(*ORDERS) == 6  # 2 submits × (1 + 2 alpaca-py retries)
    assert placed(fake) == []


def test_429_is_retried_a_bounded_number_of_times(fake, broker):
    fake.fail("POST", "/v2/orders", 429, times=2)
    assert broker.submit(buy("rl-1", qty=Decimal(1))).status == FILLED
    assert fake.count(*ORDERS) == 3 and len(placed(fake)) == 1

    fake.fail("POST", "/v2/orders", 429, times=100)
    with pytest.raises(RetryableError) as limited:
        broker.submit(buy("rl-2", qty=Decimal(1)))
    assert not isinstance(limited.value, AmbiguousOrderError)  # a 429 never placed anything
    assert fake.count(*ORDERS) == 6 and len(placed(fake)) == 1


# -- batched order state ----------------------------------------------------------------


def test_market_closed_orders_wait_then_one_list_call_shows_them_filled(fake, broker):
    fake.market.close()
    assert broker.market_open() is False
    ids = ["mc-aapl", "mc-msft", "mc-spy"]
    for cid, symbol in zip(ids, ("AAPL", "MSFT", "SPY")):
        assert broker.submit(buy(cid, symbol, notional=Decimal(1000))).status == PENDING
    assert {s.status for s in broker.orders(ids).values()} == {PENDING}

    fake.market.open()
    lists_before = fake.count("GET", "/v2/orders")
    states = make_broker(fake).orders(ids)  # a fresh broker: nothing cached

    assert {cid: s.status for cid, s in states.items()} == dict.fromkeys(ids, FILLED)
    assert fake.count("GET", "/v2/orders") == lists_before + 1
    assert fake.count(*LOOKUP) == 0


def test_concurrent_waiters_share_one_order_list(fake):
    broker = make_broker(fake, share_window=5.0)
    ids = [f"cc-{n}" for n in range(6)]
    for cid in ids:
        broker.submit(buy(cid, qty=Decimal(1)))
    start = threading.Barrier(len(ids))
    results: dict[str, str] = {}

    def wait_for(cid: str) -> None:
        start.wait()
        results[cid] = broker.orders([cid])[cid].status

    threads = [threading.Thread(target=wait_for, args=(cid,)) for cid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert results == dict.fromkeys(ids, FILLED)
    assert fake.count("GET", "/v2/orders") == 1 and fake.count(*LOOKUP) == 0


def test_orders_not_in_the_list_fall_back_to_lookups(fake, broker):
    fake.fill_delay = 60
    broker.submit(buy("old-1", qty=Decimal(1)))
    broker = make_broker(fake, order_lookback=timedelta(0))  # the list window misses it
    states = broker.orders(["old-1", "never-placed"])
    assert list(states) == ["old-1"] and states["old-1"].status == PENDING
    assert fake.count(*LOOKUP) == 2


def test_partial_fill_then_filled(fake, broker):
    fake.partial, fake.partial_delay = True, 0.0
    first = broker.submit(buy("p-1", qty=Decimal(10)))
    assert first.status == PARTIALLY_FILLED and first.filled_qty == 5
    assert broker.orders(["p-1"])["p-1"].status == FILLED


def test_cancel_a_working_order(fake, broker):
    fake.fill_delay = 60
    assert broker.submit(buy("k-1", qty=Decimal(1))).status == PENDING
    broker.cancel("k-1")
    state = broker.find_order("k-1")
    assert state.status == CANCELED and "canceled" in state.reason
    broker.cancel("k-1")  # already final: nothing to do, no error
    assert broker.find_order("nobody") is None


# -- history and market data ------------------------------------------------------------


def test_fills_page_through_hundreds_oldest_first_with_client_ids(fake, broker):
    start = fake.now() - timedelta(hours=6)
    fake.add_fills("AAPL", 620, start=start, step=timedelta(seconds=30))

    fills = broker.fills(start - timedelta(minutes=1))

    assert len(fills) == 620
    assert fake.count("GET", "/v2/account/activities/FILL") == 7  # 100 a page
    assert all(a.time <= b.time for a, b in zip(fills, fills[1:]))
    assert fills[0].time.tzinfo is not None and isinstance(fills[0].price, Decimal)
    client_ids = {o["id"]: o["client_order_id"] for o in fake.orders.values()}
    assert all(f.client_order_id == client_ids[f.order_id] for f in fills)
    assert fake.count("GET", "/v2/orders") == 2  # order lists of 500, not 620 lookups
    assert fake.count(*LOOKUP) == 0
    broker.fills(start)
    assert fake.count("GET", "/v2/orders") == 2  # the ids are learned once


def test_fills_since_excludes_older_and_needs_an_aware_time(fake, broker):
    now = fake.now()
    fake.add_fills("MSFT", 3, start=now - timedelta(days=2), step=timedelta(hours=1))
    broker.submit(buy("f-1", qty=Decimal(2)))
    fills = broker.fills(now - timedelta(hours=1))
    assert [(f.symbol, f.qty, f.client_order_id) for f in fills] == [("AAPL", 2, "f-1")]
    with pytest.raises(ValueError):
        broker.fills(fake.now().replace(tzinfo=None))  # naive


def test_latest_price_uses_the_iex_feed_and_the_crypto_api(fake, broker):
    fake.set_price("AAPL", "187.45")
    assert broker.latest_price("AAPL") == Decimal("187.45")
    assert broker.latest_price("BTC/USD") == Decimal(60000)
    assert broker.latest_price("NOPE") is None
    assert fake.count("GET", "/v2/stocks/trades/latest") == 2
    assert fake.count("GET", "/v1beta3/crypto/us/latest/trades") == 1


def test_portfolio_history_and_daily_bars_for_analytics(fake, broker):
    today = fake.now(ZoneInfo("America/New_York")).date()  # Alpaca dates days in New York
    fake.set_equity_history([(today - timedelta(days=n), Decimal(100000 + n)) for n in range(10, 0, -1)])
    history = broker.portfolio_history("1M")
    assert len(history) == 11 and history[0][1] == Decimal(100010) and history[-1][1] == Decimal(100000)
    assert all(isinstance(d, date) for d, _ in history)

    days = [date(2024, 1, 1) + timedelta(days=n) for n in range(120)]
    fake.set_daily_bars("SPY", [(d, Decimal("470.10") + n) for n, d in enumerate(days)])
    fake.bars_page_size = 50
    bars = broker.daily_bars("SPY", date(2024, 1, 11), date(2024, 4, 29))
    assert bars[0] == (date(2024, 1, 11), Decimal("480.10"))
    assert bars[-1][0] == date(2024, 4, 29) and len(bars) == 110
    assert fake.count("GET", "/v2/stocks/bars") == 3  # paged by next_page_token


def test_asset_and_clock_are_cached(fake, broker):
    for _ in range(3):
        broker.asset("MSFT")
        broker.market_open()
    assert fake.count("GET", "/v2/assets/MSFT") == 1 and fake.count("GET", "/v2/clock") == 1
    with pytest.raises(OrderRejected, match="does not know"):
        broker.asset("ZZZZ")


# -- settings, keys and `novalgo check` -------------------------------------------------


def settings_for(fake: FakeAlpaca, **env) -> Settings:
    values = {"APCA_API_KEY_ID": fake.key_id, "APCA_API_SECRET_KEY": fake.secret_key,
              "APCA_API_BASE_URL": fake.url + "/v2", "APCA_API_DATA_URL": fake.url}
    values.update(env)
    return Settings.from_env(values, dotenv=None)


def test_from_settings_is_paper_by_default_and_never_shows_keys(fake):
    broker = AlpacaBroker.from_settings(settings_for(fake), budget=RequestBudget())
    account = broker.account()
    assert (account.mode, account.status, account.shorting_enabled) == ("paper", "ACTIVE", True)
    assert account.buying_power == Decimal(200000)
    assert fake.secret_key not in repr(broker) and fake.key_id not in repr(broker)
    live = AlpacaBroker.from_settings(settings_for(fake, NOVALGO_LIVE="true"), budget=RequestBudget())
    assert live.mode == "live" and live.account().mode == "live"


def test_check_reports_the_account_in_plain_sentences(fake):
    ok, problems = account_report(settings_for(fake))
    assert problems == []
    assert ok[0].startswith("Alpaca paper account") and "ACTIVE" in ok[0]
    assert "buying power $200,000.00" in ok[1]
    assert ok[2] == ("shorting: possible — margin account (multiplier 2), shorting enabled, equity $100,000.00 at "
                     "or above Alpaca's $2,000 minimum: SELL alerts may open shorts (of easy-to-borrow stocks, "
                     "whole shares)")


@pytest.mark.parametrize("account, sentences", [
    (dict(cash=Decimal(1500)),
     ["shorting: not possible — equity $1,500.00 is under Alpaca's $2,000 minimum for short selling: SELL alerts "
      "will only close longs"]),
    (dict(multiplier=Decimal(1)),
     ["shorting: not possible — this is a cash account (multiplier 1), not a margin account: SELL alerts will "
      "only close longs"]),
    (dict(shorting_enabled=False),
     ["shorting: not possible — shorting is disabled on the Alpaca account (shorting_enabled is false; the "
      "account configuration's no_shorting makes it long-only): SELL alerts will only close longs"]),
    (dict(multiplier=Decimal(1), shorting_enabled=False), 2),
])
def test_check_says_why_the_account_cannot_short_before_the_first_sell(account, sentences):
    with FakeAlpaca(**account) as fake:
        ok, problems = account_report(settings_for(fake))
    said = [line for line in ok if line.startswith("shorting:")]
    assert problems == [], "a long-only account can still trade"
    if isinstance(sentences, int):
        assert len(said) == sentences and all(s.endswith("SELL alerts will only close longs") for s in said)
    else:
        assert said == sentences


def test_the_account_carries_alpacas_multiplier_and_id(fake, broker):
    account = broker.account()
    assert account.multiplier == 2 and account.account_id == fake.account_id


def test_check_names_bad_keys_without_printing_them(fake):
    settings = settings_for(fake, APCA_API_SECRET_KEY="wrong-secret-value")
    problems = account_report(settings)[1]
    assert problems == ["Alpaca rejected the API keys (401): check APCA_API_KEY_ID/APCA_API_SECRET_KEY and "
                        "whether they are paper or live keys (NOVALGO_LIVE=false)"]
    assert "wrong-secret-value" not in " ".join(problems) and fake.key_id not in " ".join(problems)
    with pytest.raises(RetryableError, match="API keys"):
        AlpacaBroker.from_settings(settings, budget=RequestBudget()).account()


def test_check_without_keys_says_simulated():
    ok, problems = account_report(Settings.from_env({}, dotenv=None))
    assert problems == [] and "simulated" in ok[0]


def test_check_cannot_reach_alpaca():
    settings = Settings.from_env({"APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s",
                                  "APCA_API_BASE_URL": "http://127.0.0.1:9"}, dotenv=None)
    problem = account_report(settings)[1][0]
    assert problem.startswith("could not reach Alpaca") and problem.endswith("(at http://127.0.0.1:9)")


def test_the_account_carries_the_previous_closes_equity(fake):
    """Alpaca's account has last_equity (equity at the previous close): the day's P&L starts there."""
    from tests.support.alpaca import fake_alpaca_broker

    fake.last_equity = Decimal("95000.5")
    assert fake_alpaca_broker(fake).account().last_equity == Decimal("95000.5")


def test_trading_days_come_from_alpacas_calendar_a_month_per_read(fake):
    """Weekends and holidays are not trading days (Flatten At closes nothing on them)."""
    from datetime import date

    from tests.support.alpaca import fake_alpaca_broker

    fake.holidays.add(date(2026, 12, 25))
    broker = fake_alpaca_broker(fake)
    assert broker.trading_day(date(2026, 12, 24)) is True  # a Thursday
    assert broker.trading_day(date(2026, 12, 25)) is False  # Christmas, a Friday
    assert broker.trading_day(date(2026, 12, 26)) is False  # Saturday
    assert broker.trading_day(date(2026, 12, 28)) is True
    assert fake.count("GET", "/v2/calendar") == 1, "one read covers the month"


def test_the_calendar_gives_each_days_close_early_ones_included(fake):
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from tests.support.alpaca import fake_alpaca_broker

    fake.early_closes[date(2026, 11, 27)] = "13:00"  # the day after Thanksgiving
    broker = fake_alpaca_broker(fake)
    new_york = ZoneInfo("America/New_York")
    assert broker.session_close(date(2026, 11, 27)) == datetime(2026, 11, 27, 13, 0, tzinfo=new_york)
    assert broker.session_close(date(2026, 11, 30)) == datetime(2026, 11, 30, 16, 0, tzinfo=new_york)
    assert broker.session_close(date(2026, 11, 28)) is None  # Saturday


def test_the_fakes_calendar_carries_2026s_holidays_and_early_closes(fake):
    """Tests that meet a holiday or an early close get the real ones unless they set their own."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from tests.support.alpaca import fake_alpaca_broker

    broker = fake_alpaca_broker(fake)
    new_york = ZoneInfo("America/New_York")
    assert broker.session_close(date(2026, 11, 26)) is None  # Thanksgiving
    assert broker.session_close(date(2026, 11, 27)) == datetime(2026, 11, 27, 13, 0, tzinfo=new_york)
    assert broker.session_close(date(2026, 12, 24)) == datetime(2026, 12, 24, 13, 0, tzinfo=new_york)
    assert broker.session_close(date(2026, 12, 25)) is None  # Christmas
    assert broker.session_close(date(2026, 12, 28)) == datetime(2026, 12, 28, 16, 0, tzinfo=new_york)
