"""JSON dialects of other bridges, one small reader each, named for its source.

A dialect claims a body by keys only its source writes, then reads it as its document says;
what it leaves to the JSON reader (symbol, interval, price) is read by ``alert_json`` so every
format gets the same rules. Each reader's documented examples are tests in
tests/domain/test_alert_dialects.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from novalgo.domain.alert_json import ACTION_KEYS, read_fields, says_position_after
from novalgo.domain.alert_parts import (
    ACTION_WORDS,
    BUY,
    CLOSE,
    PERCENT,
    PRICE,
    SELL,
    Draft,
    absent,
    action_word,
    exit_target,
    number,
    unrendered,
)


@dataclass(frozen=True)
class Dialect:
    """A reader named for its source: ``claims`` says whether a body is in its dialect."""

    name: str
    claims: Callable[[dict[str, Any]], bool]
    read: Callable[[dict[str, Any]], Draft]


def _keys(fields: dict[str, Any]) -> dict[str, Any]:
    return {str(key).strip().lower(): value for key, value in fields.items()}


# -- PickMyTrade ------------------------------------------------------------------------------------
# Their "Alert Format" and "TradingView JSON alert configuration" pages: the action is "data"
# (buy, sell or close; {{strategy.order.action}} on a strategy), with "quantity" (0 when sized by
# "risk_percentage"), "price", and exits as "tp"/"sl" (price levels) and "percentage_tp"/
# "percentage_sl"; a 0 means "not set". "dollar_tp"/"dollar_sl" are money for the whole trade,
# not a distance per share, so they are not kept.

def _pickmytrade_claims(fields: dict[str, Any]) -> bool:
    keys = _keys(fields)
    data = keys.get("data")
    said = isinstance(data, str) and (data.strip().lower() in ACTION_WORDS or unrendered(data) is not None)
    return said and not any(key in keys for key in ACTION_KEYS)


def _pickmytrade(fields: dict[str, Any]) -> Draft:
    keys = _keys(fields)
    kept = {key: value for key, value in keys.items()
            if key not in ("data", "quantity", "tp", "sl", "percentage_tp", "percentage_sl", "dollar_tp", "dollar_sl")}
    draft = read_fields({**kept, "action": keys["data"]})
    draft.reader = "PickMyTrade"
    draft.quantity = None if _unset(keys.get("quantity")) else keys.get("quantity")
    draft.take_profit = _target(keys, "tp", "percentage_tp", "take_profit", draft)
    draft.stop_loss = _target(keys, "sl", "percentage_sl", "stop_loss", draft)
    return draft


def _unset(value: Any) -> bool:
    """PickMyTrade writes 0 for "not set"."""
    if absent(value):
        return True
    try:
        return number(value, "value", Draft()) == 0
    except Exception:  # not a number: left for the checks to refuse by name
        return False


def _target(keys: dict[str, Any], price_key: str, percent_key: str, what: str, draft: Draft):
    if not _unset(keys.get(price_key)):
        return exit_target(PRICE, keys[price_key], what, draft)
    if not _unset(keys.get(percent_key)):
        return exit_target(PERCENT, keys[percent_key], what, draft)
    return None


PICKMYTRADE = Dialect("PickMyTrade", _pickmytrade_claims, _pickmytrade)


# -- Tickerly ---------------------------------------------------------------------------------------
# Their "Standard alert message structure", "Directional alerts" and "Close all alerts" pages:
# {"ticker", "action": {{strategy.order.action}}, "prev_position": {{strategy.prev_market_position}},
# "quantity", "pointer"}. "pointer" names their exchange account (theirs, not ours: ignored).
# A sell after a long (or a buy after a short) is their "exit" alert, unless the message also
# says the position after (a reversal); "closeall": "true" closes the ticker whatever else it says.

def _tickerly_claims(fields: dict[str, Any]) -> bool:
    keys = _keys(fields)
    return "pointer" in keys or "closeall" in keys


def _tickerly(fields: dict[str, Any]) -> Draft:
    keys = _keys(fields)
    close_all = str(keys.get("closeall", "")).strip().lower() == "true"
    kept = {key: value for key, value in keys.items() if key not in ("pointer", "closeall", "prev_position")}
    if close_all:  # "any quantity or action instructions are ignored"
        kept = {key: value for key, value in kept.items() if key not in ACTION_KEYS + ("quantity",)}
        kept["action"] = CLOSE
    draft = read_fields(kept)
    draft.reader = "Tickerly"
    previous = keys.get("prev_position")
    # The position after, where the message also says it, tells an exit from a reversal; without
    # it, a sell after a long is their exit alert.
    if not close_all and previous is not None and not absent(previous) and not says_position_after(kept):
        before = action_word("prev_position", previous, draft)
        if (before, draft.action) in ((BUY, SELL), (SELL, BUY)):
            draft.action = CLOSE
    return draft


TICKERLY = Dialect("Tickerly", _tickerly_claims, _tickerly)

JSON_DIALECTS = (PICKMYTRADE, TICKERLY)
