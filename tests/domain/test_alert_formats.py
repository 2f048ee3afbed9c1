"""Each alert format traders send, as the sending tool renders it, read into one Alert.

One table per format. Bodies are written the way TradingView delivers them after filling in the
placeholders (3Commas signal-bot JSON, PineConnector's comma syntax, indicator alert texts,
strategy placeholders), with a made-up secret / licence id.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from novalgo.domain.alerts import (
    AMOUNT,
    BUY,
    CLOSE,
    PERCENT,
    PIPS,
    PRICE,
    SELL,
    Alert,
    ExitTarget,
    parse_alert,
    read_delivery,
)
from novalgo.errors import AlertError


def read(body: str | dict) -> Alert:
    text = json.dumps(body) if isinstance(body, dict) else body
    return parse_alert(read_delivery(text.encode("utf-8")))


def refusal(body: str | dict) -> AlertError:
    with pytest.raises(AlertError) as refused:
        read(body)
    return refused.value


# -- 3Commas signal bot ------------------------------------------------------------------------------

def three_commas(action: str, position: str, prev: str, size: str = "10", contracts: str = "10", **extra) -> dict:
    """The 3Commas "Strategy" signal-bot template after TradingView rendered it."""
    return {"secret": "eyJhbGciOi-made-up", "max_lag": "300", "timestamp": "2024-05-01T14:30:00Z",
            "trigger_price": "189.5", "tv_exchange": "NASDAQ", "tv_instrument": "AAPL", "action": action,
            "bot_uuid": "7c0f6d2e-0000-4000-8000-000000000000",
            "strategy_info": {"market_position": position, "market_position_size": size,
                              "prev_market_position": prev, "prev_market_position_size": "0"},
            "order": {"amount": contracts, "currency_type": "base"}, **extra}


THREE_COMMAS = [
    pytest.param(three_commas("buy", "long", "flat"), BUY, id="strategy-enter-long"),
    pytest.param(three_commas("sell", "flat", "long", size="0"), CLOSE, id="strategy-sell-to-flat-is-close"),
    pytest.param(three_commas("sell", "short", "flat"), SELL, id="strategy-enter-short"),
    pytest.param(three_commas("buy", "flat", "short", size="0"), CLOSE, id="strategy-cover-short"),
    pytest.param(three_commas("sell", "short", "long"), SELL, id="strategy-reverse-to-short"),
    # The "Custom signal" template: the action names the intent, no strategy_info.
    pytest.param({"secret": "s", "max_lag": "300", "timestamp": "2024-05-01T14:30:00Z", "trigger_price": "189.5",
                  "tv_exchange": "NASDAQ", "tv_instrument": "AAPL", "action": "enter_long",
                  "bot_uuid": "u", "order": {"amount": "10", "currency_type": "base"}}, BUY, id="custom-enter_long"),
    pytest.param({"secret": "s", "tv_exchange": "NASDAQ", "tv_instrument": "AAPL", "action": "exit_long",
                  "bot_uuid": "u"}, CLOSE, id="custom-exit_long"),
    pytest.param({"secret": "s", "tv_exchange": "NASDAQ", "tv_instrument": "AAPL", "action": "enter_short",
                  "bot_uuid": "u"}, SELL, id="custom-enter_short"),
    pytest.param({"secret": "s", "tv_exchange": "NASDAQ", "tv_instrument": "AAPL", "action": "exit_short",
                  "bot_uuid": "u"}, CLOSE, id="custom-exit_short"),
]


@pytest.mark.parametrize("body, action", THREE_COMMAS)
def test_3commas_signal_bot_json(body, action):
    alert = read(body)
    assert (alert.action, alert.symbol) == (action, "AAPL")
    assert alert.price == (D("189.5") if "trigger_price" in body else None)


def test_3commas_order_amount_is_a_size_only_in_base_currency():
    assert read(three_commas("buy", "long", "flat", contracts="12.5")).quantity == D("12.5")
    quote = three_commas("buy", "long", "flat")
    quote["order"] = {"amount": "500", "currency_type": "quote"}  # 500 USDT is money, not a size
    assert read(quote).quantity is None


def test_3commas_crypto_on_a_crypto_exchange():
    body = three_commas("buy", "long", "flat", tv_exchange="BINANCE", tv_instrument="BTCUSDT")
    assert read(body).symbol == "BTC/USDT"


def test_3commas_secret_is_taken_out():
    delivery = read_delivery(json.dumps(three_commas("buy", "long", "flat")).encode())
    assert delivery.secret == "eyJhbGciOi-made-up" and "eyJhbGciOi" not in delivery.stored_body


# -- PineConnector -----------------------------------------------------------------------------------

PINECONNECTOR = [
    pytest.param("60123456789,buy,AAPL,risk=1", Alert(BUY, "AAPL"), id="buy"),
    pytest.param("60123456789,sell,AAPL,sl=50,risk=1", Alert(SELL, "AAPL", stop_loss=ExitTarget(PIPS, D(50))),
                 id="sell-sl-pips"),
    pytest.param("60123456789,closelong,AAPL", Alert(CLOSE, "AAPL"), id="closelong"),
    pytest.param("60123456789,closeshort,AAPL", Alert(CLOSE, "AAPL"), id="closeshort"),
    pytest.param("60123456789,closeall,AAPL", Alert(CLOSE, "AAPL"), id="closeall"),
    pytest.param("60123456789,closelongshort,AAPL", Alert(CLOSE, "AAPL"), id="closelongshort"),
    pytest.param("60123456789,long,AAPL,risk=2", Alert(BUY, "AAPL"), id="long"),
    pytest.param("60123456789,short,AAPL,risk=2", Alert(SELL, "AAPL"), id="short"),
    pytest.param("60123456789 , buy , AAPL , risk=0.1", Alert(BUY, "AAPL"), id="spaces-around-commas"),
    pytest.param("60123456789,buy,BTCUSD,risk=1,tp=2.5,sl=1",
                 Alert(BUY, "BTC/USD", take_profit=ExitTarget(PIPS, D("2.5")), stop_loss=ExitTarget(PIPS, D(1))),
                 id="legacy-tp-sl"),
    pytest.param("60123456789,buy,AAPL,vol_lots=1,tp_pct=2,sl_price=180.5",
                 Alert(BUY, "AAPL", take_profit=ExitTarget(PERCENT, D(2)), stop_loss=ExitTarget(PRICE, D("180.5"))),
                 id="explicit-units"),
    pytest.param("60123456789,sell,AAPL,vol_lots=1, secret=HappyTrader501", Alert(SELL, "AAPL"), id="with-secret"),
]


@pytest.mark.parametrize("body, expected", PINECONNECTOR)
def test_pineconnector_syntax(body, expected):
    assert read(body) == expected


@pytest.mark.parametrize("body", ["60123456789,buy,AAPL,risk=1", "60123456789,sell,AAPL,vol_lots=1, secret=HappyTrader501"])
def test_the_pineconnector_licence_id_is_the_secret_and_never_stored(body):
    delivery = read_delivery(body.encode())
    assert delivery.secret == "60123456789"
    assert "60123456789" not in delivery.stored_body and "HappyTrader501" not in delivery.stored_body
    assert delivery.stored_body.startswith(body.split(",")[1])


@pytest.mark.parametrize("command", ["buylimit", "sellstop", "cancellong", "newsltplong", "closelongvol", "eaoff"])
def test_pineconnector_commands_without_a_market_order_meaning_are_refused(command):
    refused = refusal(f"60123456789,{command},AAPL,price=10")
    assert f"PineConnector command {command!r} is not supported" in str(refused)
    assert refused.read["symbol"] == "AAPL" and "market orders only" in refused.hint


# -- indicator and bridge texts ----------------------------------------------------------------------

INDICATOR_TEXTS = [
    # Lorentzian Classification's own alert messages, rendered.
    pytest.param("LDC Open Long ▲ | AAPL@189.50 | (15)", Alert(BUY, "AAPL", "15", 15, D("189.50")), id="ldc-open-long"),
    pytest.param("LDC Open Short  | AAPL@189.50 | (15)", Alert(SELL, "AAPL", "15", 15, D("189.50")), id="ldc-open-short"),
    pytest.param("LDC Close Long ▲ | AAPL@189.50 | (1D)", Alert(CLOSE, "AAPL", "1D", 1440, D("189.50")),
                 id="ldc-close-long"),
    pytest.param("LDC Close Short ▼ | AAPL@189.50 | (60)", Alert(CLOSE, "AAPL", "60", 60, D("189.50")),
                 id="ldc-close-short"),
    pytest.param("LDC Close Position  ▲▼ | AAPL@[189.50] | (15)", Alert(CLOSE, "AAPL", "15", 15, D("189.50")),
                 id="ldc-close-position-bracketed-price"),
    pytest.param("LDC Kernel Bullish ▲ | BTCUSD@64250.5 | (240)", Alert(BUY, "BTC/USD", "240", 240, D("64250.5")),
                 id="ldc-kernel-bullish"),
    pytest.param("LDC Open Long ▲ | MSFT@327.30 | (1) TEST", Alert(BUY, "MSFT", "1", 1, D("327.30")),
                 id="ldc-trailing-text"),
    pytest.param("LC Premium Pullback Buy | AAPL@189.5", Alert(BUY, "AAPL", price=D("189.5")), id="lc-premium-pullback"),
    pytest.param("order buy | MSFT@433.02 | Directional Movement Index", Alert(BUY, "MSFT", price=D("433.02")),
                 id="order-word-pipes"),
    # A signal name before the action, the ticker after it (UT Bot, SuperTrend).
    pytest.param("UT Bot Buy AAPL", Alert(BUY, "AAPL"), id="ut-bot-buy"),
    pytest.param("UT Long AAPL", Alert(BUY, "AAPL"), id="ut-long"),
    pytest.param("UT Long Exit AAPL", Alert(CLOSE, "AAPL"), id="ut-long-exit"),
    pytest.param("SuperTrend Buy! AAPL", Alert(BUY, "AAPL"), id="supertrend-buy-bang"),
    pytest.param("SuperTrend Sell signal on NASDAQ:AAPL", Alert(SELL, "AAPL"), id="supertrend-sell-on-exchange"),
    pytest.param("SuperTrend Sell! NYSE:BRK.B", Alert(SELL, "BRK.B"), id="class-share"),
    pytest.param("Buy signal on AAPL 15", Alert(BUY, "AAPL", "15", 15), id="bare-interval-after-ticker"),
    pytest.param("Buy signal: AAPL@189.5", Alert(BUY, "AAPL", price=D("189.5")), id="signal-colon"),
    # The plain form still reads first, and "@ 200" is a price, not a 200-minute interval.
    pytest.param("buy NASDAQ:AAPL @ 200", Alert(BUY, "AAPL", price=D(200)), id="plain-spaced-at-price"),
    pytest.param("BUY AAPL @200 15", Alert(BUY, "AAPL", "15", 15, D(200)), id="plain-price-before-interval"),
]


@pytest.mark.parametrize("body, expected", INDICATOR_TEXTS)
def test_indicator_alert_texts(body, expected):
    assert read(body) == expected


INDICATOR_REFUSED = [
    pytest.param("UT Long", "found 'long' but no ticker", {"action": BUY, "symbol": None}, id="ut-long-no-ticker"),
    pytest.param("SuperTrend Buy!", "found 'buy' but no ticker", {"action": BUY, "symbol": None}, id="supertrend-no-ticker"),
    pytest.param("Buy AAPL or Sell TSLA", "which disagree", {"symbol": None}, id="buy-and-sell-words"),
    pytest.param("LDC Open Position ▲▼ | AAPL@189.50 | (15)", "'open position' does not say long or short",
                 {"symbol": None}, id="ldc-open-position-no-side"),
    pytest.param("Close Long and Open Short AAPL@189.5", "which disagree", {}, id="reversal-in-one-text"),
    pytest.param("Buy signal: AAPL@189.5 and TSLA@250", "more than one ticker", {"action": BUY}, id="two-tickers"),
    pytest.param("please buy some apple shares today", "found 'buy' but no ticker", {"symbol": None}, id="prose"),
    pytest.param("LDC Open Long ▲ | BTCUSDT.P@64000 | (15)", "perpetual", {"symbol": "BTCUSDT.P"}, id="perpetual"),
    pytest.param("Exit Long", "found 'exit long' but no ticker", {"action": CLOSE, "symbol": None}, id="no-ticker-not-LONG"),
    pytest.param("Don't buy AAPL", "negation", {"action": BUY}, id="negated"),
    pytest.param("No short AAPL here", "negation", {"action": SELL}, id="negated-no"),
    pytest.param("UT Long AAPL 5 10", "which of 5, 10 is the interval", {"symbol": "AAPL"}, id="two-bare-numbers"),
    pytest.param("LDC Open Long ▲ | AAPL@189.50 | (30S)", "second intervals are not supported",
                 {"timeframe": "30S"}, id="seconds-interval"),
]


@pytest.mark.parametrize("body, reason, read_", INDICATOR_REFUSED)
def test_free_text_that_is_not_one_clear_trade_is_refused(body, reason, read_):
    refused = refusal(body)
    assert reason in str(refused)
    assert {k: refused.read[k] for k in read_} == read_
    assert refused.hint


# -- placeholders rendered as text ---------------------------------------------------------------------

@pytest.mark.parametrize("empty", ["None", "NaN", "", "null", "{{close}}", "{{plot_0}}"])
def test_an_empty_or_unrendered_placeholder_in_a_field_that_is_not_needed_is_absent(empty):
    body = {"action": "buy", "ticker": "AAPL", "price": empty, "interval": empty, "quantity": empty,
            "take_profit": empty, "exchange": empty}
    assert read(body) == Alert(BUY, "AAPL")


@pytest.mark.parametrize("body, placeholder, field", [
    ({"action": "{{strategy.order.action}}", "ticker": "AAPL"}, "{{strategy.order.action}}", "action"),
    ({"action": "buy", "ticker": "{{ticker}}"}, "{{ticker}}", "symbol"),
    ({"action": "buy", "sentiment": "{{strategy.market_position}}", "ticker": "AAPL"}, "{{strategy.market_position}}",
     "sentiment"),
    ("BUY {{ticker}} 15", "{{ticker}}", "symbol"),
], ids=["action", "ticker", "position-decides-the-trade", "text"])
def test_an_unrendered_placeholder_in_a_needed_field_is_refused_by_name(body, placeholder, field):
    refused = refusal(body)
    assert str(refused) == f"the {placeholder} placeholder in {field} was not rendered by TradingView"
    assert "strategy" in refused.hint


# -- TradingView strategy placeholders, wherever the template puts them ---------------------------------

STRATEGY = [
    pytest.param({"ticker": "AAPL", "strategy.order.action": "sell", "strategy.position_size": "0"}, CLOSE,
                 id="dotted-position-size-zero"),
    pytest.param({"ticker": "AAPL", "strategy.order.action": "sell", "strategy.position_size": "-25"}, SELL,
                 id="dotted-position-size-negative"),
    pytest.param({"ticker": "AAPL", "strategy": {"order": {"action": "buy", "contracts": "25"}, "position_size": "25"}},
                 BUY, id="nested-position-size"),
    pytest.param({"ticker": "AAPL", "strategy": {"order": {"action": "sell"}, "market_position_size": "0"}}, CLOSE,
                 id="market-position-size-zero"),
    pytest.param({"ticker": "AAPL", "strategy": {"market_position": "flat", "prev_market_position": "long",
                                                 "order": {"action": "sell"}}}, CLOSE, id="nested-prev-position"),
    pytest.param({"ticker": "AAPL", "action": "sell", "strategy.order.id": "Exit Long"}, CLOSE, id="order-id-exit-long"),
    pytest.param({"ticker": "AAPL", "action": "buy", "strategy.order.comment": "Close Short"}, CLOSE,
                 id="order-comment-close-short"),
    pytest.param({"ticker": "AAPL", "action": "sell", "comment": "TP"}, CLOSE, id="comment-tp"),
    pytest.param({"ticker": "AAPL", "action": "sell", "comment": "SL"}, CLOSE, id="comment-sl"),
    pytest.param({"ticker": "AAPL", "action": "sell", "comment": "Stop Loss"}, CLOSE, id="comment-stop-loss"),
    pytest.param({"ticker": "AAPL", "action": "sell", "strategy": {"order": {"comment": "Take Profit"}}}, CLOSE,
                 id="nested-comment-take-profit"),
    pytest.param({"ticker": "AAPL", "action": "buy", "strategy.order.id": "Long"}, BUY, id="entry-id-is-not-an-exit"),
    pytest.param({"ticker": "AAPL", "action": "sell", "comment": "Short (close < EMA)"}, SELL,
                 id="close-inside-an-entry-name-is-not-an-exit"),
    pytest.param({"ticker": "AAPL", "strategy.order.alert_message": '{"action": "sell"}'}, SELL,
                 id="alert-message-json-string"),
    pytest.param({"ticker": "AAPL", "strategy": {"order": {"alert_message": {"action": "buy", "qty": "3"}}}}, BUY,
                 id="alert-message-object"),
    pytest.param({"ticker": "AAPL", "action": "sell", "alert_message": "Exit Long"}, CLOSE, id="alert-message-text-exit"),
    pytest.param({"ticker": "AAPL", "alert_message": "Open Short"}, SELL, id="alert-message-text-only"),
    pytest.param({"symbol": "NASDAQ:AAPL", "action": "buy"}, BUY, id="exchange-colon-ticker"),
    pytest.param({"symbol": "NASDAQ_DL:AAPL", "action": "buy"}, BUY, id="delayed-exchange"),
]


@pytest.mark.parametrize("body, action", STRATEGY)
def test_strategy_placeholders_wherever_they_appear(body, action):
    alert = read(body)
    assert (alert.action, alert.symbol) == (action, "AAPL")


def test_the_default_strategy_message_body_as_alert_message_keeps_its_size():
    assert read({"ticker": "AAPL", "strategy": {"order": {"alert_message": {"action": "buy", "qty": "3"}}}}).quantity == 3


# -- size and exits ------------------------------------------------------------------------------------

SIZE_AND_EXITS = [
    pytest.param({"action": "buy", "ticker": "AAPL", "contracts": "25"}, D(25), None, None, id="contracts"),
    pytest.param({"action": "buy", "ticker": "AAPL", "qty": 2.5}, D("2.5"), None, None, id="qty-number"),
    pytest.param({"action": "buy", "ticker": "AAPL", "strategy.order.contracts": "40"}, D(40), None, None,
                 id="dotted-contracts"),
    pytest.param({"action": "buy", "ticker": "AAPL", "take_profit": "210", "stop_loss": "180.5"}, None,
                 ExitTarget(PRICE, D(210)), ExitTarget(PRICE, D("180.5")), id="prices"),
    pytest.param({"action": "buy", "ticker": "AAPL", "take_profit": "5%", "stop_loss": "2%"}, None,
                 ExitTarget(PERCENT, D(5)), ExitTarget(PERCENT, D(2)), id="percent-text"),
    # TradersPost-style objects.
    pytest.param({"ticker": "AMD", "action": "buy", "signalPrice": 143.12, "quantity": 1,
                  "takeProfit": {"percent": 10}, "stopLoss": {"type": "stop", "percent": 5}}, D(1),
                 ExitTarget(PERCENT, D(10)), ExitTarget(PERCENT, D(5)), id="traderspost-percent"),
    pytest.param({"ticker": "AMD", "action": "buy", "takeProfit": {"limitPrice": 110}, "stopLoss": {"stopPrice": 90}},
                 None, ExitTarget(PRICE, D(110)), ExitTarget(PRICE, D(90)), id="traderspost-prices"),
    pytest.param({"ticker": "AMD", "action": "buy", "takeProfit": {"amount": 10}, "stopLoss": {"amount": "2.5"}},
                 None, ExitTarget(AMOUNT, D(10)), ExitTarget(AMOUNT, D("2.5")), id="traderspost-amounts"),
]


@pytest.mark.parametrize("body, quantity, take_profit, stop_loss", SIZE_AND_EXITS)
def test_size_and_exits_are_kept_on_the_alert(body, quantity, take_profit, stop_loss):
    alert = read(body)
    assert (alert.quantity, alert.take_profit, alert.stop_loss) == (quantity, take_profit, stop_loss)


@pytest.mark.parametrize("body, reason", [
    ({"action": "buy", "ticker": "AAPL", "quantity": "-3"}, "bad quantity '-3': must be above zero"),
    ({"action": "buy", "ticker": "AAPL", "qty": "lots"}, "bad quantity 'lots': not a number"),
    ({"action": "buy", "ticker": "AAPL", "stopLoss": {"percent": "-5"}}, "bad stop_loss.percent '-5'"),
    ({"action": "buy", "ticker": "AAPL", "take_profit": "soon"}, "bad take_profit 'soon': not a number"),
])
def test_a_broken_size_or_exit_is_refused(body, reason):
    assert reason in str(refusal(body))


# -- the helpful refusal -------------------------------------------------------------------------------

def test_a_refusal_says_what_was_read_and_how_to_fix_it():
    refused = refusal({"action": "buy", "ticker": "AAPL", "interval": "15x", "price": "189.5", "qty": "3"})
    assert str(refused).startswith("bad timeframe")
    assert refused.read == {"action": BUY, "symbol": "AAPL", "timeframe": "15x", "price": "189.5", "quantity": "3"}
    assert refused.hint.endswith(".") and "interval" in refused.hint


@pytest.mark.parametrize("body", ["", "hello", "{", "[1]", {"symbol": "AAPL"}, {"action": "buy"},
                                  {"action": "hold", "symbol": "AAPL"}, "HOLD AAPL 15", "60123456789,buylimit,AAPL"])
def test_every_refusal_fills_read_and_hint(body):
    refused = refusal(body)
    assert set(refused.read) == {"action", "symbol", "timeframe", "price", "quantity"}
    assert isinstance(refused.hint, str) and refused.hint
    json.dumps({"error": str(refused), "read": refused.read, "hint": refused.hint})  # the web layer's 400


def test_a_refusal_echoes_only_the_start_of_a_huge_field():
    refused = refusal({"action": "buy", "symbol": "A" * 5000})
    assert len(refused.read["symbol"]) < 100
