"""Other bridges' alert dialects, each read from the examples in the source's own documentation.

One table per dialect, named for its source; bodies are as TradingView delivers them once the
placeholders are filled in, with made-up secrets, tokens and account names.
"""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest

from novalgo.domain.alerts import BUY, CLOSE, PERCENT, PRICE, SELL, Alert, ExitTarget, parse_alert, read_delivery
from novalgo.errors import AlertError

SECRET = "made-up-Secret_42"


def read(body: str | dict, secret: str | None = SECRET, indicator_names=()) -> Alert:
    text = json.dumps(body) if isinstance(body, dict) else body
    return parse_alert(read_delivery(text.encode("utf-8"), secret), indicator_names)


def refusal(body: str | dict, **kwargs) -> AlertError:
    with pytest.raises(AlertError) as refused:
        read(body, **kwargs)
    return refused.value


def trade(alert: Alert) -> tuple:
    return alert.action, alert.symbol


# -- PickMyTrade: "Alert Format" and "TradingView JSON alert configuration" -------------------------

def pickmytrade(data: str, **changes) -> dict:
    body = {"symbol": "AAPL", "date": "2024-05-01T14:30:00Z", "data": data, "quantity": "1", "risk_percentage": "0",
            "price": "189.5", "tp": "0", "percentage_tp": "0", "dollar_tp": "2", "sl": "0", "dollar_sl": "0",
            "percentage_sl": "0", "trail": "0", "update_tp": "false", "update_sl": "false",
            "token": "Ct8tPtD3-made-up", "duplicate_position_allow": "true", "reverse_order_close": "true",
            "multiple_accounts": [{"token": "Ct8tPtD3-made-up", "account_id": "2", "risk_percentage": 2,
                                   "quantity_multiplier": 0}]}
    return {**body, **changes}


@pytest.mark.parametrize("data, action", [("buy", BUY), ("sell", SELL), ("close", CLOSE), ("Buy", BUY)])
def test_pickmytrade_reads_the_action_in_data(data, action):
    alert = read(pickmytrade(data))
    assert (alert.action, alert.symbol, alert.price, alert.quantity) == (action, "AAPL", D("189.5"), D(1))
    assert alert.reader == "PickMyTrade"


def test_pickmytrade_zeroes_mean_not_set_and_exits_keep_their_unit():
    alert = read(pickmytrade("buy", quantity=0, risk_percentage=1, tp="210", percentage_sl="2"))
    assert alert.quantity is None  # 0 with risk_percentage: sized by their risk rule, not a share count
    assert (alert.take_profit, alert.stop_loss) == (ExitTarget(PRICE, D(210)), ExitTarget(PERCENT, D(2)))
    assert read(pickmytrade("buy")).take_profit is None  # dollar_tp is money for the whole trade


def test_pickmytrade_token_is_the_secret_and_every_copy_is_removed():
    delivery = read_delivery(json.dumps(pickmytrade("buy")).encode())
    assert delivery.secret == "Ct8tPtD3-made-up"
    assert "Ct8tPtD3" not in delivery.stored_body


def test_pickmytrade_strategy_template_with_contracts():
    body = {"symbol": "NASDAQ:AAPL", "date": "2024-05-01T14:30:00Z", "data": "sell", "quantity": "25",
            "risk_percentage": 0, "price": "189.5", "tp": 0, "sl": 0, "token": "t"}
    assert (trade(read(body)), read(body).quantity) == ((SELL, "AAPL"), D(25))


# -- Tickerly: "Standard alert message structure", "Directional alerts", "Close all alerts" -----------

TICKERLY = [
    pytest.param({"ticker": "AAPL", "action": "buy", "prev_position": "flat", "quantity": "10", "pointer": "m1k3y"},
                 BUY, id="enter-long"),
    pytest.param({"ticker": "AAPL", "action": "sell", "prev_position": "long", "quantity": "10", "pointer": "m1k3y"},
                 CLOSE, id="exit-long"),
    pytest.param({"ticker": "AAPL", "action": "sell", "prev_position": "flat", "quantity": "10", "pointer": "m1k3y"},
                 SELL, id="enter-short"),
    pytest.param({"ticker": "AAPL", "action": "buy", "prev_position": "short", "quantity": "10", "pointer": "m1k3y"},
                 CLOSE, id="exit-short"),
    pytest.param({"ticker": "AAPL", "closeall": "true", "pointer": "m1k3y"}, CLOSE, id="closeall"),
    # "Using a close all alert message will override any action or quantity instructions."
    pytest.param({"ticker": "AAPL", "action": "buy", "quantity": "10", "closeall": "true", "pointer": "m1k3y"},
                 CLOSE, id="closeall-overrides-action"),
]


@pytest.mark.parametrize("body, action", TICKERLY)
def test_tickerly_messages(body, action):
    alert = read(body)
    assert trade(alert) == (action, "AAPL") and alert.reader == "Tickerly"


def test_tickerly_crypto_pair_and_quantity():
    alert = read({"ticker": "BTCUSDT", "action": "buy", "prev_position": "flat", "quantity": "0.1", "pointer": "m1K3Y"})
    assert (alert.action, alert.symbol, alert.quantity) == (BUY, "BTC/USDT", D("0.1"))


# -- fields nested anywhere, keys in any case and style ------------------------------------------------

NESTED = [
    pytest.param({"data": {"strategy-order-action": "sell", "ticker": "AAPL"}}, SELL, id="hyphenated-in-data"),
    pytest.param({"Data": {"Strategy Order Action": "buy", "Ticker": "AAPL"}}, BUY, id="spaces-and-capitals"),
    pytest.param({"payload": {"signal": {"orderAction": "buy", "tickerId": "x", "ticker": "NASDAQ:AAPL"}}}, BUY,
                 id="camel-case-two-deep"),
    pytest.param({"alert": {"order": {"SIDE": "SELL"}, "instrument": "AAPL"}}, SELL, id="upper-case-in-alert"),
    pytest.param({"order": {"order-action": "buy"}, "signal": {"symbol": "AAPL", "time-frame": "15"}}, BUY,
                 id="split-across-objects"),
    # The position after the order wins here as in flat JSON: a sell that leaves it flat is a close.
    pytest.param({"data": {"strategy-order-action": "sell", "ticker": "AAPL"},
                  "strategy": {"market_position": "flat"}}, CLOSE, id="nested-sell-to-flat"),
    pytest.param({"data": {"orderAction": "sell", "ticker": "AAPL", "marketPosition": "flat"}}, CLOSE,
                 id="camel-case-market-position"),
]


@pytest.mark.parametrize("body, action", NESTED)
def test_fields_are_found_at_any_depth_whatever_their_style(body, action):
    alert = read(body)
    assert trade(alert) == (action, "AAPL")
    assert alert.reader == "JSON, fields found by name at any depth"


def test_the_interval_and_price_are_found_nested_too():
    alert = read({"signal": {"Order-Action": "buy", "Ticker": "AAPL", "Time-Frame": "15", "Close-Price": "x",
                             "Price": "189.5"}})
    assert (alert.timeframe_minutes, alert.price) == (15, D("189.5"))


@pytest.mark.parametrize("body, position", [
    ({"action": "sell", "ticker": "AAPL", "current_position": "flat"}, CLOSE),
    ({"action": "sell", "ticker": "AAPL", "current_position": "short"}, SELL),
    ({"action": "sell", "ticker": "AAPL", "strategy": {"market_position": "flat"}}, CLOSE),
], ids=["current-position-flat", "current-position-short", "nested-market-position"])
def test_a_sell_that_leaves_the_position_flat_is_a_close(body, position):
    assert read(body).action == position


def test_nested_fields_that_disagree_are_refused_naming_both():
    refused = refusal({"data": {"action": "buy", "ticker": "AAPL"}, "signal": {"action": "sell"}})
    assert "data.action is 'buy'" in str(refused) and "signal.action is 'sell'" in str(refused)
    refused = refusal({"data": {"side": "buy", "ticker": "AAPL"}, "order": {"direction": "short"}})
    assert "disagree" in str(refused) and "buy" in str(refused) and "short" in str(refused)


def test_a_nested_secret_is_the_secret_and_is_removed():
    delivery = read_delivery(json.dumps({"data": {"action": "buy", "ticker": "AAPL", "passphrase": "p4ss"}}).encode())
    assert delivery.secret == "p4ss" and "p4ss" not in delivery.stored_body


def test_with_nothing_found_anywhere_the_json_reader_says_what_to_add():
    assert str(refusal({"data": {"note": "hello"}, "ticker": "AAPL"})).startswith("missing action")


# -- indicator names that hold an action word ---------------------------------------------------------

INDICATOR_NAMES = [
    pytest.param("Chandelier Exit Buy, NASDAQ:MSFT", (BUY, "MSFT"), id="chandelier-exit-buy"),
    pytest.param("Chandelier Exit Sell, NASDAQ:MSFT", (SELL, "MSFT"), id="chandelier-exit-sell"),
    pytest.param("Chandelier Exit Long AAPL", (BUY, "AAPL"), id="chandelier-exit-long"),
    pytest.param("Long Short Ratio Sell NASDAQ:AAPL", (SELL, "AAPL"), id="long-short-ratio-sell"),
    pytest.param("chandelier-exit buy NASDAQ:AAPL", (BUY, "AAPL"), id="any-case-and-joiner"),
]


@pytest.mark.parametrize("body, expected", INDICATOR_NAMES)
def test_a_known_indicator_name_is_not_read_as_the_action(body, expected):
    assert trade(read(body)) == expected


def test_a_known_indicator_name_with_no_action_after_it_is_refused():
    refused = refusal("Chandelier Exit NASDAQ:AAPL")
    assert "'Chandelier Exit' is an indicator's name" in str(refused) and "Chandelier Exit Buy" in refused.hint


def test_a_trader_names_more_indicators_in_a_setting():
    refusal("Short Squeeze Long NASDAQ:AAPL")  # unknown, its words are read as words: not one clear trade
    assert trade(read("Short Squeeze Long NASDAQ:AAPL", indicator_names=("Short Squeeze",))) == (BUY, "AAPL")


# -- PineConnector with any licence id equal to the secret -------------------------------------------

@pytest.mark.parametrize("body, expected", [
    (f"{SECRET} , closeshort , NVDA", (CLOSE, "NVDA")),
    (f"{SECRET},buy,AAPL,risk=1", (BUY, "AAPL")),
    (f" {SECRET} , sell , NASDAQ:AAPL , sl_pct=1", (SELL, "AAPL")),
])
def test_pineconnector_with_the_secret_as_its_licence_id(body, expected):
    delivery = read_delivery(body.encode(), SECRET)
    assert delivery.secret == SECRET and SECRET not in delivery.stored_body
    alert = parse_alert(delivery)
    assert trade(alert) == expected and alert.reader == "PineConnector"


def test_a_first_field_that_is_not_the_secret_is_not_a_licence_id():
    delivery = read_delivery(b"UT Bot, buy, AAPL", SECRET)
    assert delivery.secret is None and trade(parse_alert(delivery)) == (BUY, "AAPL")
    assert read_delivery(f"{SECRET}x,buy,AAPL".encode(), SECRET).secret is None


# -- Alertatron: "Basic Concepts", "Market Order", "Limit Order" -------------------------------------

ALERTATRON = [
    pytest.param("MyKeys(AAPL) { market(side=buy, amount=1); } #bot", Alert(BUY, "AAPL", quantity=D(1)),
                 id="market-buy"),
    pytest.param("MyKeys(BTCUSD) { market(side=sell, amount=100); }\n#bot", Alert(SELL, "BTC/USD", quantity=D(100)),
                 id="docs-shape-crypto-sell"),
    pytest.param("MyKeys(AAPL) { market(position=0); } #bot", Alert(CLOSE, "AAPL"), id="position-zero-is-close"),
    pytest.param("MyKeys(AAPL) { market(position=10); } #bot", Alert(BUY, "AAPL"), id="position-long-target"),
    pytest.param("MyKeys(AAPL) { cancel(which=all); limit(side=sell, amount=2, offset=@190.5); } #bot",
                 Alert(SELL, "AAPL", price=D("190.5"), quantity=D(2)), id="limit-at-a-price"),
    pytest.param("MyKeys(AAPL) { market(side=buy, amount=50%); } MyKeys(AAPL) { stopOrder(side=sell, amount=100%p, "
                 "offset=2%); } #bot", Alert(BUY, "AAPL"), id="several-blocks-stop-is-not-the-direction"),
]


@pytest.mark.parametrize("body, expected", ALERTATRON)
def test_alertatron_commands(body, expected):
    alert = read(body)
    assert alert == expected and alert.reader == "Alertatron"


@pytest.mark.parametrize("body, reason", [
    ("MyKeys(AAPL) { market(side=buy, amount=1); } MyKeys(TSLA) { market(side=buy, amount=1); } #bot",
     "disagree on the symbol (AAPL and TSLA)"),
    ("MyKeys(AAPL) { market(side=buy, amount=1); market(side=sell, amount=1); } #bot", "disagree on the direction"),
    ("MyKeys(AAPL) { wait(10s); } #bot", "no market(), limit() or aggressive() order"),
])
def test_alertatron_commands_that_are_not_one_trade_are_refused(body, reason):
    assert reason in str(refusal(body))


# -- Autoview: "Alert Syntax" and "Building Autoview commands" ----------------------------------------

AUTOVIEW = [
    pytest.param("e=kraken s=ETHUSD b=buy q=0.5 t=market", Alert(BUY, "ETH/USD", quantity=D("0.5")), id="docs-kraken"),
    pytest.param("e=alpaca s=AAPL b=long q=10", Alert(BUY, "AAPL", quantity=D(10)), id="long"),
    pytest.param("e=alpaca s=AAPL b=short q=10%", Alert(SELL, "AAPL"), id="short-percent-size-not-kept"),
    pytest.param("e=alpaca s=AAPL c=position", Alert(CLOSE, "AAPL"), id="close-position"),
    pytest.param("e=alpaca s=AAPL c=position b=long", Alert(CLOSE, "AAPL"), id="close-long-position"),
    pytest.param("e=alpaca s=AAPL c=order\ne=alpaca s=AAPL b=buy q=3", Alert(BUY, "AAPL", quantity=D(3)),
                 id="cancel-then-buy"),
    pytest.param("e=alpaca s=AAPL c=position | e=alpaca s=AAPL b=sell q=3", Alert(SELL, "AAPL", quantity=D(3)),
                 id="close-then-reverse"),
]


@pytest.mark.parametrize("body, expected", AUTOVIEW)
def test_autoview_commands(body, expected):
    alert = read(body)
    assert alert == expected and alert.reader == "Autoview"


def test_autoview_commands_that_point_two_ways_are_refused():
    assert "disagree on the direction" in str(refusal("e=alpaca s=AAPL b=buy q=1 | e=alpaca s=AAPL b=sell q=1"))


# -- KEY=VALUE; texts: OctoBot's TradingView signals ----------------------------------------------------

KEY_VALUE = [
    pytest.param("SYMBOL=SOLUSD;SIGNAL=BUY;ORDER_TYPE=MARKET;VOLUME=2%", Alert(BUY, "SOL/USD"), id="issue-example"),
    pytest.param("EXCHANGE=binance;SYMBOL=BTCUSDT;SIGNAL=SELL;ORDER_TYPE=MARKET;VOLUME=0.01;",
                 Alert(SELL, "BTC/USDT", quantity=D("0.01")), id="octobot-docs"),
    pytest.param("SYMBOL=AAPL; SIGNAL=BUY; PRICE=189.5; TIMEFRAME=15", Alert(BUY, "AAPL", "15", 15, D("189.5")),
                 id="spaces-price-interval"),
]


@pytest.mark.parametrize("body, expected", KEY_VALUE)
def test_key_value_texts(body, expected):
    alert = read(body)
    assert alert == expected and alert.reader == "KEY=VALUE; text (OctoBot and alike)"


def test_a_key_value_secret_is_taken_out_up_to_its_semicolon():
    delivery = read_delivery(b"EXCHANGE=binance;TOKEN=t0k3n;SYMBOL=BTCUSDT;SIGNAL=BUY")
    assert delivery.secret == "t0k3n" and "t0k3n" not in delivery.stored_body
    assert trade(parse_alert(delivery)) == (BUY, "BTC/USDT")


# -- broken JSON ------------------------------------------------------------------------------------------

def test_broken_json_says_where_it_breaks_and_which_secret_it_carries():
    with pytest.raises(AlertError) as refused:
        read_delivery(b'{"action": "buy", "symbol": "AAPL" "secret": "s3cr3t"}')
    assert "at line 1 column 36" in str(refused.value)
    assert refused.value.secret == "s3cr3t" and "s3cr3t" not in str(refused.value)


# -- two readers, two readings -------------------------------------------------------------------------

def test_two_dialects_that_read_one_body_differently_are_refused_naming_both():
    refused = refusal({"data": "buy", "ticker": "AAPL", "closeall": "true", "pointer": "m1k3y"})
    assert str(refused) == "readers disagree: as PickMyTrade it is buy AAPL, as Tickerly it is close AAPL"
    assert refused.hint


def test_a_dialect_whose_keys_are_there_without_its_trade_gives_way():
    # Tickerly's "pointer" with PickMyTrade's "data": only PickMyTrade finds an action.
    alert = read({"data": "sell", "ticker": "AAPL", "pointer": "m1k3y"})
    assert trade(alert) == (SELL, "AAPL") and alert.reader == "PickMyTrade"


def test_nested_fields_that_do_not_decide_the_trade_may_differ():
    alert = read({"order": {"id": "1", "action": "buy", "ticker": "AAPL"}, "alert": {"id": "2"}})
    assert trade(alert) == (BUY, "AAPL")


def test_a_data_field_that_is_not_an_action_is_not_pickmytrade():
    assert str(refusal({"data": "hello", "ticker": "AAPL"})).startswith("missing action")


def test_tickerly_with_the_position_after_tells_a_reversal_from_an_exit():
    body = {"ticker": "AAPL", "action": "sell", "prev_position": "long", "quantity": "20", "pointer": "m1k3y"}
    assert read({**body, "market_position": "short"}).action == SELL
    assert read({**body, "market_position": "flat"}).action == CLOSE
