"""Alpaca's order-acceptance rules, as pure checks the fake Alpaca runs on every submission.

Each check takes plain data (the order body, the asset's traits, the position, the account's
other open orders) and either returns or raises ``AlpacaRefusal`` with the HTTP status, code,
words and extra fields Alpaca answers. Every rule names the Alpaca document it follows; where
the documents are silent (usually on the exact words or status), the comment says so and the
check picks the conservative behaviour: refuse.

Documents cited (docs.alpaca.markets unless a full address is given):
  ORDERS    "Orders at Alpaca" (docs/orders-at-alpaca; time in force, lifecycle, extended hours)
  ORDERS_API "Orders" API reference (POST/PATCH /v2/orders, errors 403/422)
  FRACTIONAL "Fractional Trading"
  MARGIN    "Margin and Short Selling"
  CRYPTO    "Crypto Trading" and "Crypto Orders"
  PROTECT   "User Protection" (Preventing Wash Trades, with its table of reject conditions)
  ADVANCED  "Orders at Alpaca", its advanced-order sections (Bracket Orders, OCO Orders, OTO Orders,
            "Threshold on stop price of stop-loss orders", Trailing Stop Orders); kept in Alpaca's own
            repository of the older pages, github.com/alpacahq/user-docs, content/trading-on-alpaca/orders.md
  FRAC_EXT  Alpaca's announcement "Fractional Shares Trading Supports Limit Orders and Extended Hours"
            (alpaca.markets/blog) and the changelog entry of 2024-08-20 (docs.alpaca.markets/changelog:
            "Support for Fractional USD Stop, Stop Limit"): fractional limit, stop and stop_limit
            orders, and fractional limit orders in pre- and post-market
  SUBPENNY  SEC Regulation NMS Rule 612 (the sub-penny rule: no quotes in increments under $0.01 at
            $1.00 or more, $0.0001 below); Alpaca's own ORDERS rounding note uses the same cut
Observed bodies (no document gives the words) are cited by the public thread that quotes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Iterable

ZERO = Decimal(0)
QTY_STEP = Decimal("0.000000001")  # FRACTIONAL: qty and notional take up to 9 decimals
OPEN_STATUSES = ("new", "accepted", "pending_new", "partially_filled", "held", "accepted_for_bidding",
                 "pending_cancel", "pending_replace", "done_for_day", "stopped", "calculated")
ORDER_TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
EQUITY_TIFS = ("day", "gtc", "opg", "cls", "ioc", "fok")
CRYPTO_TIFS = ("gtc", "ioc")  # CRYPTO: "We only support gtc and ioc time in force options for crypto orders"
CRYPTO_TYPES = ("market", "limit", "stop_limit")  # CRYPTO Orders: "market, limit and stop_limit"
COMPLEX_CLASSES = ("bracket", "oco", "oto")
ORDER_CLASSES = ("simple",) + COMPLEX_CLASSES
# FRAC_EXT: fractional qty or notional on market, limit, stop and stop_limit orders (DAY only).
FRACTIONAL_TYPES = ("market", "limit", "stop", "stop_limit")
# Observed (github.com/alpacahq/alpaca-java issue 44, 40010001): "bracket orders must be market or limit
# orders". ADVANCED shows market and limit entries only: the fake takes those two.
ENTRY_TYPES = ("market", "limit")
CENT = Decimal("0.01")
MARGIN_MIN_EQUITY = Decimal(2000)  # MARGIN: "you must have $2,000 or more account equity"
# Not in the docs: paper accounts refuse crypto orders under $10 of cost basis (bodies quoted in
# public code, e.g. "cost basis must be >= minimal amount of order 10"); conservative: keep it.
CRYPTO_MIN_NOTIONAL = Decimal(10)


class AlpacaRefusal(Exception):
    """An Alpaca error answer: HTTP status and JSON body."""

    def __init__(self, status: int, code: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"code": code, "message": message, **extra}


@dataclass(frozen=True)
class Traits:
    """What the rules need to know of an asset."""

    symbol: str
    price: Decimal
    crypto: bool
    fractionable: bool
    shortable: bool
    easy_to_borrow: bool
    min_order_size: Decimal | None = None
    min_trade_increment: Decimal | None = None


def s(value: Decimal) -> str:
    """Alpaca's number-as-string form, without exponent or trailing zeros."""
    return format(value.normalize(), "f") if value != 0 else "0"


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise AlpacaRefusal(422, 40010001, f"invalid number {value!r}") from None


def is_open(order: dict) -> bool:
    return order["status"] in OPEN_STATUSES


def order_qty(order: dict, price: Decimal) -> Decimal:
    """The order's size in shares (a notional order's at today's price)."""
    if order["qty"] is not None:
        return Decimal(order["qty"])
    return (Decimal(order["notional"]) / price).quantize(QTY_STEP, ROUND_DOWN)


def remaining(order: dict, price: Decimal) -> Decimal:
    return max(ZERO, order_qty(order, price) - Decimal(order["filled_qty"]))


def infer_intent(side: str, position: Decimal) -> str:
    """How Alpaca reads an order's effect on the position (the alpaca-py PositionIntent values)."""
    if side == "buy":
        return "buy_to_close" if position < 0 else "buy_to_open"
    return "sell_to_close" if position > 0 else "sell_to_open"


# -- the order's own fields ----------------------------------------------------------------


def check_fields(body: dict, asset: Traits, market_open: bool) -> tuple[Decimal | None, Decimal | None]:
    """Side, type, time in force, prices, qty/notional: returns (qty, notional)."""
    side, kind, tif = body.get("side"), body.get("type"), body.get("time_in_force")
    if side not in ("buy", "sell"):
        raise AlpacaRefusal(422, 40010001, "invalid side")
    if kind not in ORDER_TYPES:
        raise AlpacaRefusal(422, 40010001, "invalid order type")
    # ORDERS_API: limit_price "required if type is limit or stop_limit", stop_price likewise for
    # stop and stop_limit; the docs give no words for the refusal, these are the fake's.
    if kind in ("limit", "stop_limit") and dec(body.get("limit_price")) is None:
        raise AlpacaRefusal(422, 40010001, "limit_price is required")
    if kind in ("stop", "stop_limit") and dec(body.get("stop_price")) is None:
        raise AlpacaRefusal(422, 40010001, "stop_price is required")
    if kind == "trailing_stop":
        if (dec(body.get("trail_price")) is None) == (dec(body.get("trail_percent")) is None):
            raise AlpacaRefusal(422, 40010001, "exactly one of trail_price or trail_percent is required")
        # ORDERS: "Valid time-in-force values for trailing stop are day and gtc" (words not documented).
        if tif not in ("day", "gtc"):
            raise AlpacaRefusal(422, 42210000, "invalid time_in_force for trailing stop order")
    order_class = body.get("order_class") or "simple"
    if order_class not in ORDER_CLASSES:  # ORDERS_API: order_class is simple, bracket, oco or oto
        raise AlpacaRefusal(422, 40010001, "invalid order_class")
    if asset.crypto:
        # CRYPTO Orders names market, limit and stop_limit orders and says nothing of bracket, OCO or
        # OTO: silent, so conservative, refused (the words are the fake's).
        if order_class != "simple":
            raise AlpacaRefusal(422, 42210000, "crypto orders must be simple orders")
        # CRYPTO: gtc and ioc only; words from real bodies ("invalid crypto time_in_force", 422).
        if tif not in CRYPTO_TIFS:
            raise AlpacaRefusal(422, 42210000, "invalid crypto time_in_force")
        # CRYPTO Orders: market, limit and stop_limit only (words not documented).
        if kind not in CRYPTO_TYPES:
            raise AlpacaRefusal(422, 42210000, f"invalid crypto order type: {kind}")
    elif tif not in EQUITY_TIFS:
        raise AlpacaRefusal(422, 40010001, "invalid time_in_force")
    # ORDERS (Extended Hours): "Only limit day orders will be accepted as extended hours eligible.
    # All other order types and TIFs will be rejected with an error" (words not documented).
    if body.get("extended_hours") and not asset.crypto and (kind != "limit" or tif != "day"):
        raise AlpacaRefusal(422, 42210000, "extended hours order must be DAY limit orders")

    if not asset.crypto:
        check_increment("limit_price", dec(body.get("limit_price")))
        check_increment("stop_price", dec(body.get("stop_price")))

    qty, notional = dec(body.get("qty")), dec(body.get("notional"))
    # FRACTIONAL: "If both qty and notional are entered the request will be rejected".
    if qty is None and notional is None:
        raise AlpacaRefusal(422, 40010001, "qty or notional is required")
    if qty is not None and notional is not None:
        raise AlpacaRefusal(422, 40010001, "only one of qty or notional is accepted")
    if (qty is not None and qty <= 0) or (notional is not None and notional <= 0):
        raise AlpacaRefusal(422, 40010001, "qty must be > 0" if qty is not None else "notional must be > 0")
    # FRACTIONAL: "Both notional and qty fields can take up to 9 decimal point values".
    for value in (qty, notional):
        if value is not None and value != value.quantize(QTY_STEP, ROUND_DOWN):
            raise AlpacaRefusal(422, 40010001, "qty and notional take at most 9 decimal places")
    fractional = notional is not None or qty != qty.to_integral_value()
    if fractional and not asset.fractionable:
        raise AlpacaRefusal(422, 42210000, f'asset "{asset.symbol}" is not fractionable')
    if fractional and not asset.crypto:
        # FRACTIONAL: fractional orders are DAY orders (Alpaca's words, real bodies, 422 42210000).
        if tif != "day":
            raise AlpacaRefusal(422, 42210000, "fractional orders must be DAY orders")
        # ADVANCED is for whole shares: real bodies answer a fractional bracket or OTO with "fractional
        # orders must be simple orders" (422 42210000); OCO alike (not documented: conservative).
        if (body.get("order_class") or "simple") != "simple":
            raise AlpacaRefusal(422, 42210000, "fractional orders must be simple orders")
        # FRAC_EXT: market, limit, stop and stop_limit take fractions (trailing stops are not named:
        # conservative, refused; the words are the fake's). Fractional limit orders may be extended
        # hours orders now (FRAC_EXT), which replaces the older ORDERS line that said they may not.
        if kind not in FRACTIONAL_TYPES:
            raise AlpacaRefusal(422, 42210000, f"fractional orders are not supported for {kind} orders")
    if asset.crypto:
        check_crypto_size(asset, qty, notional, limit_price=dec(body.get("limit_price")))
    return qty, notional


def check_increment(name: str, price: Decimal | None) -> None:
    """SUBPENNY: a price of $1.00 or more takes whole cents, under $1.00 up to four decimals. Alpaca's
    words and code from real bodies ("invalid limit_price 11.055. sub-penny increment does not fulfill
    minimum pricing criteria", 422 42210000, github.com/alpacahq/alpaca-trade-api-go issue 260)."""
    if price is None:
        return
    step = CENT if price >= 1 else Decimal("0.0001")
    if price <= 0 or price % step != 0:
        raise AlpacaRefusal(422, 42210000,
                            f"invalid {name} {s(price)}. sub-penny increment does not fulfill minimum pricing criteria")


def check_crypto_size(asset: Traits, qty: Decimal | None, notional: Decimal | None,
                      limit_price: Decimal | None = None) -> None:
    """CRYPTO: each pair's min_order_size and min_trade_increment (the Assets entity)."""
    if qty is not None:
        # The docs give the fields but not the refusal's words or status: the fake's, 422.
        if asset.min_order_size is not None and qty < asset.min_order_size:
            raise AlpacaRefusal(422, 42210000, f"qty must be >= {s(asset.min_order_size)}")
        if asset.min_trade_increment is not None and qty % asset.min_trade_increment != 0:
            raise AlpacaRefusal(422, 42210000, f"qty must be a multiple of {s(asset.min_trade_increment)}")
    cost = notional if notional is not None else qty * (limit_price or asset.price)
    # Not documented (see CRYPTO_MIN_NOTIONAL): 403 40310000 with these words in real bodies.
    if cost < CRYPTO_MIN_NOTIONAL:
        raise AlpacaRefusal(403, 40310000, f"cost basis must be >= minimal amount of order {s(CRYPTO_MIN_NOTIONAL)}")


# -- position intent, crossing zero, held quantities ---------------------------------------


def check_intent(given: str | None, side: str, position: Decimal) -> str:
    """The order's position_intent: the one given must match what Alpaca infers from the position.

    Words from Alpaca's own tracker (github.com/alpacahq/Alpaca-API/issues/250: "position intent
    mismatch. inferred sell to close"); the status is not documented: the fake answers 403 40310000
    like Alpaca's other position refusals.
    """
    inferred = infer_intent(side, position)
    if given is None or given == "":
        return inferred
    if given not in ("buy_to_open", "buy_to_close", "sell_to_open", "sell_to_close"):
        raise AlpacaRefusal(422, 40010001, "invalid position_intent")
    if given != inferred:
        raise AlpacaRefusal(403, 40310000, f"position intent mismatch. inferred {inferred.replace('_', ' ')}")
    return inferred


def check_no_opposite_opening(side: str, position: Decimal, open_orders: Iterable[dict]) -> None:
    """No order that opens one side while an order opening the other side is open.

    Alpaca's words, 403 40310000 ("cannot open a short sell while a long buy order is open" and its
    mirror, quoted in github.com/alpacahq/Alpaca-API/issues/82, where Alpaca answers: "US Equities
    do not allow you to be both long and short the same ticker in the same account simultaneously,
    so we block these as conflicting orders"). The docs do not say which open orders count: the fake
    counts every open opposite order that was itself opening (buy_to_open / sell_to_open).
    """
    intent = infer_intent(side, position)
    if intent == "sell_to_open":
        blockers = [o for o in open_orders if o["side"] == "buy" and o["position_intent"] == "buy_to_open"]
        words = "cannot open a short sell while a long buy order is open"
    elif intent == "buy_to_open":
        blockers = [o for o in open_orders if o["side"] == "sell" and o["position_intent"] == "sell_to_open"]
        words = "cannot open a long buy while a short sell order is open"
    else:
        return
    if blockers:
        raise AlpacaRefusal(403, 40310000, words, related_orders=[o["id"] for o in blockers])


def check_qty_available(asset: Traits, side: str, position: Decimal, requested: Decimal,
                        same_side_open: list[dict]) -> None:
    """A sell of a long (or a buy of a short) may not exceed the shares not already held for orders.

    One order never carries a position across zero: selling more than is held is refused the
    same way. Alpaca's words and fields, 403 40310000, from real bodies ({"available", "code",
    "existing_qty", "held_for_orders", "message", "related_orders", "symbol"}); the docs state only
    "403 Buying power or shares is not sufficient" (ORDERS_API). Crypto: "insufficient balance".
    """
    reducing = (side == "sell" and position > 0) or (side == "buy" and position < 0)
    if not reducing and not (asset.crypto and side == "sell"):
        return
    existing = abs(position)
    held = held_by_group(same_side_open, asset.price)
    available = max(ZERO, existing - held)
    if requested <= available:
        return
    if asset.crypto:
        # CRYPTO / MARGIN: no crypto shorting; real bodies read "insufficient balance for BTC
        # (requested: 0.12, available: 0.119784)" with "available" and "balance", 403 40310000.
        raise AlpacaRefusal(403, 40310000, f"insufficient balance for {base_currency(asset.symbol)} "
                            f"(requested: {s(requested)}, available: {s(available)})",
                            available=s(available), balance=s(existing))
    raise AlpacaRefusal(403, 40310000,
                        f"insufficient qty available for order (requested: {s(requested)}, available: {s(available)})",
                        available=s(available), existing_qty=s(existing), held_for_orders=s(held),
                        related_orders=[o["id"] for o in same_side_open], symbol=asset.symbol)


def check_notional_outside_hours(side: str, notional: Decimal | None, market_open: bool,
                                 open_sells: list[dict], crypto: bool) -> None:
    """ORDERS (Extended Hours, fractional table): outside market hours a notional sell may not join
    another open sell, nor a qty sell an open notional sell: "unable to open new notional orders
    while having open closing position orders" (Alpaca's words; status not documented: 403)."""
    if crypto or market_open or side != "sell" or not open_sells:
        return
    if notional is not None or any(o["notional"] is not None for o in open_sells):
        raise AlpacaRefusal(403, 40310000, "unable to open new notional orders while having open closing position orders")


# -- wash trades ----------------------------------------------------------------------------


def _limit_like(order: dict) -> bool:
    return order["type"] in ("limit", "stop_limit")


def check_wash_trade(new: dict, open_orders: Iterable[dict]) -> None:
    """PROTECT (Preventing Wash Trades): refuse an order that could execute against an open order
    of ours on the other side; "complex orders and trailing stop orders are exceptions".

    The table: an existing market or stop order, or a new market or stop order, is always refused;
    two limit/stop_limit orders only if the buy limit price >= the sell limit price. Status 403 per
    the page; code 40310000, the words and the fields existing_order_id / reject_reason from real
    bodies ("potential wash trade detected. use complex orders", "opposite side market/stop order
    exists", "opposite side limit order exists"). Applies to crypto too (PROTECT).
    """
    if new["type"] == "trailing_stop" or new.get("order_class") in COMPLEX_CLASSES:
        return
    for old in open_orders:
        if old["side"] == new["side"] or old["type"] == "trailing_stop" or old.get("order_class") in COMPLEX_CLASSES:
            continue
        if _limit_like(old) and _limit_like(new):
            buy, sell = (new, old) if new["side"] == "buy" else (old, new)
            if Decimal(buy["limit_price"]) < Decimal(sell["limit_price"]):
                continue
        reason = "opposite side limit order exists" if _limit_like(old) else "opposite side market/stop order exists"
        raise AlpacaRefusal(403, 40310000, "potential wash trade detected. use complex orders",
                            existing_order_id=old["id"], reject_reason=reason)


# -- shorting and buying power --------------------------------------------------------------


def margin_allowed(equity: Decimal) -> bool:
    """MARGIN: "In order to trade on margin or sell short, you must have $2,000 or more account
    equity. Accounts with less than $2,000 ... will be restricted to 1x buying power"."""
    return equity >= MARGIN_MIN_EQUITY


def check_short(asset: Traits, qty: Decimal | None, account_may_short: bool) -> None:
    """An order that opens or adds to a short."""
    if asset.crypto:
        return  # refused as "insufficient balance" by check_qty_available (CRYPTO: no shorting)
    # MARGIN: no short selling without margin (equity >= $2,000) and shorting enabled. Words from
    # real bodies ("account is not allowed to short", 403 40310000); the docs give none.
    if not account_may_short:
        raise AlpacaRefusal(403, 40310000, "account is not allowed to short")
    # FRACTIONAL: "We do not support short sales in fractional orders"; real bodies: 422 42210000.
    if qty is None or qty != qty.to_integral_value():
        raise AlpacaRefusal(422, 42210000, "fractional orders cannot be sold short")
    # Assets entity "shortable"; real bodies: "asset LQD cannot be sold short", 422.
    if not asset.shortable:
        raise AlpacaRefusal(422, 42210000, f"asset {asset.symbol} cannot be sold short")
    # MARGIN: "Alpaca currently only supports opening short positions in easy to borrow (ETB)
    # securities" (words not documented: the fake's).
    if not asset.easy_to_borrow:
        raise AlpacaRefusal(422, 42210000, f"asset {asset.symbol} is not easy to borrow")


def base_currency(symbol: str) -> str:
    return symbol.split("/")[0] if "/" in symbol else symbol[:-3]


# -- advanced orders: bracket, OTO, OCO -------------------------------------------------------


@dataclass(frozen=True)
class Exits:
    """The exit orders a complex order asked for (None: that leg is absent)."""

    take_profit: Decimal | None = None  # the take-profit's limit price
    stop_price: Decimal | None = None  # the stop-loss's stop price
    stop_limit: Decimal | None = None  # the stop-loss's limit price (a stop_limit leg) or None (a stop leg)


def normalize_oco(body: dict) -> dict:
    """ADVANCED (OCO Orders): the order's type is "limit" and it *is* the take-profit, so the take-profit's
    limit price is the order's limit price (alpaca-py sends no limit_price of its own for an OCO)."""
    if (body.get("order_class") or "simple") != "oco" or not isinstance(body.get("take_profit"), dict):
        return body
    return {**body, "limit_price": body["take_profit"].get("limit_price")}


def _leg(body: dict, name: str) -> dict | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AlpacaRefusal(400, 40010000, "request body format is invalid")
    return value


def check_order_class(body: dict, asset: Traits, intent: str) -> Exits:
    """The class's own rules (ADVANCED); returns the exits to make. Run after check_fields."""
    order_class = body.get("order_class") or "simple"
    if order_class == "simple":
        # take_profit / stop_loss on a simple order are ignored, as Alpaca does (its maintainer in
        # github.com/alpacahq/alpaca-trade-api-go issue 181: "the TakeProfit field is simply ignored").
        return Exits()
    kind, tif = body.get("type"), body.get("time_in_force")
    # ADVANCED (Bracket Orders): "time_in_force must be day or gtc"; OTO and OCO share "the rest of
    # requirements"; the words are the fake's.
    if tif not in ("day", "gtc"):
        raise AlpacaRefusal(422, 42210000, f"{order_class} orders must be DAY or GTC orders")
    # ADVANCED: "Extended hours are not supported. extended_hours must be false or omitted." (fake's words)
    if body.get("extended_hours"):
        raise AlpacaRefusal(422, 42210000, f"extended hours are not supported for {order_class} orders")
    tp, sl = _leg(body, "take_profit"), _leg(body, "stop_loss")
    tp_price = dec(tp.get("limit_price")) if tp is not None else None
    sl_stop = dec(sl.get("stop_price")) if sl is not None else None
    sl_limit = dec(sl.get("limit_price")) if sl is not None else None
    # ADVANCED: the take_profit object "needs limit_price", the stop_loss "a mandatory stop_price"
    # (words: the fake's, in the form of alpaca-py's own checks).
    if tp is not None and tp_price is None:
        raise AlpacaRefusal(422, 40010001, "take_profit.limit_price is required")
    if sl is not None and sl_stop is None:
        raise AlpacaRefusal(422, 40010001, "stop_loss.stop_price is required")
    if order_class in ("bracket", "oco") and (tp is None or sl is None):
        # ADVANCED: "Both take_profit.limit_price and stop_loss.stop_price must be present" (bracket);
        # OCO: "stop_price must be present in any case" and the take-profit is the order itself.
        raise AlpacaRefusal(422, 40010001, f"{order_class} orders require take_profit and stop_loss")
    if order_class == "oto" and (tp is None) == (sl is None):
        # ADVANCED (OTO): "It takes one of the take-profit or stop-loss order"; both is a bracket, so
        # refused (conservative; the docs do not say what Alpaca answers).
        raise AlpacaRefusal(422, 40010001, "oto orders take exactly one of take_profit or stop_loss")
    for name, price in (("take_profit.limit_price", tp_price), ("stop_loss.stop_price", sl_stop),
                        ("stop_loss.limit_price", sl_limit)):
        check_increment(name, price)
    if order_class == "oco":
        # ADVANCED (OCO): "The type parameter must always be limit"; "currently only exit order is
        # supported" (words: the fake's).
        if kind != "limit":
            raise AlpacaRefusal(422, 42210000, "oco orders must be limit orders")
        if not intent.endswith("_to_close"):
            raise AlpacaRefusal(422, 42210000, "oco orders must be exit orders")
    else:
        if kind not in ENTRY_TYPES:
            raise AlpacaRefusal(422, 40010001, f"{order_class} orders must be market or limit orders")
        # ADVANCED: "The first order is used to enter a new long or short position"; Alpaca's words for a
        # bracket that would close are quoted in github.com/alpacahq/alpaca-trade-api-js issue 248.
        if not intent.endswith("_to_open"):
            raise AlpacaRefusal(422, 42210000, f"{order_class} orders must be entry orders")
    return Exits(tp_price, sl_stop, sl_limit)


def check_exit_prices(order_class: str, side: str, entry_limit: Decimal | None, exits: Exits,
                      market: Decimal) -> None:
    """ADVANCED ("Threshold on stop price of stop-loss orders"): the stop price must be at least $0.01 below
    the base price for a stop-loss that sells (above, for one that buys). The base price is the take-profit's
    limit price for OCO, the entry's limit price for a bracket or OTO with a limit entry, and "also the
    current market price for any" (both are checked). ADVANCED (Bracket): the take-profit's limit price must
    be on the other side, checked against the same bases for bracket and OTO. Alpaca's words, code and the
    base_price field from real bodies: {"base_price": "10000.00", "code": 42210000, "message":
    "stop_loss.stop_price must be <= base_price - 0.01"}, and "take_profit.limit_price must be >=
    base_price + 0.01" (mirrored for a short)."""
    if order_class == "simple":
        return
    exit_sells = side == "buy" if order_class != "oco" else side == "sell"
    if order_class == "oco":
        stop_bases = [exits.take_profit, market]
        profit_bases: list[Decimal] = []
    else:
        stop_bases = profit_bases = [b for b in (entry_limit, market) if b is not None]
    for base in profit_bases:
        if exits.take_profit is None:
            break
        if exit_sells and exits.take_profit < base + CENT:
            raise AlpacaRefusal(422, 42210000, "take_profit.limit_price must be >= base_price + 0.01",
                                base_price=f"{base:.2f}")
        if not exit_sells and exits.take_profit > base - CENT:
            raise AlpacaRefusal(422, 42210000, "take_profit.limit_price must be <= base_price - 0.01",
                                base_price=f"{base:.2f}")
    for base in stop_bases:
        if exits.stop_price is None:
            break
        if exit_sells and exits.stop_price > base - CENT:
            raise AlpacaRefusal(422, 42210000, "stop_loss.stop_price must be <= base_price - 0.01",
                                base_price=f"{base:.2f}")
        if not exit_sells and exits.stop_price < base + CENT:
            raise AlpacaRefusal(422, 42210000, "stop_loss.stop_price must be >= base_price + 0.01",
                                base_price=f"{base:.2f}")


def held_by_group(orders: Iterable[dict], price: Decimal) -> Decimal:
    """Shares open orders hold, an OCO pair once: ADVANCED (Bracket Orders) says that without a bracket
    "Alpaca's system would view one of the two orders as exceeding the available position quantity";
    the group's exits share the shares, so the pair holds the larger of their remainders."""
    groups: dict[str, Decimal] = {}
    total = ZERO
    for order in orders:
        if order["status"] == "held":
            continue  # an exit waiting for its entry holds nothing yet: there are no shares to hold
        left = remaining(order, price)
        group = order.get("_group")
        if group is None:
            total += left
        else:
            groups[group] = max(groups.get(group, ZERO), left)
    return total + sum(groups.values(), ZERO)
