"""The decision table, as a table: alert action × what we hold → the orders sent and the row's status."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from novalgo.domain import statuses as st
from novalgo.domain.alerts import BUY, CLOSE, SELL
from novalgo.domain.config_rows import ConfigRow
from novalgo.domain.decision import Holding, OrderLeg, Tradability, decide, whole_shares

NO_PRICE_REASON = 'no price to size the order: add "price": "{{close}}" to the alert'


def row(size: str = "5000", active: bool = True) -> ConfigRow:
    return ConfigRow("AAPL", "15 Min", 15, D(size), active, row_number=2)


def close(side: str, qty: str) -> OrderLeg:
    return OrderLeg("close", side, qty=D(qty))


def open_qty(side: str, qty: str) -> OrderLeg:
    return OrderLeg("open", side, qty=D(qty))


def open_dollars(amount: str) -> OrderLeg:
    return OrderLeg("open", "buy", notional=D(amount))


CAN_TRADE = Tradability()
NOT_FRACTIONABLE = Tradability(fractionable=False)
NOT_SHORTABLE = Tradability(can_short=False, short_refusal="AAPL is not easy to borrow")
NOT_SHORTABLE_SILENT = Tradability(can_short=False)


def r(id_, action, held, pending, price, tradability, legs, status, reason="", size="5000"):
    return pytest.param(action, held, pending, price, tradability, size, legs, status, reason, id=id_)


TABLE = [
    #  id                                  action held   pend  price  tradability      legs                                         status            reason
    r("BUY flat → $ long",                  BUY,   "0",   "0",  "200", CAN_TRADE,       [open_dollars("5000")],                     st.FILLED),
    r("BUY flat, no price → $ long",        BUY,   "0",   "0",  None,  CAN_TRADE,       [open_dollars("5000")],                     st.FILLED),
    r("BUY while short → close, open",      BUY,   "-20", "0",  "200", CAN_TRADE,       [close("buy", "20"), open_dollars("5000")], st.FILLED),
    r("BUY while long → ALREADY LONG",      BUY,   "25",  "0",  "201", CAN_TRADE,       [],                                         st.ALREADY_LONG),
    r("BUY dollars cut to cents",           BUY,   "0",   "0",  "200", CAN_TRADE,       [open_dollars("1234.56")],                  st.FILLED, "", "1234.5678"),
    r("BUY not fractionable → whole",       BUY,   "0",   "0",  "210", NOT_FRACTIONABLE, [open_qty("buy", "23")],                   st.FILLED),
    r("BUY not fractionable, no price",     BUY,   "0",   "0",  None,  NOT_FRACTIONABLE, [],                                        st.FAILED, NO_PRICE_REASON),
    r("BUY not fractionable, short → close",BUY,   "-20", "0",  None,  NOT_FRACTIONABLE, [close("buy", "20")],                      st.FAILED, "closed the old position; " + NO_PRICE_REASON),
    r("SELL flat → floor(size/price)",      SELL,  "0",   "0",  "250", CAN_TRADE,       [open_qty("sell", "20")],                   st.FILLED),
    r("SELL flat, uneven → floor",          SELL,  "0",   "0",  "333", CAN_TRADE,       [open_qty("sell", "15")],                   st.FILLED),
    r("SELL while long → close, short",     SELL,  "25",  "0",  "250", CAN_TRADE,       [close("sell", "25"), open_qty("sell", "20")], st.FILLED),
    r("SELL while short → ALREADY SHORT",   SELL,  "-20", "0",  "250", CAN_TRADE,       [],                                         st.ALREADY_SHORT),
    r("SELL no price → FAILED",             SELL,  "0",   "0",  None,  CAN_TRADE,       [],                                         st.FAILED, NO_PRICE_REASON),
    r("SELL no price while long → close",   SELL,  "25",  "0",  None,  CAN_TRADE,       [close("sell", "25")],                      st.FAILED, "closed the old position; " + NO_PRICE_REASON),
    r("SELL size < price → FAILED",         SELL,  "0",   "0",  "6000", CAN_TRADE,      [],                                         st.FAILED, "position size $5000 buys no whole share at $6000"),
    r("SELL not shortable while long",      SELL,  "25",  "0",  "250", NOT_SHORTABLE,   [close("sell", "25")],                      st.FAILED, "closed the old position; AAPL is not easy to borrow"),
    r("SELL not shortable flat",            SELL,  "0",   "0",  "250", NOT_SHORTABLE_SILENT, [],                                    st.FAILED, "AAPL cannot be sold short"),
    r("CLOSE long → sell all",              CLOSE, "25",  "0",  "210", CAN_TRADE,       [close("sell", "25")],                      st.WAITING),
    r("CLOSE short → buy back",             CLOSE, "-20", "0",  "210", CAN_TRADE,       [close("buy", "20")],                       st.WAITING),
    r("CLOSE flat → nothing",               CLOSE, "0",   "0",  "210", CAN_TRADE,       [],                                         st.WAITING, "already flat"),
    r("CLOSE long, no price → still close", CLOSE, "25",  "0",  None,  CAN_TRADE,       [close("sell", "25")],                      st.WAITING),
    # Our own unfilled orders count as held: two quick BUYs never buy twice.
    r("two quick BUYs → ALREADY LONG",      BUY,   "0",   "25", "200", CAN_TRADE,       [],                                         st.ALREADY_LONG),
    r("two quick SELLs → ALREADY SHORT",    SELL,  "0",   "-20", "250", CAN_TRADE,      [],                                         st.ALREADY_SHORT),
    r("SELL while our close is pending",    SELL,  "25",  "-25", "250", CAN_TRADE,      [open_qty("sell", "20")],                   st.FILLED),
    # Fractional holdings (dollar buys) are closed exactly, to the last share fraction.
    r("CLOSE fractional long exactly",      CLOSE, "24.875621890", "0", "201", CAN_TRADE, [close("sell", "24.875621890")],        st.WAITING),
    r("SELL fractional long → exact close", SELL,  "24.875621890", "0", "250", CAN_TRADE, [close("sell", "24.875621890"), open_qty("sell", "20")], st.FILLED),
    r("BUY after fractional short cover",   BUY,   "-0.5", "0", "200", CAN_TRADE,       [close("buy", "0.5"), open_dollars("5000")], st.FILLED),
]


@pytest.mark.parametrize("action, held, pending, price, tradability, size, legs, status, reason", TABLE)
def test_decision_table(action, held, pending, price, tradability, size, legs, status, reason):
    plan = decide(action, row(size), Holding(D(held), D(pending)), None if price is None else D(price), tradability)
    assert list(plan.legs) == legs
    assert plan.status == status
    assert plan.reason == reason
    assert plan.cancel_first is False


@pytest.mark.parametrize("action", [BUY, SELL, CLOSE])
@pytest.mark.parametrize("held", ["0", "25", "-20"])
def test_an_inactive_row_never_trades(action, held):
    plan = decide(action, row(active=False), Holding(D(held)), D("200"))
    assert (plan.legs, plan.status) == ((), st.INACTIVE)
    assert plan.reason == "AAPL 15 Min is not active in the Config tab"


@pytest.mark.parametrize("action, held, pending", [
    pytest.param(BUY, "25", "-25", id="BUY while our sell is pending"),
    pytest.param(BUY, "0", "-20", id="BUY while our short is pending"),
    pytest.param(SELL, "0", "25", id="SELL while our buy is pending"),
    pytest.param(SELL, "-20", "20", id="SELL while our cover is pending"),
    pytest.param(CLOSE, "0", "25", id="CLOSE while our buy is pending"),
])
def test_our_pending_orders_the_other_way_are_cancelled_first(action, held, pending):
    plan = decide(action, row(), Holding(D(held), D(pending)), D("200"))
    assert plan.cancel_first is True
    assert plan.legs == ()
    assert plan.reason == "our unfilled orders point the other way"


def test_the_issue_scenario_moves_the_position_25_25_minus20_minus20_25_0():
    """BUY, BUY, SELL, SELL, BUY, CLOSE at 200, 201, 250, 250, 200, 210 (every order filling)."""
    held = D(0)
    seen = []
    for action, price in ((BUY, "200"), (BUY, "201"), (SELL, "250"), (SELL, "250"), (BUY, "200"), (CLOSE, "210")):
        plan = decide(action, row(), Holding(held), D(price))
        for leg in plan.legs:
            qty = leg.qty if leg.qty is not None else leg.notional / D(price)
            held += qty if leg.side == "buy" else -qty
        seen.append((plan.status, held))
    assert seen == [(st.FILLED, 25), (st.ALREADY_LONG, 25), (st.FILLED, -20), (st.ALREADY_SHORT, -20),
                    (st.FILLED, 25), (st.WAITING, 0)]


@pytest.mark.parametrize("dollars, price, shares", [
    ("5000", "250", "20"), ("5000", "200", "25"), ("5000", "4999.99", "1"), ("999.99", "100", "9"),
    ("40000", "17.33", "2308"),
])
def test_whole_shares_is_floor_of_dollars_over_price(dollars, price, shares):
    assert whole_shares(D(dollars), D(price)) == (D(shares), "")


def test_an_unknown_action_is_a_programming_error_not_a_status():
    with pytest.raises(ValueError):
        decide("hold", row(), Holding(), D("200"))


def test_a_second_close_keeps_the_close_already_under_way():
    from decimal import Decimal as D

    from novalgo.domain.config_rows import ConfigRow
    from novalgo.domain.decision import Holding, decide

    row = ConfigRow("AAPL", "15 Min", 15, D(5000), True, 2)
    plan = decide("close", row, Holding(held=D(25), pending=D(-25)), D(210))
    assert (plan.legs, plan.status, plan.cancel_first) == ((), "WAITING", False)
    partly = decide("close", row, Holding(held=D(25), pending=D(-10)), D(210))
    assert [(leg.side, leg.qty) for leg in partly.legs] == [("sell", D(15))]
    assert decide("close", row, Holding(held=D(0), pending=D(25)), D(210)).cancel_first
