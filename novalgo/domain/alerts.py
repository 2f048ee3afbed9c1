"""Reading a TradingView webhook body into one validated ``Alert``.

Traders write alert messages many ways; each shape has a small reader (``alert_readers`` says
which reads a body: JSON in ``alert_json``, ``alert_bridges`` and ``alert_general``, text in
``alert_text`` and ``alert_commands``) that returns a ``Draft``, and this module checks
every Draft the same way: symbol, interval, price, size. Everything here is pure: bytes in, an
``Alert`` (or an ``AlertError`` with the reason, what was read, and a hint) out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable

from novalgo.domain.alert_parts import (
    AMOUNT,
    BUY,
    CLOSE,
    MAX_PRICE,
    PERCENT,
    PIPS,
    PRICE,
    SELL,
    Draft,
    ExitTarget,
    absent,
    number,
    refuse_unrendered,
)
from novalgo.domain.alert_readers import READER_NAMES, read_json, read_text
from novalgo.domain.alert_text import TEXT_SECRET, pineconnector_license
from novalgo.domain.symbols import normalize_symbol
from novalgo.domain.timeframes import interval_minutes
from novalgo.errors import AlertError

__all__ = ["BUY", "SELL", "CLOSE", "PRICE", "PERCENT", "AMOUNT", "PIPS", "Alert", "ExitTarget", "Delivery",
           "read_delivery", "parse_alert", "READER_NAMES", "UnreadableBody"]

SECRET_KEYS = ("secret", "passphrase", "key", "token")
_SECRET_DEPTH = 32  # nested secrets are looked for this deep (the general reader reads 8 levels)
# Smaller than any traded quote (a satoshi); below it a dollar amount / price overflows the order size.
MIN_PRICE = Decimal("0.00000001")
MAX_QUANTITY = Decimal(10) ** 12  # more shares or coins than any order; beyond it, a broken template
_JSON_HINT = "Send JSON such as {\"action\": \"buy\", \"symbol\": \"AAPL\", \"timeframe\": \"15\"}."
# A secret field in a body that is not valid JSON, so a caller with the secret hears where it breaks.
_RAW_SECRET = re.compile(r"[\"']?\b(?:secret|passphrase|key|token)\b[\"']?\s*:\s*[\"']([^\"']*)[\"']", re.IGNORECASE)


@dataclass(frozen=True)
class Alert:
    """One trading signal: go long (buy), go short (sell) or go flat (close).

    ``quantity``, ``take_profit`` and ``stop_loss`` keep what the alert said about size and exits:
    the decision uses them where the Config row defers to the alert (a row value always wins).
    """

    action: str
    symbol: str
    timeframe: str | None = None
    timeframe_minutes: int | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    take_profit: ExitTarget | None = None
    stop_loss: ExitTarget | None = None
    reader: str | None = field(default=None, compare=False)  # which reader read it (READER_NAMES)


class UnreadableBody(AlertError):
    """A body that cannot be decoded at all; ``secret`` is the one it seems to carry, if any,
    so a caller who has the secret is told what is wrong rather than 401."""

    def __init__(self, reason: str, hint: str, secret: str | None = None):
        super().__init__(reason, read=Draft().read(), hint=hint)
        self.secret = secret


@dataclass(frozen=True)
class Delivery:
    """A webhook body as received: its fields, the secret it carried, and a copy safe to store."""

    fields: dict[str, Any] | None  # the JSON object, or None for a text body
    text: str
    secret: str | None
    stored_body: str  # the body with any secret removed
    pineconnector: bool = False  # the first field was PineConnector's licence id


def read_delivery(raw: bytes, secret: str | None = None) -> Delivery:
    """Decode a body (JSON or text, whatever the Content-Type) and take the secret out of it.

    ``secret`` is the webhook secret, if known: a PineConnector licence-id field equal to it marks
    a PineConnector body whatever the secret looks like.
    """
    try:
        text = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise _refusal("body is not UTF-8 text", "Send the alert message as UTF-8 text or JSON.") from None
    fields = _json_object(text)
    if fields is not None:
        secret = _pop_secret(fields)
        return Delivery(fields, text, secret, json.dumps(fields, sort_keys=True, default=str))
    pine = pineconnector_license(text, secret)
    if pine is not None:  # PineConnector's first field, the licence id, is its secret
        return Delivery(None, text, pine[0], pine[1], pineconnector=True)
    match = TEXT_SECRET.search(text)
    secret = match.group(1) if match else None
    stored = TEXT_SECRET.sub("", text).strip() if match else text
    return Delivery(None, text, secret, stored)


def parse_alert(delivery: Delivery, indicator_names: Iterable[str] = ()) -> Alert:
    """The Alert in a delivery; AlertError says what could not be read, what was, and how to fix it.

    ``indicator_names``: indicators whose names hold an action word, beyond the known ones.
    """
    try:
        if delivery.fields is not None:
            draft = read_json(delivery.fields)
        elif not delivery.text:
            raise AlertError("empty body: send JSON such as {\"action\": \"buy\", \"symbol\": \"AAPL\", \"timeframe\": \"15\"}",
                             hint=_JSON_HINT)
        else:
            draft = read_text(delivery.text, delivery.pineconnector, indicator_names)
        return _check(draft)
    except AlertError as e:
        if e.read is None:
            e.read = Draft().read()
        if e.hint is None:
            e.hint = _JSON_HINT
        raise


def _check(draft: Draft) -> Alert:
    """The one place every format's pieces are checked into an Alert."""
    if draft.action is None:  # pragma: no cover - every reader sets it or refuses
        raise AlertError("missing action: add \"action\": \"buy\" | \"sell\" | \"close\"", read=draft.read())
    if draft.symbol is None:
        raise AlertError("missing symbol: add \"symbol\": \"AAPL\" (or \"ticker\": \"{{ticker}}\")", read=draft.read(),
                         hint="Add the ticker ({{ticker}}) to the alert message.")
    refuse_unrendered("symbol", draft.symbol, draft)
    exchange = None if absent(draft.exchange) else str(draft.exchange)
    try:
        symbol = normalize_symbol(str(draft.symbol), exchange)
    except ValueError as e:
        raise AlertError(str(e), read=draft.read(),
                         hint="Send a ticker Alpaca trades: AAPL, NASDAQ:AAPL, BRK.B, BTCUSD or BTC/USD.") from None
    timeframe = None if absent(draft.timeframe) else str(draft.timeframe).strip()
    minutes = None
    if timeframe is not None:
        try:
            minutes = interval_minutes(timeframe)
        except ValueError as e:
            raise AlertError(f"bad timeframe: {e}", read=draft.read(),
                             hint="Send the chart interval as TradingView's {{interval}} gives it: 15, 60, 240, 1D.") from None
    return Alert(draft.action, symbol, timeframe, minutes, _price(draft.price, draft), _quantity(draft.quantity, draft),
                 draft.take_profit, draft.stop_loss, READER_NAMES.get(draft.reader or "", draft.reader))


def _refusal(reason: str, hint: str) -> AlertError:
    return AlertError(reason, read=Draft().read(), hint=hint)


def _json_object(text: str) -> dict[str, Any] | None:
    # A JSON array is still JSON (and must be refused as such), but text may also open with a
    # bracket ("[My Strategy] order buy ..."), so only an unparseable "{" body is broken JSON.
    if not text.startswith(("{", "[")):
        return None
    try:
        value = json.loads(text, parse_float=Decimal)
    except RecursionError:
        # json.loads recurses per nesting level; a body of 60 KB of "[" must be a 400, not a 500.
        raise _refusal("JSON body is nested too deeply", _JSON_HINT) from None
    except ValueError as e:
        if text.startswith("["):
            return None
        where = f": {e.msg} at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        found = _RAW_SECRET.search(text)
        raise UnreadableBody(f"body looks like JSON but is not valid JSON{where}",
                             "Check the alert message for a missing quote, comma or brace there.",
                             found.group(1) if found else None) from None
    if not isinstance(value, dict):
        raise _refusal("JSON body must be an object", _JSON_HINT)
    return value


def _pop_secret(fields: dict[str, Any]) -> str | None:
    """The secret field (top level first, else the first nested one); every copy is removed,
    in nested objects and lists too (PickMyTrade repeats its token per account)."""
    secret = None
    nested: list[str] = []
    for key in list(fields):
        if key.lower() in SECRET_KEYS:
            value = fields.pop(key)
            secret = secret or (str(value) if value is not None else None)
        else:
            _pop_nested(fields[key], nested, 0)
    return secret or (nested[0] if nested else None)


def _pop_nested(value: Any, found: list[str], depth: int) -> None:
    if depth > _SECRET_DEPTH:
        return
    if isinstance(value, dict):
        for key in list(value):
            if str(key).lower() in SECRET_KEYS and not isinstance(value[key], (dict, list)):
                popped = value.pop(key)
                if popped is not None:
                    found.append(str(popped))
            else:
                _pop_nested(value[key], found, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _pop_nested(item, found, depth + 1)


def _price(value: Any, draft: Draft) -> Decimal | None:
    if absent(value):  # "NaN", "None" or an unrendered {{close}}: no price, not a bad one
        return None
    price = number(value, "price", draft)
    if price <= 0:
        raise AlertError(f"bad price {value!r}: must be above zero", read=draft.read(), hint="Send {{close}} as the price.")
    if price < MIN_PRICE:
        raise AlertError(f"bad price {value!r}: below {MIN_PRICE}, surely not a real quote", read=draft.read(),
                         hint="Send {{close}} as the price.")
    if price > MAX_PRICE:
        raise AlertError(f"bad price {value!r}: above {MAX_PRICE:,}, surely not a real quote", read=draft.read(),
                         hint="Send {{close}} as the price.")
    return price


def _quantity(value: Any, draft: Draft) -> Decimal | None:
    if absent(value):
        return None
    quantity = number(value, "quantity", draft)
    if not 0 < quantity <= MAX_QUANTITY:
        raise AlertError(f"bad quantity {value!r}: must be above zero and at most {MAX_QUANTITY:,}", read=draft.read(),
                         hint="Send the size as {{strategy.order.contracts}}, or leave it out.")
    return quantity
