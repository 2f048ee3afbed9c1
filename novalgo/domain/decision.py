"""The decision table: given an alert, its Config row and what we hold, what orders to send.

BUY  → close a short first, then a long of ``position_size`` dollars; already long → ALREADY LONG.
SELL → close a long first, then a short of ``floor(size / price)`` whole shares; already short →
       ALREADY SHORT. (No fractional shorts: Alpaca does not allow them.)
CLOSE → flatten, then WAITING. Inactive row → INACTIVE, no order.
Crypto cannot be shorted at Alpaca, so on crypto SELL means "go flat": close a long, WAITING.

Pure: the executor gathers the inputs (position, our unfilled orders, price, asset) and runs
the plan; tests check this table as a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from novalgo.domain import statuses
from novalgo.domain.alerts import BUY, CLOSE, SELL
from novalgo.domain.config_rows import ConfigRow

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class OrderLeg:
    purpose: str  # "close" (flatten what is held) or "open" (the new position)
    side: str  # buy | sell
    qty: Decimal | None = None
    notional: Decimal | None = None


@dataclass(frozen=True)
class OrderPlan:
    """Legs to send in order, and the row status once they have all filled (or at once, if none)."""

    legs: tuple[OrderLeg, ...]
    status: str
    reason: str = ""
    # Our own unfilled orders point the other way: cancel them, then decide again with what is
    # left (a cancelled order may have partly filled, so the holding must be read afresh).
    cancel_first: bool = False


@dataclass(frozen=True)
class Holding:
    """What we hold in one symbol: the broker's position and our own orders not yet filled."""

    held: Decimal = ZERO  # signed, from the broker
    pending: Decimal = ZERO  # signed, our unfilled orders (estimated for dollar orders)

    @property
    def exposure(self) -> Decimal:
        return self.held + self.pending


@dataclass(frozen=True)
class Tradability:
    fractionable: bool = True
    can_short: bool = True
    short_refusal: str = ""  # why not, in the broker's words
    crypto: bool = False  # the broker's asset class: SELL goes flat instead of short

CRYPTO_NO_SHORT = "crypto cannot be sold short"


def decide(action: str, row: ConfigRow, holding: Holding, price: Decimal | None,
           tradability: Tradability = Tradability()) -> OrderPlan:
    """The plan for one alert on one row."""
    if not row.active:
        return OrderPlan((), statuses.INACTIVE, f"{row.label} is not active in the Config tab")
    wanted = {BUY: 1, SELL: -1, CLOSE: 0}.get(action)
    if wanted is None:
        raise ValueError(f"unknown action {action!r}")
    if _pending_opposes(wanted, holding):
        return OrderPlan((), statuses.PROCESSING, "our unfilled orders point the other way", cancel_first=True)
    if action == SELL and tradability.crypto:
        action = CLOSE  # a crypto SELL is an exit: Alpaca lends no crypto to sell short
        if holding.exposure <= 0:
            return OrderPlan((), statuses.WAITING, f"already flat; {CRYPTO_NO_SHORT}")
        return OrderPlan((_flatten(holding.exposure),), statuses.WAITING, CRYPTO_NO_SHORT)
    if action == CLOSE:
        if holding.exposure == 0:
            return OrderPlan((), statuses.WAITING, "already flat")
        return OrderPlan((_flatten(holding.exposure),), statuses.WAITING)
    if _sign(holding.exposure) == wanted:
        return OrderPlan((), statuses.ALREADY_LONG if action == BUY else statuses.ALREADY_SHORT)
    # Alpaca will not cross zero in one order: flatten first (net of our own pending close).
    legs = (_flatten(holding.exposure),) if holding.exposure != 0 else ()
    if action == BUY:
        return _open_long(row, price, tradability, legs)
    return _open_short(row, price, tradability, legs)


def _open_long(row: ConfigRow, price: Decimal | None, tradability: Tradability, legs: tuple[OrderLeg, ...]) -> OrderPlan:
    if tradability.fractionable:
        opening = OrderLeg("open", "buy", notional=row.position_size.quantize(CENT, ROUND_DOWN))
    else:
        shares, why_not = whole_shares(row.position_size, price)
        if not shares:
            return _refuse_open(legs, why_not)
        opening = OrderLeg("open", "buy", qty=shares)
    return OrderPlan(legs + (opening,), statuses.FILLED)


def _open_short(row: ConfigRow, price: Decimal | None, tradability: Tradability, legs: tuple[OrderLeg, ...]) -> OrderPlan:
    if not tradability.can_short:
        return _refuse_open(legs, tradability.short_refusal or f"{row.symbol} cannot be sold short")
    shares, why_not = whole_shares(row.position_size, price)
    if not shares:
        return _refuse_open(legs, why_not)
    return OrderPlan(legs + (OrderLeg("open", "sell", qty=shares),), statuses.FILLED)


def whole_shares(dollars: Decimal, price: Decimal | None) -> tuple[Decimal, str]:
    """floor(dollars / price) shares, or 0 and the reason there are none."""
    if price is None:
        return ZERO, "no price to size the order: add \"price\": \"{{close}}\" to the alert"
    shares = (dollars / price).to_integral_value(ROUND_DOWN)
    if shares < 1:
        return ZERO, f"position size ${dollars} buys no whole share at ${price}"
    return shares, ""


def _flatten(exposure: Decimal) -> OrderLeg:
    return OrderLeg("close", "sell" if exposure > 0 else "buy", qty=abs(exposure))


def _refuse_open(closing: tuple[OrderLeg, ...], why_not: str) -> OrderPlan:
    # The signal still says "not the other side": close what we hold, then report why no new position.
    reason = f"closed the old position; {why_not}" if closing else why_not
    return OrderPlan(closing, statuses.FAILED, reason)


def _pending_opposes(wanted: int, holding: Holding) -> bool:
    """Do our unfilled orders work against the signal? A close already under way does not."""
    if holding.pending == 0:
        return False
    if wanted != 0:
        return _sign(holding.pending) != wanted
    # CLOSE: an order that only reduces what we hold is a close in progress; keep it.
    reducing = holding.held != 0 and _sign(holding.pending) != _sign(holding.held)
    return not (reducing and abs(holding.pending) <= abs(holding.held))


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)
