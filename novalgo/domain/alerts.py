"""Reading a TradingView webhook body into one validated ``Alert``.

Traders write alert messages many ways: flat JSON, TradingView placeholder names, nested
``strategy`` objects, the default strategy message, or plain ``BUY AAPL 15``. Everything
here is pure: bytes in, an ``Alert`` (or an ``AlertError`` with the reason) out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from novalgo.domain.symbols import normalize_symbol
from novalgo.domain.timeframes import interval_minutes
from novalgo.errors import AlertError

BUY, SELL, CLOSE = "buy", "sell", "close"
SECRET_KEYS = ("secret", "passphrase", "key", "token")
MAX_PRICE = Decimal(10_000_000)
# Smaller than any traded quote (a satoshi); below it a dollar amount / price overflows the order size.
MIN_PRICE = Decimal("0.00000001")

_ACTION_WORDS = {
    "buy": BUY, "long": BUY, "bullish": BUY, "enter_long": BUY, "entry_long": BUY,
    "sell": SELL, "short": SELL, "bearish": SELL, "enter_short": SELL, "entry_short": SELL,
    "close": CLOSE, "exit": CLOSE, "flat": CLOSE, "flatten": CLOSE, "neutral": CLOSE,
    "close_long": CLOSE, "close_short": CLOSE, "exit_long": CLOSE, "exit_short": CLOSE, "cover": CLOSE,
}
# Field names people use, most specific first. Keys are compared case-insensitively and
# a nested {"strategy": {...}} object is read as if its keys were at the top level.
_ACTION_KEYS = ("action", "order_action", "side", "signal", "order", "direction")
_POSITION_KEYS = ("market_position", "position", "sentiment")
_SYMBOL_KEYS = ("symbol", "ticker", "instrument")
_TIMEFRAME_KEYS = ("timeframe", "interval", "time_frame", "tf", "resolution")
_PRICE_KEYS = ("price", "close", "order_price", "limit_price")

_DEFAULT_STRATEGY_MESSAGE = re.compile(
    r"order\s+(?P<side>buy|sell)\s+@\s+[\d.,]+\s+filled\s+on\s+(?P<symbol>\S+?)\.?\s+"
    r"new\s+strategy\s+position\s+is\s+(?P<position>-?[\d.,]+)",
    re.IGNORECASE,
)
_TEXT_SECRET = re.compile(r"\b(?:secret|passphrase|key|token)\s*[=:]\s*(\S+)", re.IGNORECASE)


@dataclass(frozen=True)
class Alert:
    """One trading signal: go long (buy), go short (sell) or go flat (close)."""

    action: str
    symbol: str
    timeframe: str | None = None
    timeframe_minutes: int | None = None
    price: Decimal | None = None


@dataclass(frozen=True)
class Delivery:
    """A webhook body as received: its fields, the secret it carried, and a copy safe to store."""

    fields: dict[str, Any] | None  # the JSON object, or None for a text body
    text: str
    secret: str | None
    stored_body: str  # the body with any secret removed


def read_delivery(raw: bytes) -> Delivery:
    """Decode a body (JSON or text, whatever the Content-Type) and take the secret out of it."""
    try:
        text = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise AlertError("body is not UTF-8 text") from None
    fields = _json_object(text)
    if fields is not None:
        secret = _pop_secret(fields)
        return Delivery(fields, text, secret, json.dumps(fields, sort_keys=True, default=str))
    match = _TEXT_SECRET.search(text)
    secret = match.group(1) if match else None
    stored = _TEXT_SECRET.sub("", text).strip() if match else text
    return Delivery(None, text, secret, stored)


def parse_alert(delivery: Delivery) -> Alert:
    """The Alert in a delivery; AlertError says what could not be read."""
    if delivery.fields is not None:
        return _from_fields(delivery.fields)
    if not delivery.text:
        raise AlertError("empty body: send JSON such as {\"action\": \"buy\", \"symbol\": \"AAPL\", \"timeframe\": \"15\"}")
    return _from_text(delivery.text)


def _json_object(text: str) -> dict[str, Any] | None:
    # A JSON array is still JSON (and must be refused as such), but text may also open with a
    # bracket ("[My Strategy] order buy ..."), so only an unparseable "{" body is broken JSON.
    if not text.startswith(("{", "[")):
        return None
    try:
        value = json.loads(text, parse_float=Decimal)
    except RecursionError:
        # json.loads recurses per nesting level; a body of 60 KB of "[" must be a 400, not a 500.
        raise AlertError("JSON body is nested too deeply") from None
    except ValueError:
        if text.startswith("["):
            return None
        raise AlertError("body looks like JSON but is not valid JSON") from None
    if not isinstance(value, dict):
        raise AlertError("JSON body must be an object")
    return value


def _pop_secret(fields: dict[str, Any]) -> str | None:
    secret = None
    for key in list(fields):
        if key.lower() in SECRET_KEYS:
            value = fields.pop(key)
            secret = secret or (str(value) if value is not None else None)
    return secret


def _flatten(fields: dict[str, Any]) -> dict[str, Any]:
    """Lower-cased keys, with a nested ``strategy`` object's keys lifted (top level wins)."""
    flat: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, dict) and key.lower() == "strategy":
            for inner, inner_value in value.items():
                flat.setdefault(inner.lower(), inner_value)
                flat.setdefault(f"strategy.{inner.lower()}", inner_value)
    for key, value in fields.items():
        if not isinstance(value, dict):
            flat[key.lower()] = value
    # TradingView's dotted placeholder names, written literally as keys.
    for dotted, plain in (("strategy.order.action", "order_action"), ("strategy.market_position", "market_position"),
                          ("strategy.order.price", "order_price")):
        if dotted in flat:
            flat.setdefault(plain, flat[dotted])
    return flat


def _first(flat: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for key in keys:
        value = flat.get(key)
        if value is not None and str(value).strip() != "":
            return key, value
    return None


def _action_word(key: str, value: Any) -> str:
    word = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if word not in _ACTION_WORDS:
        raise AlertError(f"unknown {key} {str(value)!r}: use buy, sell or close (or long, short, exit, flat)")
    return _ACTION_WORDS[word]


def _position_word(key: str, value: Any) -> str:
    """A market position given as a word (long/short/flat) or as a signed size."""
    try:
        size = Decimal(str(value).strip())
    except InvalidOperation:
        return _action_word(key, value)
    if not size.is_finite():
        raise AlertError(f"unknown {key} {str(value)!r}")
    return CLOSE if size == 0 else (BUY if size > 0 else SELL)


def _from_fields(fields: dict[str, Any]) -> Alert:
    flat = _flatten(fields)
    order = _first(flat, _ACTION_KEYS)
    position = _first(flat, _POSITION_KEYS)
    if order is None and position is None:
        raise AlertError("missing action: add \"action\": \"buy\" | \"sell\" | \"close\"")
    # The strategy's resulting position is the target, so it wins over the order's side:
    # a sell that leaves the strategy flat is a close, not a short.
    action = _position_word(*position) if position else _action_word(*order)
    symbol_field = _first(flat, _SYMBOL_KEYS)
    if symbol_field is None:
        raise AlertError("missing symbol: add \"symbol\": \"AAPL\" (or \"ticker\": \"{{ticker}}\")")
    exchange = flat.get("exchange")
    timeframe = _first(flat, _TIMEFRAME_KEYS)
    price = _first(flat, _PRICE_KEYS)
    return _build(action, str(symbol_field[1]), str(exchange) if exchange else None,
                  str(timeframe[1]).strip() if timeframe else None, price[1] if price else None)


def _from_text(text: str) -> Alert:
    match = _DEFAULT_STRATEGY_MESSAGE.search(text)
    if match:
        position = _decimal(match.group("position").replace(",", ""), "strategy position")
        action = CLOSE if position == 0 else (BUY if position > 0 else SELL)
        return _build(action, match.group("symbol"), None, None, None)
    tokens = [t for t in re.split(r"[\s,;]+", _TEXT_SECRET.sub("", text)) if t and t != "@"]
    if len(tokens) < 2:
        raise AlertError("cannot read the text alert: write it as 'BUY AAPL 15' or send JSON")
    if len(tokens) > 4:
        raise AlertError("cannot read the text alert: expected 'ACTION SYMBOL [TIMEFRAME] [PRICE]'")
    action = _action_word("action", tokens[0])
    timeframe = tokens[2] if len(tokens) > 2 else None
    price = tokens[3].lstrip("@") if len(tokens) > 3 else None
    return _build(action, tokens[1], None, timeframe, price)


def _build(action: str, symbol: str, exchange: str | None, timeframe: str | None, price: Any) -> Alert:
    try:
        normalized = normalize_symbol(symbol, exchange)
    except ValueError as e:
        raise AlertError(str(e)) from None
    minutes = None
    if timeframe is not None:
        try:
            minutes = interval_minutes(timeframe)
        except ValueError as e:
            raise AlertError(f"bad timeframe: {e}") from None
    return Alert(action, normalized, timeframe, minutes, _price(price))


def _price(value: Any) -> Decimal | None:
    if value is None or str(value).strip() == "":
        return None
    price = _decimal(str(value).strip().lstrip("$").replace(",", ""), "price")
    if price <= 0:
        raise AlertError(f"bad price {value!r}: must be above zero")
    if price < MIN_PRICE:
        raise AlertError(f"bad price {value!r}: below {MIN_PRICE}, surely not a real quote")
    if price > MAX_PRICE:
        raise AlertError(f"bad price {value!r}: above {MAX_PRICE:,}, surely not a real quote")
    return price


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise AlertError(f"bad {what} {text!r}: not a number") from None
    if not value.is_finite():
        raise AlertError(f"bad {what} {text!r}: not a finite number")
    return value
