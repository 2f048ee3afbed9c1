"""Every way traders write an alert, read into one Alert, and every body we refuse (the 400 reasons)."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from novalgo.domain.alerts import BUY, CLOSE, SELL, Alert, parse_alert, read_delivery
from novalgo.domain.config_rows import match_row, parse_config
from novalgo.domain.timeframes import interval_label, interval_minutes
from novalgo.errors import AlertError


def read(body: str | bytes) -> Alert:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return parse_alert(read_delivery(raw))


def js(**fields) -> str:
    return json.dumps(fields)


def case(id_: str, body: str, action: str, symbol: str = "AAPL", timeframe=None, minutes=None, price=None):
    return pytest.param(body, Alert(action, symbol, timeframe, minutes, None if price is None else D(price)), id=id_)


# -- what we accept --------------------------------------------------------------------------------

ACCEPTED = [
    # TradingView renders a missing {{close}} as NaN: an absent price, not a broken alert.
    case("nan-price-is-absent", js(action="buy", symbol="AAPL", price="NaN"), "buy"),
    # Our original design's flat JSON, in any case, with the synonyms traders use.
    case("flat-BUY", js(action="BUY", symbol="AAPL", timeframe="15 Min"), BUY, timeframe="15 Min", minutes=15),
    case("flat-sell-lower", js(action="sell", symbol="AAPL", timeframe="15"), SELL, timeframe="15", minutes=15),
    case("flat-Close-mixed", js(action="Close", symbol="AAPL", timeframe="15"), CLOSE, timeframe="15", minutes=15),
    case("synonym-long", js(action="long", symbol="AAPL"), BUY),
    case("synonym-LONG", js(action="LONG", symbol="AAPL"), BUY),
    case("synonym-short", js(action="short", symbol="AAPL"), SELL),
    case("synonym-exit", js(action="exit", symbol="AAPL"), CLOSE),
    case("synonym-Flat", js(action="Flat", symbol="AAPL"), CLOSE),
    case("key-names-any-case", json.dumps({"Action": "Buy", "Symbol": "aapl", "TimeFrame": "15"}), BUY,
         timeframe="15", minutes=15),
    # TradingView placeholder names, as filled in by {{ticker}}, {{exchange}}, {{interval}}, {{close}}.
    case("tv-ticker-interval-close", js(action="buy", ticker="AAPL", exchange="NASDAQ", interval="15", close="200.25"),
         BUY, timeframe="15", minutes=15, price="200.25"),
    case("tv-price-field", js(action="sell", ticker="AAPL", interval="60", price="250"), SELL,
         timeframe="60", minutes=60, price="250"),
    case("tv-price-number", '{"action": "buy", "symbol": "AAPL", "price": 200.5}', BUY, price="200.5"),
    case("tv-price-dollar-comma", js(action="buy", symbol="AAPL", price="$1,200.50"), BUY, price="1200.50"),
    case("tv-interval-number", '{"action": "buy", "symbol": "AAPL", "interval": 15}', BUY, timeframe="15", minutes=15),
    # {{strategy.order.action}} and {{strategy.market_position}} written as flat keys.
    case("order-action-buy", js(order_action="buy", ticker="AAPL"), BUY),
    case("order-action-sell", js(order_action="sell", ticker="AAPL"), SELL),
    case("dotted-order-action", json.dumps({"strategy.order.action": "sell", "ticker": "AAPL"}), SELL),
    case("position-long", js(order_action="buy", market_position="long", ticker="AAPL"), BUY),
    case("position-short", js(order_action="sell", market_position="short", ticker="AAPL"), SELL),
    case("sell-leaving-flat-is-close", js(order_action="sell", market_position="flat", ticker="AAPL"), CLOSE),
    case("buy-leaving-flat-is-close", js(order_action="buy", market_position="flat", ticker="AAPL"), CLOSE),
    case("dotted-market-position-flat",
         json.dumps({"strategy.order.action": "sell", "strategy.market_position": "flat", "ticker": "AAPL"}), CLOSE),
    # Nested strategy objects.
    case("nested-strategy-buy", json.dumps({"ticker": "AAPL", "strategy": {"order_action": "buy"}}), BUY),
    case("nested-strategy-flat",
         json.dumps({"ticker": "AAPL", "strategy": {"order_action": "sell", "market_position": "flat"}}), CLOSE),
    case("nested-strategy-position-short",
         json.dumps({"ticker": "AAPL", "interval": "15", "strategy": {"order": {"action": "sell"},
                                                                      "market_position": "short"}}),
         SELL, timeframe="15", minutes=15),
    case("nested-strategy-price",
         json.dumps({"ticker": "AAPL", "strategy": {"order_action": "buy", "order_price": "199.5"}}), BUY,
         price="199.5"),
    # sentiment, as some indicator alerts send it.
    case("sentiment-bullish", js(sentiment="bullish", ticker="AAPL"), BUY),
    case("sentiment-bearish", js(sentiment="bearish", ticker="AAPL"), SELL),
    case("sentiment-flat", js(sentiment="flat", ticker="AAPL"), CLOSE),
    # Symbols.
    case("exchange-prefix", js(action="buy", symbol="NASDAQ:AAPL"), BUY),
    case("crypto-pair", js(action="buy", symbol="BTCUSD"), BUY, symbol="BTC/USD"),
    case("crypto-with-exchange", js(action="buy", ticker="COINBASE:ETHUSD"), BUY, symbol="ETH/USD"),
    case("crypto-slash-kept", js(action="buy", symbol="BTC/USD"), BUY, symbol="BTC/USD"),
    # TradingView's default strategy message: the new position is the target.
    case("default-message-buy",
         "Golden Cross (9, 21): order buy @ 25 filled on AAPL. New strategy position is 25", BUY),
    case("default-message-to-flat",
         "Golden Cross (9, 21): order sell @ 25 filled on NASDAQ:AAPL. New strategy position is 0", CLOSE),
    case("default-message-to-short",
         "Golden Cross (9, 21): order sell @ 50 filled on AAPL. New strategy position is -25", SELL),
    case("default-message-bracketed-name",
         "[Golden Cross] order sell @ 25 filled on AAPL. New strategy position is 0", CLOSE),
    # Plain text.
    case("text-BUY-AAPL-15", "BUY AAPL 15", BUY, timeframe="15", minutes=15),
    case("text-sell-with-price", "sell NASDAQ:AAPL 15m @201.5", SELL, timeframe="15m", minutes=15, price="201.5"),
    case("text-no-timeframe", "close AAPL", CLOSE),
    case("text-with-secret", "BUY AAPL 15 secret=hunter2", BUY, timeframe="15", minutes=15),
    case("utf8-bom", "\ufeff" + js(action="buy", symbol="AAPL"), BUY),
]


@pytest.mark.parametrize("body, expected", ACCEPTED)
def test_payload_families_read_into_one_alert(body, expected):
    assert read(body) == expected


# -- intervals: compared by minutes ------------------------------------------------------------------

@pytest.mark.parametrize("text, minutes", [
    ("15", 15), ("15m", 15), ("15 Min", 15), ("15min", 15), ("15 minutes", 15),
    ("60", 60), ("1h", 60), ("1 Hour", 60), ("60 Min", 60),
    ("240", 240), ("4h", 240),
    ("D", 1440), ("1D", 1440), ("1 Day", 1440),
    ("W", 10080), ("1W", 10080),
    ("M", 43200), ("1M", 43200),
], ids=lambda v: repr(v) if isinstance(v, str) else None)
def test_intervals_reduce_to_minutes(text, minutes):
    assert interval_minutes(text) == minutes


@pytest.mark.parametrize("text", ["", "15x", "0", "1.5", "30S", "soon"])
def test_unreadable_intervals_are_refused(text):
    with pytest.raises(ValueError):
        interval_minutes(text)


def test_sheet_labels_round_trip_through_minutes():
    assert [interval_label(m) for m in (5, 15, 60, 240, 1440, 10080)] == [
        "5 Min", "15 Min", "60 Min", "240 Min", "1 Day", "1 Week"]


@pytest.mark.parametrize("row_timeframe", ["1 Hour", "60 Min"])
@pytest.mark.parametrize("alert_interval", ["60", "1h", "60m"])
def test_an_hourly_alert_finds_an_hourly_row_however_it_is_written(row_timeframe, alert_interval):
    snapshot = parse_config([["symbol", "position_size", "active", "Time Frame"],
                             ["AAPL", "5000", "TRUE", row_timeframe]])
    alert = read(js(action="buy", ticker="AAPL", interval=alert_interval))
    row, reason = match_row(snapshot, alert.symbol, alert.timeframe_minutes)
    assert reason == "" and row is not None and row.timeframe == row_timeframe


# -- the secret: taken out, never stored ------------------------------------------------------------

@pytest.mark.parametrize("field", ["secret", "passphrase", "key", "token", "Secret", "PASSPHRASE"])
def test_the_secret_is_taken_from_the_body_and_not_stored(field):
    delivery = read_delivery(json.dumps({"action": "buy", "symbol": "AAPL", field: "hunter2-xyz"}).encode())
    assert delivery.secret == "hunter2-xyz"
    assert "hunter2-xyz" not in delivery.stored_body
    assert json.loads(delivery.stored_body) == {"action": "buy", "symbol": "AAPL"}
    assert parse_alert(delivery) == Alert(BUY, "AAPL")


@pytest.mark.parametrize("body", ["BUY AAPL 15 secret=hunter2-xyz", "passphrase: hunter2-xyz BUY AAPL 15",
                                  "BUY AAPL 15 token=hunter2-xyz"])
def test_a_text_alert_secret_is_taken_out_too(body):
    delivery = read_delivery(body.encode())
    assert delivery.secret == "hunter2-xyz"
    assert "hunter2-xyz" not in delivery.stored_body
    assert parse_alert(delivery).action == BUY


def test_a_body_without_a_secret_is_stored_as_it_came():
    delivery = read_delivery(b"BUY AAPL 15")
    assert (delivery.secret, delivery.stored_body) == (None, "BUY AAPL 15")


# -- what we refuse: 400 with a reason a trader can act on --------------------------------------------

REFUSED = [
    pytest.param(js(symbol="AAPL", timeframe="15"), "missing action", id="no-action"),
    pytest.param(js(action="", symbol="AAPL"), "missing action", id="blank-action"),
    pytest.param(js(action="buy", timeframe="15"), "missing symbol", id="no-symbol"),
    pytest.param(js(action="hold", symbol="AAPL"), "unknown action 'hold': use buy, sell or close", id="unknown-action"),
    pytest.param(js(sentiment="sideways", ticker="AAPL"), "unknown sentiment 'sideways'", id="unknown-sentiment"),
    pytest.param(js(action="buy", symbol="AAPL", timeframe="15x"), "bad timeframe", id="bad-interval"),
    pytest.param(js(action="buy", symbol="AAPL", timeframe="30S"), "second intervals are not supported",
                 id="seconds-interval"),
    pytest.param(js(action="buy", symbol="AAPL", price="abc"), "bad price 'abc': not a number", id="bad-price"),
    pytest.param(js(action="buy", symbol="AAPL", price="-5"), "bad price '-5': must be above zero", id="negative-price"),
    pytest.param(js(action="buy", symbol="AAPL", price="Infinity"), "not a finite number", id="infinite-price"),
    pytest.param(js(action="buy", symbol="AA PL!"), "unreadable symbol", id="bad-symbol"),
    pytest.param('{"action": "buy", "symbol": "AAPL",', "not valid JSON", id="invalid-json"),
    pytest.param('[{"action": "buy", "symbol": "AAPL"}]', "JSON body must be an object", id="json-array"),
    pytest.param("", "empty body", id="empty-body"),
    pytest.param("   \n", "empty body", id="blank-body"),
    pytest.param(b"\xffBUY AAPL", "not UTF-8", id="not-utf8"),
    pytest.param("hello", "cannot read the text alert: write it as 'BUY AAPL 15'", id="one-word-text"),
    pytest.param("please buy some apple shares today", "cannot read the text alert", id="chatty-text"),
    pytest.param("HOLD AAPL 15", "unknown action 'HOLD'", id="text-unknown-action"),
]


@pytest.mark.parametrize("body, message", REFUSED)
def test_unreadable_alerts_are_refused_with_the_reason(body, message):
    with pytest.raises(AlertError) as refused:
        read(body)
    assert message in str(refused.value)


def test_reasons_tell_the_trader_how_to_fix_the_alert():
    with pytest.raises(AlertError, match=r'add "action": "buy" \| "sell" \| "close"'):
        read(js(symbol="AAPL"))
    with pytest.raises(AlertError, match=r'add "symbol": "AAPL" \(or "ticker": "\{\{ticker\}\}"\)'):
        read(js(action="buy"))


def test_an_absurd_price_is_refused():
    from novalgo.domain.alerts import parse_alert, read_delivery
    from novalgo.errors import AlertError

    with pytest.raises(AlertError, match="surely not a real quote"):
        parse_alert(read_delivery(b'{"action": "buy", "symbol": "AAPL", "price": "1e400"}'))
