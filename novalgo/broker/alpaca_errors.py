"""Alpaca's error answers, read once at the edge and turned into sentences a trader can act on."""

from __future__ import annotations

import json
from dataclasses import dataclass

from alpaca.common.exceptions import APIError

DUPLICATE_CLIENT_ID = "client_order_id must be unique"

# Alpaca's words → what they mean for this bot. Matched on lowercase substrings.
_HINTS = (
    ("buying power", "the account cannot afford this order"),
    ("insufficient qty", "one order may not take a position across zero: close the position first"),
    ("wash trade", "an opposite order for this symbol is still open"),
    ("not allowed to short", "shorting is disabled on this account (Alpaca needs $2,000 equity for it)"),
    ("sold short", "Alpaca will not lend this asset for a short sale"),
    ("shortable", "Alpaca will not lend this asset for a short sale"),
    ("easy to borrow", "Alpaca has no shares of this asset to lend right now"),
    ("not fractionable", "this asset trades in whole shares only"),
    ("fractional", "fractional orders must be DAY market orders and cannot open shorts"),
    ("not tradable", "Alpaca does not trade this asset"),
    ("not found", "Alpaca does not know this symbol"),
    ("not authorized", "the API keys were refused"),
)


@dataclass(frozen=True)
class AlpacaAnswer:
    status: int | None
    code: int | None
    message: str


def read_error(error: APIError) -> AlpacaAnswer:
    """Status, Alpaca code and message of an APIError, whatever shape its body had."""
    text = str(error)
    code, message = None, text.strip()[:300]
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = body.get("code") if isinstance(body.get("code"), int) else None
        message = str(body.get("message") or message)
    return AlpacaAnswer(error.status_code, code, message)


# Alpaca refuses with 403 (code 40310000) when open orders hold the shares ("insufficient qty
# available for order (requested: 100, available: 0)") or an opposite order is open ("potential
# wash trade detected. use complex orders"); see Alpaca's Orders docs and its user protection page.
_BLOCKED_WORDS = ("insufficient qty available", "wash trade", "held_for_orders", "position intent mismatch")


def blocked_by_open_orders(answer: AlpacaAnswer) -> bool:
    """Did Alpaca refuse because other open orders on the symbol are in the way?"""
    low = answer.message.lower()
    return answer.status == 403 and any(word in low for word in _BLOCKED_WORDS)


def is_duplicate_client_id(answer: AlpacaAnswer) -> bool:
    return answer.status == 422 and DUPLICATE_CLIENT_ID in answer.message.lower()


def rejection_reason(answer: AlpacaAnswer, doing: str | None = None) -> str:
    """A readable FAILED reason that keeps Alpaca's own words (``doing``: what was refused)."""
    low = answer.message.lower()
    hint = next((text for needle, text in _HINTS if needle in low), "")
    status = f" ({answer.status})" if answer.status else ""
    head = f"Alpaca refused to {doing}" if doing else "Alpaca refused the order"
    return f"{head}{status}: {answer.message}" + (f" — {hint}" if hint else "")
