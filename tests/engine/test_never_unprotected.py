"""Nothing the trader set at the broker is undone by an alert that may not trade, and a close never
sells what the account does not hold: through alpaca-py, the fake's trade stream and its rules.

Each test is one of the ordinary sequences that used to leave the account exposed:
- a CLOSE or flip the service then refused (market closed with NOVALGO_OUTSIDE_HOURS=skip, a
  guard) had already cancelled the row's take-profit and stop-loss;
- an alert the guards refuse, or one on a row switched off, had already cancelled the older
  alert's resting limit entry;
- the leader's own CLOSE carries no price, and on an Extended Hours row after the close it failed
  ("needs a price") leaving the position open overnight;
- the stream-fed position is stale (a fill event lost while the socket looks alive) and a CLOSE
  sold shares the account no longer held: a short.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from alpaca.trading.client import TradingClient

from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.engine.flatten import SCHEDULE, journal_close
from tests.support.alerts import alert_body, run_queue
from tests.support.alpaca import fake_alpaca_broker, follow_stream
from tests.support.gunicorn import wait_for

pytestmark = pytest.mark.timeout(90)
HEADER = "symbol,position_size,active,Time Frame,Order Status,Last Updated,Take Profit,Stop Loss,Trailing Stop," \
         "Order Type,Limit Offset,Extended Hours\n"
ROWS = {
    "AAPL": "AAPL,$1000,TRUE,15 Min,,,2%,1%,,,,\n",  # a bracket: take-profit 2%, stop-loss 1%
    "MSFT": "MSFT,$1000,TRUE,15 Min,,,,,,limit,$0.05,\n",  # limit entries that rest
    "TSLA": "TSLA,$1000,TRUE,15 Min,,,,,,,$0.10,TRUE\n",  # trades pre/post-market
    "NVDA": "NVDA,$1000,TRUE,15 Min,,,,,,,,\n",  # plain market orders
    "AMD": "AMD,$1000,TRUE,15 Min,,,2%,1%,,limit,$0.05,\n",  # a limit entry carrying a bracket
    "NFLX": "NFLX,$1000,TRUE,15 Min,,,,,1%,limit,$0.05,\n",  # a limit entry, then a trailing stop
    "BTCUSD": "BTCUSD,$6000,TRUE,15 Min,,,,,,,$10,TRUE\n",  # crypto on a row that trades extended hours
}


def build(settings, fake, **overrides):
    from novalgo.web import create_app

    settings = settings.with_overrides(fill_wait=2.0, **overrides)
    folder = settings.data_dir / "sheet"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Config.csv").write_text(HEADER + "".join(ROWS.values()))
    for symbol, price in (("AAPL", 100), ("MSFT", 100), ("TSLA", 200), ("NVDA", 100), ("AMD", 101),
                          ("NFLX", 101)):
        fake.add_asset(symbol, price)
    broker = fake_alpaca_broker(fake, stream_url=fake.stream_url)
    services = create_app(settings, broker=broker, start_background=False).extensions["novalgo"]
    follow_stream(services, fake)
    return services


@pytest.fixture
def make(settings, fake):
    made = []

    def make_services(**overrides):
        services = build(settings, fake, **overrides)
        made.append(services)
        return services

    yield make_services
    for services in made:
        services.updates.stop()
    fake.stream.drop()


def send(services, action: str, symbol: str, price=None) -> list[str]:
    delivery = read_delivery(alert_body(action, symbol, "15", price).encode())
    services.journal.add(parse_alert(delivery), delivery.stored_body, "127.0.0.1", 0)
    return run_queue(services)


def newest(services, symbol: str) -> dict:
    return [a for a in services.journal.recent(50) if a["symbol"] == symbol][0]


def working(fake, symbol: str) -> list[tuple[str, str, str]]:
    """(side, type, status) of the symbol's orders still working at the fake Alpaca."""
    with fake.lock:
        return sorted((o["side"], o["type"], o["status"]) for o in fake.orders.values()
                      if o["symbol"] == symbol and o["status"] in ("new", "accepted", "held", "partially_filled"))


def held(fake, symbol: str) -> Decimal:
    with fake.lock:
        return Decimal(fake.positions.get(symbol, [0])[0])


# -- exits stay until a trade may go -------------------------------------------------------------

def test_a_close_skipped_outside_hours_leaves_the_take_profit_and_stop_loss_working(make, fake):
    services = make(outside_hours="skip")
    assert send(services, "buy", "AAPL", 100) == ["FILLED"]
    assert working(fake, "AAPL") == [("sell", "limit", "new"), ("sell", "stop", "new")]
    fake.market.close()
    assert send(services, "close", "AAPL", 99) == ["SKIPPED"]
    assert "NOVALGO_OUTSIDE_HOURS=skip" in newest(services, "AAPL")["reason"]
    assert working(fake, "AAPL") == [("sell", "limit", "new"), ("sell", "stop", "new")], \
        "the shares held overnight keep their exits"
    assert held(fake, "AAPL") == 10
    assert len(services.journal.open_exits("AAPL")) == 2


def test_a_flip_skipped_outside_hours_leaves_the_exits_working(make, fake):
    services = make(outside_hours="skip")
    assert send(services, "buy", "AAPL", 100) == ["FILLED"]
    fake.market.close()
    assert send(services, "sell", "AAPL", 99) == ["SKIPPED"]
    assert working(fake, "AAPL") == [("sell", "limit", "new"), ("sell", "stop", "new")]


def test_a_flip_whose_entry_the_guards_refuse_still_closes(make, fake, settings):
    services = make()
    assert send(services, "buy", "AAPL", 100) == ["FILLED"]
    (settings.data_dir / "sheet" / "Settings.csv").write_text("setting,value\ntrading,off\n")
    wait_for(lambda: services.guards.paused(), "the Settings tab to say trading is off", 10)
    assert send(services, "sell", "AAPL", 99) == ["WAITING"]
    assert "closed the position; no new entry: entries are paused" in newest(services, "AAPL")["reason"]
    assert held(fake, "AAPL") == 0 and working(fake, "AAPL") == []


def test_a_close_alpaca_refuses_after_the_exits_were_cancelled_puts_them_back(make, fake):
    services = make()
    assert send(services, "buy", "AAPL", 100) == ["FILLED"]  # 10 AAPL, take-profit 102, stop-loss 99
    # "Pattern Day Trader Protection": a fourth day trade in five days is refused with 403
    # (Alpaca's code 40310100), exits or not. The close is tried twice: once as sent, once on a
    # fresh read of the position.
    fake.fail("POST", "/v2/orders", 403, times=2,
              body={"code": 40310100, "message": "trade denied due to pattern day trading protection"})
    assert send(services, "close", "AAPL", 100) == ["FAILED"]
    reason = newest(services, "AAPL")["reason"]
    assert "pattern day trading protection" in reason
    assert "put back: take-profit 102 and stop-loss 99 placed for 10 AAPL" in reason
    assert held(fake, "AAPL") == 10
    assert working(fake, "AAPL") == [("sell", "limit", "new"), ("sell", "stop", "new")], "one OCO: both exits"
    with fake.lock:
        assert {o["order_class"] for o in fake.orders.values() if o["status"] == "new"} == {"oco"}
    assert sorted(o["purpose"] for o in services.journal.open_exits("AAPL")) == ["stop_loss", "take_profit"]
    fake.set_price("AAPL", 103)  # the put-back take-profit fills: told on the row like any exit
    wait_for(lambda: held(fake, "AAPL") == 0, "the take-profit to fill")
    wait_for(lambda: [a["status"] for a in services.journal.recent(5) if a["source_ip"] == "exit"] == ["TAKE PROFIT"],
             "the exit to be recorded")
    assert working(fake, "AAPL") == []


def test_what_a_cancelled_bracket_entry_filled_keeps_its_exits(make, fake):
    services = make()
    assert send(services, "buy", "AMD", 100) == ["ORDER SUBMITTED"]  # 9 AMD at 100.05 rests at 101
    with fake.lock:
        [entry] = [o for o in fake.orders.values() if o["symbol"] == "AMD" and o["side"] == "buy"]
    fake.fill_order(entry["id"], qty=4, price="100.05")
    # The trader cancels the rest at Alpaca; Alpaca cancels the bracket's legs with it.
    TradingClient(fake.key_id, fake.secret_key, url_override=fake.url).cancel_order_by_id(entry["id"])
    wait_for(lambda: any(a["status"] == "QUEUED" for a in services.journal.recent(5)), "the alert to be woken")
    run_queue(services)
    alert = newest(services, "AMD")
    assert "take-profit 102.05 and stop-loss 99.05 placed for 4 AMD" in alert["reason"]
    assert held(fake, "AMD") == 4
    assert working(fake, "AMD") == [("sell", "limit", "new"), ("sell", "stop", "new")]
    with fake.lock:
        assert {o["qty"] for o in fake.orders.values() if o["symbol"] == "AMD" and o["status"] == "new"} == {"4"}


def test_a_same_side_alert_leaves_a_part_filled_limit_and_its_trailing_stop_to_come(make, fake):
    services = make()
    assert send(services, "buy", "NFLX", 100) == ["ORDER SUBMITTED"]  # 9 NFLX at 100.05 rests at 101
    with fake.lock:
        [entry] = [o for o in fake.orders.values() if o["symbol"] == "NFLX"]
    fake.fill_order(entry["id"], qty=4, price="100.05")
    wait_for(lambda: services.broker.position("NFLX").qty == 4, "the part fill to be heard")
    assert send(services, "buy", "NFLX", "100.5") == ["ALREADY LONG"]
    assert working(fake, "NFLX") == [("buy", "limit", "partially_filled")], "the entry was not cancelled"
    fake.fill_order(entry["id"], price="100.05")
    wait_for(lambda: any(a["status"] == "QUEUED" for a in services.journal.recent(5)), "the alert to be woken")
    run_queue(services)
    assert held(fake, "NFLX") == 9
    assert working(fake, "NFLX") == [("sell", "trailing_stop", "new")]
    with fake.lock:
        [trailing] = [o for o in fake.orders.values() if o["type"] == "trailing_stop"]
    assert trailing["qty"] == "9"


# -- an alert that may not trade leaves the older alert's resting limit alone ---------------------

def test_an_entry_the_guards_refuse_leaves_the_older_resting_limit(make, fake, settings):
    services = make()
    fake.set_price("MSFT", "101")
    assert send(services, "buy", "MSFT", 100) == ["ORDER SUBMITTED"]  # a buy limit at 100.05 rests
    (settings.data_dir / "sheet" / "Settings.csv").write_text("setting,value\ntrading,off\n")
    wait_for(lambda: services.guards.paused(), "the Settings tab to say trading is off", 10)
    assert send(services, "buy", "MSFT", "100.5") == ["SKIPPED"]
    reason = newest(services, "MSFT")["reason"]
    assert "paused" in reason and "keeps resting" in reason
    assert working(fake, "MSFT") == [("buy", "limit", "new")], "the older limit still rests"
    with fake.lock:
        assert [o["limit_price"] for o in fake.orders.values() if o["symbol"] == "MSFT"] == ["100.05"]
    fake.set_price("MSFT", "100")
    wait_for(lambda: services.broker.position("MSFT").qty > 0, "the older limit to fill")


def test_an_alert_on_a_row_switched_off_leaves_the_older_resting_limit(make, fake, settings):
    services = make()
    fake.set_price("MSFT", "101")
    assert send(services, "buy", "MSFT", 100) == ["ORDER SUBMITTED"]
    config = settings.data_dir / "sheet" / "Config.csv"
    config.write_text(config.read_text().replace("MSFT,$1000,TRUE", "MSFT,$1000,FALSE"))
    wait_for(lambda: not services.config.lookup("MSFT", 15)[0].active, "the row to read inactive", 10)
    assert send(services, "sell", "MSFT", "100.5") == ["INACTIVE"]
    assert working(fake, "MSFT") == [("buy", "limit", "new")]


def test_a_newer_entry_that_may_go_still_replaces_the_resting_limit(make, fake):
    services = make()
    fake.set_price("MSFT", "101")
    assert send(services, "buy", "MSFT", 100) == ["ORDER SUBMITTED"]
    assert send(services, "buy", "MSFT", "100.5") == ["ORDER SUBMITTED"]
    with fake.lock:
        limits = [(o["limit_price"], o["status"]) for o in fake.orders.values() if o["symbol"] == "MSFT"]
    assert limits == [("100.05", "canceled"), ("100.55", "new")]


# -- the leader's own CLOSE on an Extended Hours row after the close -----------------------------

def test_a_scheduled_close_without_a_price_after_the_close_goes_as_a_limit_at_the_last_trade(make, fake):
    services = make()
    assert send(services, "buy", "TSLA", 200) == ["FILLED"]
    assert held(fake, "TSLA") == 5
    fake.market.close()
    fake.market.extended_session()
    fake.set_price("TSLA", "201")
    row = services.config.lookup("TSLA", 15)[0]
    assert journal_close(services.journal, row, SCHEDULE, "flatten:TSLA:15:test", "Flatten At 16:05")
    assert run_queue(services) == ["ORDER SUBMITTED"], "sent, where it used to fail for want of a price"
    close = newest(services, "TSLA")["orders"][0]
    assert (close["side"], close["qty"]) == ("sell", "5")
    assert '"limit_price": "200.9"' in close["details"], "a limit at the last trade less the row's offset"
    assert '"extended_hours": true' in close["details"]
    fake.set_price("TSLA", "201")  # the next after-hours trade reaches the limit
    wait_for(lambda: held(fake, "TSLA") == 0, "the close to fill after hours")
    wait_for(lambda: run_queue(services) == ["WAITING"] or newest(services, "TSLA")["status"] == "WAITING",
             "the CLOSE to settle")


def test_a_scheduled_crypto_close_on_an_extended_hours_row_goes_at_night_as_a_market_order(make, fake):
    services = make()
    assert send(services, "buy", "BTCUSD", 60000) == ["FILLED"]
    fake.market.close()
    row = services.config.lookup("BTC/USD", 15)[0]
    assert journal_close(services.journal, row, SCHEDULE, "flatten:BTCUSD:15:test", "Flatten At 23:00")
    assert run_queue(services) == ["WAITING"]
    close = newest(services, "BTC/USD")["orders"][0]
    assert close["details"] is None, "crypto trades around the clock: a plain market close"
    assert held(fake, "BTC/USD") == 0


# -- a close never sells what the account no longer holds ----------------------------------------

def test_a_close_on_a_stale_cached_long_does_not_open_a_short(make, fake):
    services = make()
    assert send(services, "buy", "NVDA", 100) == ["FILLED"]
    assert held(fake, "NVDA") == 10
    wait_for(lambda: services.broker.position_is_current("NVDA"), "the stream-fed position to be trusted")
    # The trader's own stop filled and its event never arrived, while the socket still looks alive.
    fake.set_position("NVDA", 0)
    assert services.updates.live and services.broker.position("NVDA").qty == 10
    assert send(services, "close", "NVDA", 100) == ["WAITING"]
    assert held(fake, "NVDA") == 0, "flat, not short 10"
    with fake.lock:
        assert not [o for o in fake.orders.values() if o["symbol"] == "NVDA" and o["side"] == "sell"]
    record = newest(services, "NVDA")
    assert record["reason"] == "already flat"
    [refused] = record["orders"]  # sent as a close: Alpaca, flat, refused it rather than open a short
    assert refused["state"] == "replanned" and "position intent mismatch" in refused["reason"]


def test_a_flip_on_a_stale_cached_long_sells_only_to_open_the_short(make, fake):
    services = make()
    assert send(services, "buy", "NVDA", 100) == ["FILLED"]
    wait_for(lambda: services.broker.position_is_current("NVDA"), "the stream-fed position to be trusted")
    fake.set_position("NVDA", 0)  # sold outside NovAlgo; the event was lost
    assert send(services, "sell", "NVDA", 100) == ["FILLED"]
    assert held(fake, "NVDA") == -10, "one short of the row's size, not 20"


def test_a_close_and_an_entry_go_with_no_read_first(make, fake):
    services = make()
    assert send(services, "buy", "NVDA", 100) == ["FILLED"]
    wait_for(lambda: services.broker.position_is_current("NVDA"), "the buy's fill event")
    with fake.lock:
        fake.request_log.clear()
    assert send(services, "close", "NVDA", 100) == ["WAITING"]
    wait_for(lambda: services.broker.position_is_current("NVDA"), "the close's fill event")
    assert send(services, "buy", "NVDA", 100) == ["FILLED"]
    with fake.lock:
        reads = [path for _, method, path in fake.request_log if method == "GET" and "positions" in path]
    assert reads == [], "both decided on the stream-fed position"
