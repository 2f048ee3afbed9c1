"""Reading JSON alert bodies: our flat JSON, TradingView placeholder names (flat, dotted or
nested under "strategy"), 3Commas signal-bot JSON, and exits in TradersPost style.

Every shape is first flattened to one level of lower-case keys, so a field reads the same
wherever the template put it: ``{"strategy": {"order": {"action": "sell"}}}``,
``{"strategy.order.action": "sell"}`` and ``{"order_action": "sell"}`` are one field.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from novalgo.domain.alert_parts import (
    AMOUNT,
    BUY,
    CLOSE,
    PERCENT,
    PRICE,
    SELL,
    Draft,
    absent,
    action_word,
    exit_target,
    refuse_unrendered,
)
from novalgo.domain.alert_text import find_action
from novalgo.errors import AlertError

# Field names people use, most specific first.
ACTION_KEYS = ("action", "order_action", "side", "signal", "order", "direction")
# The strategy's resulting position: a word (long/short/flat) or a signed size. current_position
# is how several bridges' templates name {{strategy.market_position}}.
_POSITION_KEYS = ("market_position", "position", "current_position", "sentiment", "position_size")
_ORDER_NAME_KEYS = ("order_comment", "order_id", "comment")
_MESSAGE_KEYS = ("order_alert_message", "alert_message")
_SYMBOL_KEYS = ("symbol", "ticker", "instrument", "tv_instrument")
_EXCHANGE_KEYS = ("exchange", "tv_exchange")
_TIMEFRAME_KEYS = ("timeframe", "interval", "time_frame", "tf", "resolution")
_PRICE_KEYS = ("price", "close", "order_price", "limit_price", "limitprice", "trigger_price", "signalprice",
               "signal_price")
_QUANTITY_KEYS = ("quantity", "qty", "contracts", "order_contracts")
_TAKE_PROFIT_KEYS = ("take_profit", "takeprofit", "tp")
_STOP_LOSS_KEYS = ("stop_loss", "stoploss", "sl")
# The fields that decide the trade: two copies of one of these that differ cannot both be meant.
TRADE_KEYS = (ACTION_KEYS + _POSITION_KEYS + _SYMBOL_KEYS + _EXCHANGE_KEYS + _TIMEFRAME_KEYS + _PRICE_KEYS
              + _QUANTITY_KEYS)
_EXIT_KINDS = (("limitprice", PRICE), ("stopprice", PRICE), ("price", PRICE), ("percent", PERCENT),
               ("amount", AMOUNT))
# Prefixes TradingView and 3Commas nest strategy fields under; the fields mean the same without.
_NESTS = ("strategy.", "strategy_info.")
_MAX_DEPTH = 5
# strategy.exit() orders are named "Exit Long", "TP", "SL", "Stop Loss"...: an exit's sell closes
# a long, it must never open a short. Whole-name match, so "Long (close > EMA)" is not an exit.
_EXIT_NAME = re.compile(
    r"^(?:(?:long|short|buy|sell)\s+)?(?:exit|close|closed|flat|tp\d?|sl\d?|stop\s*loss|take\s*profit|"
    r"trail(?:ing)?\s*stop)(?:\s+(?:long|short|buy|sell|all|position|\d+))?$")


class NotFound(AlertError):
    """No action or no symbol where this reader looks: another reader may still find them."""


def read_fields(fields: dict[str, Any]) -> Draft:
    """The Draft in a JSON object; NotFound when it has no action or no symbol this reader knows."""
    flat = _flatten(fields)
    draft = Draft(reader="json")
    draft.symbol = _first(flat, _SYMBOL_KEYS)
    draft.exchange = _first(flat, _EXCHANGE_KEYS)
    draft.timeframe = _first(flat, _TIMEFRAME_KEYS)
    draft.price = _first(flat, _PRICE_KEYS)
    draft.quantity = _quantity(flat)
    draft.action, draft.action_text = _action(flat, draft)
    draft.take_profit = _exit(flat, _TAKE_PROFIT_KEYS, "take_profit", draft)
    draft.stop_loss = _exit(flat, _STOP_LOSS_KEYS, "stop_loss", draft)
    if draft.symbol is None:
        raise NotFound("missing symbol: add \"symbol\": \"AAPL\" (or \"ticker\": \"{{ticker}}\")", read=draft.read(),
                         hint="Add \"ticker\": \"{{ticker}}\" to the alert message.")
    refuse_unrendered("symbol", draft.symbol, draft)
    for field in ("exchange", "timeframe", "price"):
        if absent(getattr(draft, field)):  # "NaN", "None", an unrendered {{close}}: not needed, so not there
            setattr(draft, field, None)
    return draft


def says_position_after(fields: dict[str, Any]) -> bool:
    """Whether the body says the strategy's position after the order (which then decides the action)."""
    flat = _flatten(fields)
    return _first(flat, _POSITION_KEYS + ("market_position_size",)) is not None


def _flatten(fields: dict[str, Any]) -> dict[str, Any]:
    """Lower-cased dotted keys; an alert_message holding JSON adds its fields where missing."""
    flat: dict[str, Any] = {}
    _walk(fields, "", flat, 0)
    for key in [k for k in flat if k.rsplit(".", 1)[-1] in _MESSAGE_KEYS or k in _MESSAGE_KEYS]:
        inner = _json_message(flat[key])
        if inner is not None:
            flat.pop(key)
            _walk(inner, "", flat, 1)
    # Aliases after the real keys, so a key the trader wrote always wins over a derived one.
    for key, value in list(flat.items()):
        for alias in _aliases(key):
            flat.setdefault(alias, value)
    return flat


def _walk(obj: dict[str, Any], prefix: str, flat: dict[str, Any], depth: int) -> None:
    for key, value in obj.items():
        name = prefix + str(key).strip().lower()
        if isinstance(value, dict) and name.rsplit(".", 1)[-1] not in _MESSAGE_KEYS:
            if depth < _MAX_DEPTH:
                _walk(value, name + ".", flat, depth + 1)
        else:  # an alert_message object stays whole here; _flatten lifts its fields to the top
            flat.setdefault(name, value)


def _aliases(key: str) -> list[str]:
    names = [key]
    for nest in _NESTS:
        if key.startswith(nest):
            names.append(key[len(nest):])
    return [alias for name in names for alias in (name, name.replace(".", "_"))][1:]


def _json_message(value: Any) -> dict[str, Any] | None:
    """strategy.order.alert_message rendered as a JSON object (inside a string or not), else None."""
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = json.loads(value, parse_float=Decimal)
        except RecursionError:
            raise AlertError("alert_message JSON is nested too deeply") from None
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _first(flat: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = flat.get(key)
        if value is not None and not isinstance(value, (dict, list)) and str(value).strip() != "":
            return value
    return None


def _action(flat: dict[str, Any], draft: Draft) -> tuple[str, Any]:
    """buy/sell/close, and the words it came from.

    The strategy's resulting position is the target, so it wins over the order's side: a sell
    that leaves the strategy flat is a close, not a short. Next an order named as an exit, then
    the order's side. A field that decides the trade but still holds {{...}} is refused.
    """
    for key in _POSITION_KEYS:
        value = _first(flat, (key,))
        if value is not None:
            draft.action_text = value
            return _position_word(key, value, draft), value
    size = _first(flat, ("market_position_size",))
    if size is not None and _is_zero(size):
        return CLOSE, f"market_position_size {size}"
    for key in _ORDER_NAME_KEYS:
        name = _first(flat, (key,))
        if name is not None:
            refuse_unrendered(key, name, draft)
            if _EXIT_NAME.match(" ".join(re.findall(r"[a-z0-9]+", str(name).lower()))):
                return CLOSE, name
    message = _first(flat, _MESSAGE_KEYS)
    message_action = _message_action(message, draft)
    if message_action == CLOSE:
        return CLOSE, message
    for key in ACTION_KEYS:
        value = _first(flat, (key,))
        if value is not None:
            draft.action_text = value
            return action_word(key, value, draft), value
    if message_action is not None:
        return message_action, message
    raise NotFound("missing action: add \"action\": \"buy\" | \"sell\" | \"close\"", read=draft.read(),
                     hint="Add \"action\": \"buy\", \"sell\" or \"close\" (or \"{{strategy.order.action}}\" on a strategy).")


def _message_action(message: Any, draft: Draft) -> str | None:
    """An alert_message written as text ("Exit Long", "buy"): the action its words say."""
    if message is None or absent(message):
        return None
    try:
        return find_action(str(message))[0]
    except AlertError as e:
        raise AlertError(f"alert_message: {e}", read=draft.read(), hint=e.hint) from None


def _position_word(key: str, value: Any, draft: Draft) -> str:
    refuse_unrendered(key, value, draft)
    try:
        size = Decimal(str(value).strip())
    except InvalidOperation:
        return action_word(key, value, draft)
    if not size.is_finite():
        raise AlertError(f"unknown {key} {str(value)!r}", read=draft.read(),
                         hint=f"Send {key} as long, short or flat, or as a signed size.")
    return CLOSE if size == 0 else (BUY if size > 0 else SELL)


def _is_zero(value: Any) -> bool:
    try:
        return Decimal(str(value).strip()) == 0
    except InvalidOperation:
        return False


def _quantity(flat: dict[str, Any]) -> Any:
    quantity = _first(flat, _QUANTITY_KEYS)
    if quantity is None:
        # 3Commas: order.amount is coins when currency_type is "base"; a "quote" amount is money, not a size.
        currency = str(flat.get("order.currency_type") or "base").strip().lower()
        if currency == "base":
            quantity = _first(flat, ("order.amount",))
    return None if absent(quantity) else quantity


def _exit(flat: dict[str, Any], names: tuple[str, ...], what: str, draft: Draft):
    """A take-profit or stop-loss: a bare number is a price; an object says its kind
    (TradersPost's {"percent": 10}, {"limitPrice": 110}, {"stopPrice": 90}, {"amount": 10})."""
    for name in names:
        bare = flat.get(name)
        target = None if isinstance(bare, list) else exit_target(PRICE, bare, what, draft)
        for sub, kind in _EXIT_KINDS:
            target = target or exit_target(kind, flat.get(f"{name}.{sub}"), f"{what}.{sub}", draft)
        if target is not None:
            return target
    return None
