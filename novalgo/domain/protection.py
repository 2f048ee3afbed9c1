"""Exits for shares already held: what puts a position's take-profit, stop-loss or trailing stop back
at the broker once the bracket that carried them is gone.

Two moments need it: a close Alpaca refused after the row's exits had been cancelled to free the
shares (pattern-day-trading protection, say), and an entry that ended part-filled (a limit
replaced or expired with 4 of 10 filled: Alpaca cancels a bracket's legs with their entry). The
shares must not sit without the exits the trader set. Alpaca's way ("Orders at Alpaca", OCO
Orders) is one OCO order, on the exit's side, whose take-profit limit is the order and whose stop
is its leg, so the shares are held once; a lone stop-loss is a stop order, a lone take-profit a
limit. All good till cancelled, in whole shares (advanced orders take no fractions). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from novalgo.domain.decision import STOP_LOSS, TAKE_PROFIT, TRAILING, OrderLeg
from novalgo.domain.money import plain


@dataclass(frozen=True)
class Protection:
    """The exits a position should have: prices, and a trailing stop's distance."""

    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.take_profit, self.stop_loss, self.trail_percent, self.trail_price))

    def describe(self) -> str:
        said = []
        if self.take_profit is not None:
            said.append(f"take-profit {plain(self.take_profit)}")
        if self.stop_loss is not None:
            said.append(f"stop-loss {plain(self.stop_loss)}")
        if self.trail_percent is not None:
            said.append(f"trailing stop {plain(self.trail_percent)}%")
        elif self.trail_price is not None:
            said.append(f"trailing stop ${plain(self.trail_price)}")
        return " and ".join(said)


def protective_legs(held: Decimal, protection: Protection) -> tuple[tuple[OrderLeg, ...], str]:
    """The exit orders for a position of ``held`` shares (signed), and why there are none ("" if
    there are). A trailing stop is the row's exit when it has one: one exit order holds the shares."""
    qty = abs(held).to_integral_value(ROUND_DOWN)
    if held == 0 or not protection.any:
        return (), ""
    if qty < 1:
        return (), f"{plain(abs(held))} shares is less than the whole share exit orders need"
    side = "sell" if held > 0 else "buy"
    if protection.trail_percent is not None or protection.trail_price is not None:
        return (OrderLeg(TRAILING, side, qty=qty, order_type="trailing_stop", time_in_force="gtc",
                         trail_percent=protection.trail_percent,
                         trail_price=None if protection.trail_percent is not None else protection.trail_price),), ""
    tp, sl = protection.take_profit, protection.stop_loss
    if tp is not None and sl is not None:
        return (OrderLeg(TAKE_PROFIT, side, qty=qty, order_type="limit", limit_price=tp, stop_loss=sl,
                         time_in_force="gtc", oco=True),), ""
    if tp is not None:
        return (OrderLeg(TAKE_PROFIT, side, qty=qty, order_type="limit", limit_price=tp, time_in_force="gtc"),), ""
    return (OrderLeg(STOP_LOSS, side, qty=qty, order_type="stop", stop_price=sl, time_in_force="gtc"),), ""
