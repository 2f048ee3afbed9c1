"""Text dialects of other bridges' command languages, one small reader each, named for its source.

Each returns None for a text that is not in its dialect (so the next reader is tried) and a
Draft or an AlertError for one that is. NovAlgo trades one symbol one way per alert, so a
message whose commands point different ways, or at two symbols, is refused naming both.
Their documented examples are tests in tests/domain/test_alert_dialects.py.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from novalgo.domain.alert_parts import ACTION_WORDS, BUY, CLOSE, SELL, Draft
from novalgo.errors import AlertError


def _plain_number(text: Any) -> str | None:
    """A size that is a count ("0.5"), not a share of the balance ("50%"), else None."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        return None
    return str(text).strip() if value.is_finite() else None


def _arguments(text: str, separator: str) -> dict[str, str]:
    """``side=buy, amount=1`` as {"side": "buy", "amount": "1"} (keys lower-cased)."""
    pairs = {}
    for part in text.split(separator):
        key, sep, value = part.partition("=")
        if sep:
            pairs[key.strip().lower()] = value.strip()
    return pairs


def _one(draft: Draft, what: str, found: dict[str, str]) -> str | None:
    """The one value every command agrees on; AlertError naming both when they differ."""
    if len(found) > 1:
        raise AlertError(f"cannot read the {draft.reader} alert: its commands disagree on the {what} "
                         f"({' and '.join(found.values())})", read=draft.read(),
                         hint="Send one symbol and one direction per alert.")
    return next(iter(found), None)


# -- Alertatron -------------------------------------------------------------------------------------
# alertatron.com/docs/automated-trading ("Basic Concepts", "Market Order", "Limit Order"):
#   MyKeys(XBTUSD) { market(side=buy, amount=100); } #bot
# Several blocks may follow one another. market()/limit()/aggressive() enter: side=buy|sell, or
# position=N, the target position (0 = flat, a close). Other commands (wait, cancel, stop
# losses, trailing stops) manage the trade and are not its direction. offset=@PRICE is an
# absolute price; amount=N a size (percent amounts are a share of the balance, not kept).

_ALERTATRON_BLOCK = re.compile(r"(?P<keys>[\w-]+)\s*\(\s*(?P<symbol>[^()\s]+)\s*\)\s*\{(?P<body>[^{}]*)\}")
_ALERTATRON_SHAPE = re.compile(r"^\s*(?:" + _ALERTATRON_BLOCK.pattern + r"\s*)+(?:#\w+\s*)*$", re.DOTALL)
_ALERTATRON_COMMAND = re.compile(r"(?P<name>\w+)\s*\((?P<args>[^()]*)\)")
_ALERTATRON_ENTRIES = frozenset({"market", "limit", "aggressive"})


def alertatron(text: str) -> Draft | None:
    if not _ALERTATRON_SHAPE.match(text):
        return None
    draft = Draft(reader="Alertatron")
    symbols: dict[str, str] = {}
    actions: dict[str, str] = {}
    for block in _ALERTATRON_BLOCK.finditer(text):
        symbols.setdefault(block["symbol"].upper(), block["symbol"])
        for command in _ALERTATRON_COMMAND.finditer(block["body"]):
            if command["name"].lower() not in _ALERTATRON_ENTRIES:
                continue
            args = _arguments(command["args"], ",")
            action = _alertatron_action(args, command.group(0), draft)
            actions.setdefault(action, command.group(0))
            draft.quantity = draft.quantity or _plain_number(args.get("amount", ""))
            offset = args.get("offset", "")
            if offset.startswith("@"):
                draft.price = draft.price or offset[1:]
    draft.symbol = _one(draft, "symbol", symbols)
    draft.action = _one(draft, "direction", actions)
    if draft.action is None:
        raise AlertError("cannot read the Alertatron alert: no market(), limit() or aggressive() order in it",
                         read=draft.read(), hint="Add market(side=buy, amount=1) or market(position=0) to the block.")
    draft.action_text = actions[draft.action]
    return draft


def _alertatron_action(args: dict[str, str], command: str, draft: Draft) -> str:
    if "position" in args:
        try:
            target = Decimal(args["position"].rstrip("%"))
        except InvalidOperation:
            target = None
        if target is not None and target.is_finite():
            return CLOSE if target == 0 else (BUY if target > 0 else SELL)
    side = args.get("side", "").lower()
    if side in (BUY, SELL):
        return side
    raise AlertError(f"cannot read the Alertatron command {command!r}: it says neither side=buy|sell nor position=",
                     read=Draft(action_text=command).read(), hint="Write market(side=buy, amount=1).")


# -- Autoview ---------------------------------------------------------------------------------------
# autoview.com/syntax and "Building Autoview commands": space-separated key=value parameters,
# one command a line (or between "|"): e=kraken s=ETHUSD b=buy q=0.5 t=market
# b= is the book: buy/long or sell/short; c=position closes (c=order only cancels orders);
# q= the quantity (a percent is a share of the balance, not kept); fp= a fixed price.

_AUTOVIEW_PAIR = re.compile(r"^(?P<key>[a-z]{1,4})=(?P<value>\S+)$")
_AUTOVIEW_BOOK = {"buy": BUY, "long": BUY, "sell": SELL, "short": SELL}


def autoview(text: str) -> Draft | None:
    commands = []
    for line in re.split(r"[\n|]", text):
        tokens = line.split()
        if not tokens:
            continue
        if not all(_AUTOVIEW_PAIR.match(token) for token in tokens):
            return None
        commands.append({m["key"]: m["value"] for m in map(_AUTOVIEW_PAIR.match, tokens)})
    if not commands or not any("s" in c and ("b" in c or "c" in c) for c in commands):
        return None
    draft = Draft(reader="Autoview")
    symbols = {c["s"].upper(): f"s={c['s']}" for c in commands if "s" in c}
    draft.symbol = _one(draft, "symbol", symbols)
    draft.symbol = next((c["s"] for c in commands if "s" in c), None)
    draft.exchange = next((c["e"] for c in commands if "e" in c), None)
    entries: dict[str, str] = {}
    closes = []
    for command in commands:
        close = command.get("c", "").lower()
        if close == "position":
            closes.append("c=position")
        elif close == "order":
            continue  # cancels orders, opens nothing
        elif "b" in command:
            book = command["b"].lower()
            if book not in _AUTOVIEW_BOOK:
                raise AlertError(f"cannot read the Autoview command: unknown book b={command['b']}", read=draft.read(),
                                 hint="Use b=buy, b=sell, b=long or b=short, or c=position to close.")
            entries.setdefault(_AUTOVIEW_BOOK[book], f"b={command['b']}")
            draft.quantity = draft.quantity or _plain_number(command.get("q", ""))
            draft.price = draft.price or command.get("fp")
    # A close and then an entry is one entry (NovAlgo closes the other side first); a close alone closes.
    draft.action = _one(draft, "direction", entries) or (CLOSE if closes else None)
    if draft.action is None:
        raise AlertError("cannot read the Autoview alert: it only cancels orders", read=draft.read(),
                         hint="Send b=buy or b=sell to trade, or c=position to close.")
    draft.action_text = entries.get(draft.action, "c=position")
    return draft


# -- KEY=VALUE; texts (OctoBot's TradingView signals, and others alike) -----------------------------
# OctoBot's "TradingView trading mode" page: EXCHANGE=binance;SYMBOL=BTCUSDT;SIGNAL=BUY;
# ORDER_TYPE=MARKET;VOLUME=0.01;PRICE=... The pairs are read as JSON fields would be (SIGNAL is an
# action field, SYMBOL the symbol, VOLUME a size unless it is a percent of the balance).

_PAIRS = re.compile(r"^\s*(?:[A-Za-z][\w .-]*\s*=\s*[^;=]*;\s*)+(?:[A-Za-z][\w .-]*\s*=\s*[^;=]*)?;?\s*$")


def key_value_pairs(text: str) -> dict[str, str] | None:
    """The pairs of a ``KEY=VALUE;KEY=VALUE`` text, else None."""
    if ";" not in text or not _PAIRS.match(text):
        return None
    pairs = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            pairs[key.strip()] = value.strip()
    volume = next((k for k in pairs if k.strip().lower() == "volume"), None)
    if volume is not None:
        size = pairs.pop(volume)
        if _plain_number(size) is not None:
            pairs["quantity"] = size
    return pairs if any(str(v).strip().lower() in ACTION_WORDS for v in pairs.values()) else None
