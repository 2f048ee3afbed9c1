"""What the executor needs from a broker, and the plain values that cross that line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Protocol, Sequence

from novalgo.domain.decision import STOP_LOSS, TAKE_PROFIT, TRAILING  # noqa: F401  (re-exported for adapters)
from novalgo.domain.fifo import Fill  # noqa: F401  (a fill is the domain's; brokers report them)
from novalgo.domain.money import ZERO

# Normalised order states. Alpaca has more; adapters map theirs onto these.
PENDING = "pending"  # accepted, not (fully) filled yet
PARTIALLY_FILLED = "partially_filled"
FILLED = "filled"
CANCELED = "canceled"
REJECTED = "rejected"
EXPIRED = "expired"
ORDER_FINAL = frozenset({FILLED, CANCELED, REJECTED, EXPIRED})


@dataclass(frozen=True)
class Position:
    symbol: str
    qty: Decimal  # negative for a short
    avg_entry_price: Decimal = ZERO
    market_value: Decimal | None = None
    unrealized_pl: Decimal | None = None

    @property
    def side(self) -> str:
        return "LONG" if self.qty > 0 else "SHORT" if self.qty < 0 else "FLAT"


CRYPTO = "crypto"


@dataclass(frozen=True)
class AssetInfo:
    symbol: str
    tradable: bool = True
    fractionable: bool = True
    shortable: bool = True
    easy_to_borrow: bool = True
    asset_class: str = "us_equity"  # the broker's word: "crypto" trades 24/7 and is never shorted

    @property
    def crypto(self) -> bool:
        return self.asset_class == CRYPTO


@dataclass(frozen=True)
class Account:
    mode: str  # simulated | paper | live
    status: str
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    shorting_enabled: bool = True
    currency: str = "USD"
    trading_blocked: bool = False  # the broker's account or trading block: nothing can trade
    account_id: str = ""  # the broker's id: stored fill history is kept per account
    multiplier: Decimal | None = None  # buying power multiple (Alpaca: 1 cash, 2 or 4 margin); None unknown
    last_equity: Decimal | None = None  # equity at the previous close (the day's P&L starts from it)


@dataclass(frozen=True)
class OrderRequest:
    """One order. Exactly one of qty and notional is set (notional only for buys).

    Beyond a market order: a ``limit`` at ``limit_price``; a ``stop`` at ``stop_price``; a
    ``trailing_stop`` trailing by ``trail_percent`` or ``trail_price`` dollars; exits attached to the
    entry (``take_profit`` a limit price, ``stop_loss`` a stop price), which make it a bracket (both)
    or an OTO (one).

    An ``oco`` order is an exit pair for shares already held, on the exit's own side: the order
    itself is the take-profit (a limit at ``limit_price``) and ``stop_loss`` is its stop-loss leg;
    one filling cancels the other (Alpaca's OCO, "Orders at Alpaca"). ``take_profit`` stays None.
    """

    client_order_id: str
    symbol: str
    side: str  # buy | sell
    qty: Decimal | None = None
    notional: Decimal | None = None
    price_hint: Decimal | None = None  # the alert's price; the simulator fills at it
    order_type: str = "market"  # market | limit | stop | trailing_stop
    limit_price: Decimal | None = None
    time_in_force: str = "day"  # day | gtc (the adapter picks crypto's own)
    extended_hours: bool = False  # may fill in pre/post-market (a limit day order)
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None
    stop_price: Decimal | None = None  # a stop order's stop (an OCO's stop is its stop_loss)
    oco: bool = False  # an exit pair on shares held: this limit is the take-profit, stop_loss the stop
    # Only reduces the position it closes: Alpaca is told so (position_intent sell_to_close /
    # buy_to_close) and refuses it rather than open the other side when what it holds is not what
    # we believed (a fill event lost on a socket that looks alive). No read is needed before it.
    closing: bool = False

    def __post_init__(self) -> None:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("an order needs exactly one of qty and notional")
        if self.side not in ("buy", "sell"):
            raise ValueError(f"side must be buy or sell, not {self.side!r}")
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"order_type must be one of {', '.join(ORDER_TYPES)}, not {self.order_type!r}")
        if (self.order_type == "limit") != (self.limit_price is not None):
            raise ValueError("a limit order needs a limit_price, and only a limit order has one")
        if self.order_type == "trailing_stop" and (self.trail_percent is None) == (self.trail_price is None):
            raise ValueError("a trailing stop needs exactly one of trail_percent and trail_price")
        if (self.order_type == "stop") != (self.stop_price is not None):
            raise ValueError("a stop order needs a stop_price, and only a stop order has one")
        if self.oco:
            if self.order_type != "limit":
                raise ValueError("an OCO order is a limit order: its limit_price is the take-profit")
            if self.stop_loss is None:
                raise ValueError("an OCO order needs a stop_loss (the stop price of its stop-loss leg)")
            if self.take_profit is not None:
                raise ValueError("an OCO order's take-profit is its own limit_price: leave take_profit unset")

    @property
    def order_class(self) -> str:
        """Alpaca's word: oco (an exit pair), bracket (entry with take-profit and stop-loss), oto (an
        entry with one exit) or simple."""
        if self.oco:
            return "oco"
        exits = (self.take_profit is not None) + (self.stop_loss is not None)
        return {0: "simple", 1: "oto", 2: "bracket"}[exits]


ORDER_TYPES = ("market", "limit", "stop", "trailing_stop")
# Exit orders, by what the trader set (the domain's words): take_profit, stop_loss, trailing_stop.
TRAILING_STOP = TRAILING


@dataclass(frozen=True)
class OrderState:
    client_order_id: str
    broker_order_id: str
    symbol: str
    side: str
    status: str  # one of the normalised states above
    qty: Decimal | None = None
    notional: Decimal | None = None
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    reason: str = ""
    order_type: str = "market"  # market | limit | stop | stop_limit | trailing_stop
    description: str = ""  # for a trader reading why it was cancelled: "sell 100 AAPL stop 180"
    # A bracket's or OTO's exit orders, or an OCO's stop-loss (the OCO itself is the take-profit),
    # as the broker made them (their client_order_ids are the broker's): each has order_type limit
    # (take-profit), stop (stop-loss) or trailing_stop.
    legs: tuple["OrderState", ...] = ()
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None

    @property
    def is_final(self) -> bool:
        return self.status in ORDER_FINAL


class Broker(Protocol):
    kind: str  # "alpaca" | "simulated"
    mode: str  # "paper" | "live" | "simulated"

    def account(self) -> Account: ...

    def positions(self) -> list[Position]: ...

    def position(self, symbol: str) -> Position:
        """The open position (qty 0 when flat), from a cache the broker keeps current where it can."""

    def held_now(self, symbol: str) -> Position:
        """The position as the broker holds it at this moment, never from a cache: what a close may sell."""

    def asset(self, symbol: str) -> AssetInfo:
        """Trading properties; raises OrderRejected for a symbol the broker does not trade."""

    def latest_price(self, symbol: str) -> Decimal | None: ...

    def observe_price(self, symbol: str, price: Decimal) -> None:
        """An alert's price for the symbol: the simulator marks to it; a real broker ignores it."""

    def market_open(self) -> bool:
        """Regular hours now? Answered from a cache; a closed market is not asked again before its open."""

    def trading_day(self, day: date) -> bool:
        """Is the exchange open that day (the broker's calendar: weekends and holidays are not)?"""

    def session_close(self, day: date) -> datetime | None:
        """When regular trading ends that day (earlier on an early-close day); None if it does not trade."""

    def listen(self, on_update: Callable[[OrderState], None], on_connected: Callable[[], None]) -> Any:
        """Push every change of an order's state to ``on_update`` as it happens (Alpaca's trade
        stream; the simulator's own fills). Returns a handle with ``live`` and ``stop()``, or None
        when the broker offers no stream (then orders are read over REST)."""

    def reconcile(self) -> None:
        """Re-read what the stream may have missed (positions), after a reconnect and now and then."""

    def open_orders(self, symbol: str) -> list[OrderState]:
        """Every order on the symbol the broker may still fill, ours or anyone's."""

    def warm_assets(self, symbols: Sequence[str], at_most: int) -> int:
        """Cache the assets of these symbols ahead of their alerts (at most ``at_most`` reads);
        returns how many were read."""

    def open_orders_known(self, symbol: str) -> list[OrderState] | None:
        """``open_orders``, answered from the trade stream when it is current (no request); None
        when the stream is up but not yet current (the caller goes on without)."""

    def submit(self, order: OrderRequest) -> OrderState:
        """Place an order, idempotent by client_order_id.

        Raises OrderRejected (the broker said no) or AmbiguousOrderError (we could not learn
        whether it was placed, even by looking it up).
        """

    def find_order(self, client_order_id: str) -> OrderState | None: ...

    def replace_exit(self, broker_order_id: str, new_client_order_id: str, limit_price: Decimal | None = None,
                     stop_price: Decimal | None = None) -> OrderState:
        """Move a working exit order's limit (take-profit) or stop (stop-loss) price; the answer is
        the order as it now works, under ``new_client_order_id`` (Alpaca makes a new order of a
        replaced one). Raises OrderRejected when the broker refuses."""

    def orders(self, client_order_ids: Sequence[str]) -> dict[str, OrderState]:
        """Current state of many orders in as few calls as the API allows."""

    def cancel(self, client_order_id: str) -> None: ...

    def cancel_by_id(self, broker_order_id: str) -> None:
        """Cancel an order we did not place (known only by the broker's id)."""

    def fills(self, since: datetime) -> list[Fill]:
        """Every fill since a time, oldest first."""

    def fills_after(self, activity_id: str | None) -> list[Fill]:
        """Every fill after the one with this activity id (from the account's first when None),
        oldest first, each with its activity_id and the broker's side (buy, sell or sell_short)."""
