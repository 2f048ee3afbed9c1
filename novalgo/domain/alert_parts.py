"""The vocabulary every alert reader shares: actions, exit targets, and what counts as "absent".

Each reader (``alert_readers`` lists them) turns a body into a
``Draft``: the raw pieces it found, still unchecked. ``alerts.parse_alert`` checks a Draft into
an ``Alert`` in one place, so every format gets the same symbol, interval and price rules.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from novalgo.errors import AlertError

BUY, SELL, CLOSE = "buy", "sell", "close"

ACTION_WORDS = {
    "buy": BUY, "long": BUY, "bullish": BUY, "enter_long": BUY, "entry_long": BUY,
    "sell": SELL, "short": SELL, "bearish": SELL, "enter_short": SELL, "entry_short": SELL,
    "close": CLOSE, "exit": CLOSE, "flat": CLOSE, "flatten": CLOSE, "neutral": CLOSE,
    "close_long": CLOSE, "close_short": CLOSE, "exit_long": CLOSE, "exit_short": CLOSE, "cover": CLOSE,
}
# Rendered placeholders that mean "no value": TradingView writes NaN for na, Pine's str.tostring
# of na gives "NaN", and JSON templates built in code often leave None/null.
_NO_VALUE = frozenset({"", "none", "null", "nan", "na", "n/a", "undefined"})
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
READ_FIELDS = ("action", "symbol", "timeframe", "price", "quantity")
MAX_PRICE = Decimal(10_000_000)
_READ_LIMIT = 80  # a refusal echoes what it read; a fuzzed megabyte field must not be echoed whole


@dataclass(frozen=True)
class ExitTarget:
    """A take-profit or stop-loss as the alert wrote it: an absolute price, a percent from the
    entry, a dollar amount from the entry, or pips (PineConnector's default unit)."""

    kind: str  # PRICE, PERCENT, AMOUNT or PIPS
    value: Decimal


PRICE, PERCENT, AMOUNT, PIPS = "price", "percent", "amount", "pips"


@dataclass
class Draft:
    """What a reader found, unchecked. ``action`` is already buy/sell/close; the rest is raw."""

    action: str | None = None
    action_text: Any = None  # the words the action came from, echoed back on a refusal
    symbol: Any = None
    exchange: Any = None
    timeframe: Any = None
    price: Any = None
    quantity: Any = None
    take_profit: ExitTarget | None = None
    stop_loss: ExitTarget | None = None
    reader: str | None = None  # which reader read it, for `novalgo try`

    def read(self) -> dict[str, str | None]:
        """What was read, for a refusal's ``read``: short strings, None where missing."""
        values = {"action": self.action or self.action_text, "symbol": self.symbol, "timeframe": self.timeframe,
                  "price": self.price, "quantity": self.quantity}
        return {field: _echo(values[field]) for field in READ_FIELDS}


def _echo(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text if len(text) <= _READ_LIMIT else text[:_READ_LIMIT] + "…"


def unrendered(value: Any) -> str | None:
    """The ``{{placeholder}}`` left in a value TradingView did not fill in, if any."""
    if isinstance(value, str):
        match = _PLACEHOLDER.search(value)
        return match.group(0) if match else None
    return None


def absent(value: Any) -> bool:
    """True for a field that carries no value: missing, blank, None/NaN text, or a placeholder
    TradingView left unrendered. Only for fields the trade can do without (price, size, exits)."""
    if value is None or isinstance(value, (dict, list)):
        return value is None
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, Decimal) and value.is_nan():
        return True
    text = str(value).strip()
    return text.lower() in _NO_VALUE or unrendered(text) is not None


def refuse_unrendered(field: str, value: Any, draft: Draft) -> None:
    """A needed field still holding ``{{...}}``: say which placeholder, not "unknown action"."""
    placeholder = unrendered(value)
    if placeholder:
        raise AlertError(
            f"the {placeholder} placeholder in {field} was not rendered by TradingView",
            read=draft.read(),
            hint="Strategy placeholders such as {{strategy.order.action}} are only filled in alerts created on a "
                 "strategy; on an indicator alert write the value itself (\"buy\", \"sell\", \"close\").")


def action_word(field: str, value: Any, draft: Draft) -> str:
    """buy/sell/close for one of the words traders use; AlertError for anything else."""
    refuse_unrendered(field, value, draft)
    word = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if word not in ACTION_WORDS:
        raise AlertError(f"unknown {field} {str(value)!r}: use buy, sell or close (or long, short, exit, flat)",
                         read=draft.read(), hint="Set the action to buy, sell or close.")
    return ACTION_WORDS[word]


def number(text: Any, what: str, draft: Draft) -> Decimal:
    """A finite decimal from text such as "$1,200.50"; AlertError naming the field otherwise."""
    text = str(text).strip().lstrip("$").replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise AlertError(f"bad {what} {text!r}: not a number", read=draft.read(),
                         hint=f"Send {what} as a plain number, or leave it out.") from None
    if not value.is_finite():
        raise AlertError(f"bad {what} {text!r}: not a finite number", read=draft.read(),
                         hint=f"Send {what} as a plain number, or leave it out.")
    return value


def exit_target(kind: str, value: Any, what: str, draft: Draft) -> ExitTarget | None:
    """An ExitTarget from one field; "2%" is a percent whatever the field's usual kind."""
    if absent(value):
        return None
    text = str(value).strip()
    if text.endswith("%"):
        kind, text = PERCENT, text[:-1]
    amount = number(text, what, draft)
    if not 0 < amount <= MAX_PRICE:
        raise AlertError(f"bad {what} {value!r}: must be above zero and below {MAX_PRICE:,}", read=draft.read(),
                         hint=f"Send {what} as a positive number, or leave it out.")
    return ExitTarget(kind, amount)
