"""OrderRequest refuses what no broker would take, before anything is sent."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from novalgo.broker.base import OrderRequest


def sell(**more) -> OrderRequest:
    return OrderRequest("nva-x-0", "AAPL", "sell", qty=D(10), **more)


def test_a_stop_order_has_a_stop_price_and_only_a_stop_order_does():
    assert sell(order_type="stop", stop_price=D(95)).order_class == "simple"
    with pytest.raises(ValueError, match="stop_price"):
        sell(order_type="stop")
    with pytest.raises(ValueError, match="stop_price"):
        sell(order_type="limit", limit_price=D(110), stop_price=D(95))


def test_an_oco_is_a_limit_take_profit_with_a_stop_loss():
    oco = sell(order_type="limit", limit_price=D(110), stop_loss=D(95), oco=True, time_in_force="gtc")
    assert oco.order_class == "oco"
    assert sell(order_type="limit", limit_price=D(110), stop_loss=D(95)).order_class == "oto"  # an entry's exit


@pytest.mark.parametrize("fields, words", [
    (dict(order_type="limit", limit_price=D(110)), "stop_loss"),
    (dict(order_type="market", stop_loss=D(95)), "limit"),
    (dict(order_type="stop", stop_price=D(95), stop_loss=D(95)), "limit"),
    (dict(order_type="limit", limit_price=D(110), stop_loss=D(95), take_profit=D(110)), "take_profit"),
])
def test_an_oco_without_its_stop_or_not_a_limit_is_refused(fields, words):
    with pytest.raises(ValueError, match=words):
        sell(oco=True, **fields)
