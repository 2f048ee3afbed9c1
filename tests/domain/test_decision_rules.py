"""The decision table with the row's rules: direction, sizes, limit and extended-hours orders, exits."""

from __future__ import annotations

from decimal import Decimal as D

from novalgo.domain import statuses as st
from novalgo.domain.alert_parts import PERCENT, PIPS, PRICE, ExitTarget
from novalgo.domain.alerts import BUY, CLOSE, SELL
from novalgo.domain.config_rows import parse_config
from novalgo.domain.decision import Context, Holding, OrderLeg, Tradability, decide
from novalgo.domain.row_rules import Distance

FLAT, LONG_25, SHORT_20 = Holding(), Holding(D(25)), Holding(D(-20))
CLOSED = Context(regular_hours=False)


def row(size="5000", **columns):
    header = ["symbol", "position_size", "active", "Time Frame", *columns]
    cells = ["AAPL", size, "TRUE", "15 Min", *columns.values()]
    snapshot = parse_config([[h.replace("_", " ") for h in header], cells])
    return snapshot.rows[0]


def test_long_only_turns_sell_into_a_close():
    plan = decide(SELL, row(Direction="long only"), LONG_25, D(200))
    assert plan.legs == (OrderLeg("close", "sell", qty=D(25)),)
    assert plan.status == st.WAITING and "long only" in plan.reason
    flat = decide(SELL, row(Direction="long only"), FLAT, D(200))
    assert flat.legs == () and flat.status == st.WAITING


def test_short_only_turns_buy_into_a_close_and_still_shorts():
    plan = decide(BUY, row(Direction="short only"), SHORT_20, D(200))
    assert plan.legs == (OrderLeg("close", "buy", qty=D(20)),) and plan.status == st.WAITING
    assert decide(SELL, row(Direction="short only"), FLAT, D(250)).legs == (OrderLeg("open", "sell", qty=D(20)),)


def test_sizes_in_shares_percent_and_from_the_alert():
    assert decide(BUY, row("25 sh"), FLAT, D(200)).legs == (OrderLeg("open", "buy", qty=D(25)),)
    percent = decide(BUY, row("10%"), FLAT, D(200), context=Context(equity=D("100000")))
    assert percent.legs == (OrderLeg("open", "buy", notional=D("10000.00")),)
    short = decide(SELL, row("10%"), FLAT, D(200), context=Context(equity=D("100000")))
    assert short.legs == (OrderLeg("open", "sell", qty=D(50)),)
    alert = decide(BUY, row("alert"), FLAT, D(200), context=Context(alert_qty=D("3.5")))
    assert alert.legs == (OrderLeg("open", "buy", qty=D("3.5")),)
    whole = decide(BUY, row("alert"), FLAT, D(200), Tradability(fractionable=False), Context(alert_qty=D("3.5")))
    assert whole.legs == (OrderLeg("open", "buy", qty=D(3)),)


def test_alert_size_without_a_quantity_fails_with_the_reason():
    plan = decide(BUY, row("alert"), FLAT, D(200))
    assert plan.status == st.FAILED and "carries no quantity" in plan.reason and plan.legs == ()


def test_a_limit_row_buys_at_price_plus_offset_and_sells_at_price_minus_offset():
    buy = decide(BUY, row(**{"Order_Type": "limit", "Limit_Offset": "0.1%"}), FLAT, D(200))
    assert buy.legs == (OrderLeg("open", "buy", qty=D("24.975024975"), order_type="limit", limit_price=D("200.20")),)
    sell = decide(SELL, row(**{"Order_Type": "limit", "Limit_Offset": "$0.05"}), FLAT, D(250))
    assert sell.legs == (OrderLeg("open", "sell", qty=D(20), order_type="limit", limit_price=D("249.95")),)
    none = decide(BUY, row(**{"Order_Type": "limit"}), FLAT, None)
    assert none.status == st.FAILED and "needs the alert's price" in none.reason


def test_extended_hours_trades_limits_outside_regular_hours_and_nothing_changes_inside():
    ext = row(**{"Extended_Hours": "TRUE", "Limit_Offset": "$0.10"})
    outside = decide(SELL, ext, LONG_25, D(200), context=CLOSED)
    assert outside.legs == (
        OrderLeg("close", "sell", qty=D(25), order_type="limit", limit_price=D("199.90"), extended_hours=True),
        OrderLeg("open", "sell", qty=D(25), order_type="limit", limit_price=D("199.90"), extended_hours=True))
    inside = decide(SELL, ext, LONG_25, D(200))
    assert inside.legs == (OrderLeg("close", "sell", qty=D(25)), OrderLeg("open", "sell", qty=D(25)))
    # Without the checkbox a closed market changes nothing: the order queues for the open.
    assert decide(BUY, row(), FLAT, D(200), context=CLOSED).legs == (OrderLeg("open", "buy", notional=D("5000.00")),)


def test_take_profit_and_stop_loss_make_a_whole_share_bracket_good_till_cancelled():
    plan = decide(BUY, row(**{"Take_Profit": "2%", "Stop_Loss": "1%"}), FLAT, D(100))
    assert plan.legs == (OrderLeg("open", "buy", qty=D(50), time_in_force="gtc", take_profit=D("102.00"),
                                  stop_loss=D("99.00"), take_profit_from=Distance(D(2), True),
                                  stop_loss_from=Distance(D(1), True)),)
    short = decide(SELL, row(**{"Stop_Loss": "$2"}), FLAT, D(100))
    assert short.legs == (OrderLeg("open", "sell", qty=D(50), time_in_force="gtc", stop_loss=D("102.00"),
                                   stop_loss_from=Distance(D(2), False)),)


def test_the_alerts_exits_fill_in_where_the_row_is_empty_and_the_row_wins():
    context = Context(alert_take_profit=ExitTarget(PRICE, D("110")), alert_stop_loss=ExitTarget(PERCENT, D(5)))
    plan = decide(BUY, row(**{"Take_Profit": "2%"}), FLAT, D(100), context=context)
    assert (plan.legs[0].take_profit, plan.legs[0].stop_loss) == (D("102.00"), D("95.00"))
    # The alert's 5% is a distance, placed again from the fill; an absolute price stays where it is.
    assert (plan.legs[0].take_profit_from, plan.legs[0].stop_loss_from) == (Distance(D(2), True), Distance(D(5), True))
    pips = decide(BUY, row(), FLAT, D(100), context=Context(alert_stop_loss=ExitTarget(PIPS, D(20))))
    assert pips.status == st.FAILED and "pips" in pips.reason
    wrong = decide(BUY, row(), FLAT, D(100), context=Context(alert_take_profit=ExitTarget(PRICE, D(90))))
    assert wrong.status == st.FAILED and "not above the entry price" in wrong.reason


def test_a_trailing_stop_follows_the_entry_as_its_own_order():
    plan = decide(BUY, row("2000", **{"Trailing_Stop": "1.5%"}), SHORT_20, D(100))
    assert plan.legs == (OrderLeg("close", "buy", qty=D(20)), OrderLeg("open", "buy", qty=D(20)),
                         OrderLeg("trailing_stop", "sell", qty=D(20), order_type="trailing_stop",
                                  time_in_force="gtc", trail_percent=D("1.5")))


def test_exits_refused_where_alpaca_has_none():
    crypto = decide(BUY, row(**{"Take_Profit": "2%"}), FLAT, D(100), Tradability(crypto=True))
    assert crypto.status == st.FAILED and "crypto" in crypto.reason
    ext = decide(BUY, row(**{"Take_Profit": "2%", "Extended_Hours": "TRUE"}), FLAT, D(100), context=CLOSED)
    assert ext.status == st.FAILED and "pre/post-market" in ext.reason


def test_a_row_with_an_unreadable_cell_fails_its_alerts():
    plan = decide(CLOSE, row(**{"Stop_Loss": "lots"}), LONG_25, D(100))
    assert plan.status == st.FAILED and plan.legs == () and "Stop Loss 'lots'" in plan.reason
