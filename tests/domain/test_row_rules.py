"""The optional Config columns, read as a trader types them; a cell that cannot be read says why."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from novalgo.domain.config_rows import parse_config
from novalgo.domain.row_rules import (
    ALERT,
    DOLLARS,
    LONG_ONLY,
    PERCENT,
    SHARES,
    Distance,
    TradeRules,
    exit_price,
    limit_price,
    parse_rules,
    parse_size,
)


@pytest.mark.parametrize("text, kind, amount", [
    ("5000", DOLLARS, "5000"), ("$5,000", DOLLARS, "5000"), ("25 sh", SHARES, "25"), ("25sh", SHARES, "25"),
    ("3 shares", SHARES, "3"), ("10%", PERCENT, "10"), (" 2.5 % ", PERCENT, "2.5"), ("alert", ALERT, None),
    ("ALERT", ALERT, None),
])
def test_position_size_in_every_form(text, kind, amount):
    size = parse_size(text)
    assert (size.kind, size.amount) == (kind, None if amount is None else D(amount))


@pytest.mark.parametrize("text, words", [
    ("2.5 sh", "whole number"), ("0 sh", "whole number"), ("150%", "at most 100%"), ("0%", "above 0%"),
    ("lots", "not a dollar amount"), ("-5", "above zero"),
])
def test_a_size_that_cannot_be_read_says_why(text, words):
    with pytest.raises(ValueError, match=words):
        parse_size(text)


def test_empty_cells_keep_the_first_versions_behaviour():
    assert parse_rules({}) == TradeRules()
    assert parse_rules({"Direction": "", "Take Profit": " ", "Extended Hours": "FALSE"}) == TradeRules()


def test_every_column_read():
    rules = parse_rules({"Direction": "Long Only", "Take Profit": "2%", "Stop Loss": "$1.50",
                         "Order Type": "Limit", "Limit Offset": "$0.05", "Extended Hours": "TRUE"})
    assert rules.direction == LONG_ONLY
    assert rules.take_profit == Distance(D(2), True) and rules.stop_loss == Distance(D("1.50"), False)
    assert rules.order_type == "limit" and rules.limit_offset == Distance(D("0.05"), False)
    assert rules.extended_hours is True
    assert parse_rules({"Trailing Stop": "1.5%"}).trailing_stop == Distance(D("1.5"), True)
    assert parse_rules({"Direction": "short-only"}).direction == "short only"


@pytest.mark.parametrize("cells, words", [
    ({"Direction": "sideways"}, "Direction 'sideways': write one of both, long only, short only"),
    ({"Take Profit": "2"}, "Take Profit '2': write a percent"),
    ({"Stop Loss": "$0"}, "must be above zero"),
    ({"Order Type": "stop"}, "Order Type 'stop'"),
    ({"Extended Hours": "maybe"}, "Extended Hours 'maybe'"),
    ({"Trailing Stop": "1%", "Take Profit": "2%"}, "cannot be combined"),
    ({"Trailing Stop": "0.05%"}, "0.1% to 80%"),
])
def test_a_cell_that_cannot_be_read_names_the_column(cells, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_rules(cells)


def test_a_bad_cell_keeps_the_row_and_marks_its_problem():
    snapshot = parse_config([
        ["symbol", "position_size", "active", "Time Frame", "Take Profit", "My notes"],
        ["AAPL", "5000", "TRUE", "15 Min", "lots", "mine"],
        ["MSFT", "25 sh", "TRUE", "15 Min", "2%", ""],
    ])
    aapl, msft = snapshot.find("AAPL", 15), snapshot.find("MSFT", 15)
    assert "Take Profit 'lots'" in aapl.problem
    assert msft.problem == "" and msft.size.kind == SHARES and msft.rules.take_profit == Distance(D(2), True)
    assert msft.position_size is None  # not dollars
    assert any(p.startswith("row 2: Take Profit") for p in snapshot.problems)


def test_exit_prices_sit_on_the_right_side_and_at_a_price_alpaca_takes():
    assert exit_price(D("100"), Distance(D(2), True), "buy", profit=True) == D("102.00")
    assert exit_price(D("100"), Distance(D(1), True), "buy", profit=False) == D("99.00")
    assert exit_price(D("100"), Distance(D("1.5"), False), "sell", profit=True) == D("98.50")
    assert exit_price(D("100"), Distance(D("1.5"), False), "sell", profit=False) == D("101.50")
    assert exit_price(D("0.5"), Distance(D(3), True), "buy", profit=True) == D("0.5150")  # sub-penny below $1
    assert exit_price(D("187.333"), Distance(D(2), True), "buy", profit=True) == D("191.08")


def test_limit_prices_go_through_the_alerts_price_by_the_offset():
    assert limit_price(D("100"), Distance(D("0.1"), True), "buy") == D("100.10")
    assert limit_price(D("100"), Distance(D("0.05"), False), "sell") == D("99.95")
    assert limit_price(D("100"), None, "buy") == D("100.00")


def test_every_bad_cell_of_a_row_is_named_at_once():
    with pytest.raises(ValueError) as refused:
        parse_rules({"Direction": "sideways", "Take Profit": "2", "Extended Hours": "maybe"})
    assert str(refused.value).count(";") == 2
    assert all(name in str(refused.value) for name in ("Direction", "Take Profit", "Extended Hours"))
