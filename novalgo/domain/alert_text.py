"""Reading text alert bodies, one small reader per shape (``alert_readers`` tries them strictest first).

- TradingView's default strategy message: ``... order buy @ 25 filled on AAPL. New strategy position is 25``
- PineConnector: ``60123456789,buy,AAPL,risk=1,sl=5`` (the first field, the licence id, is the secret)
- plain: ``BUY AAPL 15`` / ``sell NASDAQ:AAPL 15m @201.5``
- indicator texts: ``LDC Open Long ▲ | AAPL@189.50 | (15)``, ``UT Bot Buy AAPL``,
  ``SuperTrend Sell signal on NASDAQ:AAPL``, ``Chandelier Exit Buy, NASDAQ:MSFT``

Other bridges' command languages (Alertatron, Autoview, KEY=VALUE;) are in ``alert_commands``.

The indicator reader reads free text, so it only trades on an unambiguous signal: exactly one
direction, and a ticker written the way alerts write one (``AAPL@189.50``, ``NASDAQ:AAPL``, or
an upper-case ticker right after the action). Anything less is refused, saying what was read.
"""

from __future__ import annotations

import hmac
import re
from typing import Iterable, Iterator

from novalgo.domain.alert_parts import (
    ACTION_WORDS,
    BUY,
    CLOSE,
    PERCENT,
    PIPS,
    PRICE,
    SELL,
    Draft,
    action_word,
    exit_target,
    number,
)
from novalgo.errors import AlertError

# A secret ends at white space, or at ";" in KEY=VALUE; texts.
TEXT_SECRET = re.compile(r"\b(?:secret|passphrase|key|token)\s*[=:]\s*([^\s;]+);?", re.IGNORECASE)
TICKER_HINT = "Add the ticker to the message, e.g. 'UT Bot Buy {{ticker}}' or '{{ticker}}@{{close}}'."

_DEFAULT_STRATEGY_MESSAGE = re.compile(
    r"order\s+(?P<side>buy|sell)\s+@\s+[\d.,]+\s+filled\s+on\s+(?P<symbol>\S+?)\.?\s+"
    r"new\s+strategy\s+position\s+is\s+(?P<position>-?[\d.,]+)",
    re.IGNORECASE,
)


def default_strategy_message(text: str) -> Draft | None:
    match = _DEFAULT_STRATEGY_MESSAGE.search(text)
    if not match:
        return None
    draft = Draft(action_text=match.group("side"), symbol=match.group("symbol"))
    # The new position is the target: a sell that leaves the strategy flat is a close.
    position = number(match.group("position"), "strategy position", draft)
    draft.action = CLOSE if position == 0 else (BUY if position > 0 else SELL)
    return draft


# -- PineConnector: LicenseID,command,SYMBOL[,key=value...] -----------------------------------------

_PINE_SHAPE = re.compile(r"^\s*(?P<license>\d{6,})\s*,\s*[A-Za-z]")
_PINE_ANY_LICENCE = re.compile(r"^\s*[^,\s][^,]*,\s*[A-Za-z]+\s*,\s*[^,\s]")
_PINE_COMMANDS = {
    "buy": BUY, "long": BUY, "bull": BUY, "bullish": BUY,
    "sell": SELL, "short": SELL, "bear": SELL, "bearish": SELL,
    "closelong": CLOSE, "closeshort": CLOSE, "closeall": CLOSE, "closelongshort": CLOSE,
}
_PINE_SECRET_KEYS = ("secret", "passphrase", "key", "token")
# tp=/sl= are in the unit chosen in the EA (pips by default); the explicit keys say their unit.
_PINE_EXITS = {"tp": PIPS, "tp_pips": PIPS, "tp_price": PRICE, "tp_pct": PERCENT,
               "sl": PIPS, "sl_pips": PIPS, "sl_price": PRICE, "sl_pct": PERCENT}


def pineconnector_license(text: str, secret: str | None = None) -> tuple[str, str] | None:
    """(licence id, the body without it or any secret=) for a PineConnector body, else None.

    A body is PineConnector's when its first field is a licence id (six digits or more), or is
    any text equal to ``secret`` (the webhook secret) followed by a command: a generated secret
    is not digits, and the licence-id field is the one place its messages can carry it.
    """
    match = _PINE_SHAPE.match(text)
    if match:
        licence = match.group("license")
    elif secret and _PINE_ANY_LICENCE.match(text) and hmac.compare_digest(
            text.split(",", 1)[0].strip().encode("utf-8"), secret.encode("utf-8")):
        licence = text.split(",", 1)[0].strip()
    else:
        return None
    kept = [part.strip() for part in text.split(",")[1:]
            if part.split("=", 1)[0].strip().lower() not in _PINE_SECRET_KEYS]
    return licence, ",".join(kept)


def pineconnector(text: str, forced: bool = False) -> Draft | None:
    """``forced``: the first field was found to be the secret, so the shape is PineConnector's."""
    if not (forced or _PINE_SHAPE.match(text)):
        return None
    parts = [part.strip() for part in text.split(",")[1:]]
    command = parts[0].lower()
    draft = Draft(action_text=parts[0])
    draft.symbol = parts[1] if len(parts) > 1 and "=" not in parts[1] else None
    if command not in _PINE_COMMANDS:
        # Pending orders, partial closes and SL/TP edits have no market-order meaning here.
        raise AlertError(f"PineConnector command {parts[0]!r} is not supported", read=draft.read(),
                         hint="Use buy, sell, closelong, closeshort or closeall: NovAlgo places market orders only.")
    draft.action = _PINE_COMMANDS[command]
    for part in parts[2:]:
        key, _, value = part.partition("=")
        key = key.strip().lower()
        if key in _PINE_EXITS:
            target = exit_target(_PINE_EXITS[key], value, key, draft)
            if key.startswith("tp"):
                draft.take_profit = draft.take_profit or target
            else:
                draft.stop_loss = draft.stop_loss or target
    # risk= and vol_*= size in lots, dollars or percent as set in the EA, and price= is a pending
    # order's entry (pips by default): none is a share count or a quote, so none is kept.
    return draft


# -- plain: ACTION SYMBOL [TIMEFRAME] [PRICE] -------------------------------------------------------

# Words that follow an action in prose ("Buy signal on ..."), never a ticker.
_FILLERS = frozenset({"signal", "signals", "alert", "alerts", "on", "for", "in", "at", "of", "the", "order", "now",
                      "triggered", "entry", "position", "trade", "-", "!"})


def _tokens(text: str) -> list[str]:
    text = re.sub(r"(?<!\S)@\s+", "@", TEXT_SECRET.sub("", text))  # "@ 200" is "@200", the price
    return [t for t in re.split(r"[\s,;]+", text) if t and t != "@"]


def plain(text: str) -> Draft | None:
    tokens = _tokens(text)
    if not 2 <= len(tokens) <= 4 or tokens[0].lower() not in ACTION_WORDS:
        return None
    second = tokens[1].lower().strip("!.,:;")
    if second in _FILLERS or second in ACTION_WORDS:  # "Buy signal: ...", "Exit Long": prose, not ACTION SYMBOL
        return None
    rest = tokens[2:]
    price = next((t for t in rest if t.startswith("@")), None)  # "@201.5" is the price wherever it stands
    rest = [t for t in rest if t is not price]
    if price is None and len(rest) == 2:
        price = rest.pop()
    if len(rest) > 1:
        return None
    draft = Draft(action_text=tokens[0], symbol=tokens[1], timeframe=rest[0] if rest else None,
                  price=price.lstrip("@") if price else None)
    draft.action = action_word("action", tokens[0], draft)
    return draft


def unreadable(text: str) -> Draft:
    tokens = _tokens(text)
    draft = Draft()
    hint = "Write the alert as 'BUY AAPL 15', or send JSON such as {\"action\": \"buy\", \"symbol\": \"AAPL\"}."
    if len(tokens) < 2:
        raise AlertError("cannot read the text alert: write it as 'BUY AAPL 15' or send JSON", read=draft.read(), hint=hint)
    if len(tokens) > 4:
        raise AlertError("cannot read the text alert: expected 'ACTION SYMBOL [TIMEFRAME] [PRICE]'",
                         read=draft.read(), hint=hint)
    action_word("action", tokens[0], Draft(action_text=tokens[0], symbol=tokens[1]))
    raise AlertError("cannot read the text alert: expected 'ACTION SYMBOL [TIMEFRAME] [PRICE]'",
                     read=draft.read(), hint=hint)


# -- indicator texts: signal names, arrows, TICKER@PRICE and (interval) -------------------------------

# Two-word phrases first: "Close Long" is a close, not a buy; "Open Position" names no side.
_PHRASES = {
    ("open", "long"): BUY, ("open", "short"): SELL, ("enter", "long"): BUY, ("enter", "short"): SELL,
    ("close", "long"): CLOSE, ("close", "short"): CLOSE, ("exit", "long"): CLOSE, ("exit", "short"): CLOSE,
    ("long", "exit"): CLOSE, ("short", "exit"): CLOSE, ("long", "close"): CLOSE, ("short", "close"): CLOSE,
    ("close", "position"): CLOSE, ("close", "all"): CLOSE, ("take", "profit"): CLOSE, ("stop", "loss"): CLOSE,
    ("open", "position"): None,
}
# Fewer words than the JSON table: "flat" or "neutral" in prose is too easily not a command.
_WORDS = {word: action for word, action in ACTION_WORDS.items() if word not in ("flat", "flatten", "neutral")}
_TICKER_AT_PRICE = re.compile(
    r"(?<![\w:])(?:(?P<exchange>[A-Za-z][A-Za-z0-9_]*):)?(?P<ticker>[A-Za-z0-9][A-Za-z0-9./-]*)"
    r"@\s*\[?\s*(?P<price>\$?[0-9][0-9,]*(?:\.[0-9]+)?)\s*\]?")
_EXCHANGE_TICKER = re.compile(r"(?<![\w:])(?P<exchange>[A-Z][A-Z0-9_]*):(?P<ticker>[A-Za-z0-9][A-Za-z0-9./-]*)")
_UPPER_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,9}(?:[./-][A-Z0-9]{1,6})?$")
_BARE_INTERVAL = re.compile(r"^(\d+[A-Za-z]{0,7}|[DWM])$")
_NEGATION = re.compile(r"\b(?:no|not|don'?t|do\s+not|never|avoid|without)\b", re.IGNORECASE)
_INTERVAL = re.compile(r"\(\s*(\d+\s*[A-Za-z]*|[DWM])\s*\)")


def find_action(text: str) -> tuple[str | None, int, str | None]:
    """(the one direction the words say, index of the word after it, the words) in free text.

    (None, -1, None) when no action word is there; AlertError when the words disagree.
    """
    words = [w.lower() for w in re.findall(r"[A-Za-z_]+|[^\sA-Za-z_]+", text)]
    found: list[tuple[str | None, int, str]] = []
    i = 0
    while i < len(words):
        pair = tuple(words[i:i + 2])
        if pair in _PHRASES:
            found.append((_PHRASES[pair], i + 2, " ".join(pair)))
            i += 2
        elif words[i] in _WORDS:
            found.append((_WORDS[words[i]], i + 1, words[i]))
            i += 1
        else:
            i += 1
    if not found:
        return None, -1, None
    said = ", ".join(repr(w) for _, _, w in found)
    directions = {direction for direction, _, _ in found}
    if None in directions:
        raise AlertError(f"cannot read the text alert: {found[0][2]!r} does not say long or short",
                         read=Draft(action_text=said).read(), hint="Send separate Open Long and Open Short alerts.")
    if len(directions) > 1:
        raise AlertError(f"cannot read the text alert: it says {said}, which disagree",
                         read=Draft(action_text=said).read(),
                         hint="Send one action per alert: buy, sell or close.")
    direction, after, word = found[0]
    return direction, _word_index_to_char(text, after), word


def _word_index_to_char(text: str, index: int) -> int:
    """Where the index-th word (as find_action splits) starts in text, so the ticker after it can be found."""
    spans = [m.start() for m in re.finditer(r"[A-Za-z_]+|[^\sA-Za-z_]+", text)]
    return spans[index] if index < len(spans) else len(text)


# Indicators whose names hold an action word: "Chandelier Exit Buy" is a buy, "Long Short Ratio
# Sell" a sell. Their names are taken out before the action is looked for; a trader adds more
# with NOVALGO_INDICATOR_NAMES (README, "Alert messages"). A known name followed by no action
# is refused rather than read as its inner word.
KNOWN_INDICATORS = ("Chandelier Exit", "Long Short Ratio", "Long/Short Ratio", "Buy Sell Pressure",
                    "Buy/Sell Pressure", "Buy Sell Volume", "Buy/Sell Volume")


def _indicator_patterns(indicator_names: Iterable[str]) -> Iterator[tuple[str, re.Pattern]]:
    for name in (*KNOWN_INDICATORS, *indicator_names):
        words = [re.escape(word) for word in re.split(r"[\s/_-]+", name.strip()) if word]
        if words:
            yield name.strip(), re.compile(r"(?<![A-Za-z0-9])" + r"[\s/_-]*".join(words) + r"(?![A-Za-z0-9])",
                                           re.IGNORECASE)


def names_indicator(text: str, indicator_names: Iterable[str] = ()) -> bool:
    """Whether the text holds a known indicator's name (then it is no plain 'ACTION SYMBOL')."""
    return any(pattern.search(text) for _, pattern in _indicator_patterns(indicator_names))


def indicator_text(text: str, indicator_names: Iterable[str] = ()) -> Draft | None:
    """An indicator's alert text, with the known indicator names taken out first."""
    named = None
    for name, pattern in _indicator_patterns(indicator_names):
        if pattern.search(text):
            named = named or name
            text = pattern.sub(" ", text)
    draft = _indicator_text(text)
    if draft is None and named is not None:
        raise AlertError(f"cannot read the text alert: {named!r} is an indicator's name and no action follows it",
                         read=Draft().read(), hint=f"Write the action after the name: '{named} Buy {{{{ticker}}}}'.")
    return draft


def _indicator_text(text: str) -> Draft | None:
    direction, after, word = find_action(text)
    if direction is None:
        return None
    draft = Draft(action=direction, action_text=word)
    if _NEGATION.search(text):  # "Don't buy AAPL" must not buy
        raise AlertError("cannot read the text alert: it contains a negation", read=draft.read(),
                         hint="Send the action plainly, e.g. 'BUY AAPL 15'.")
    tickers: dict[str, tuple[str | None, str]] = {}
    for match in _TICKER_AT_PRICE.finditer(text):
        tickers.setdefault(match["ticker"].upper(), (match["exchange"], match["ticker"]))
        draft.price = draft.price or match["price"]
    for match in _EXCHANGE_TICKER.finditer(text):
        tickers.setdefault(match["ticker"].upper(), (match["exchange"], match["ticker"]))
    intervals = []
    if not tickers:
        following = [t.strip("!.,:;") for t in text[after:].split()]
        following = [t for t in following if t and t.lower() not in _FILLERS]
        if following and _UPPER_TICKER.match(following[0]) and following[0].lower() not in ACTION_WORDS:
            tickers[following[0]] = (None, following[0])
            # "Buy signal on AAPL 15": a bare interval after the ticker is the chart's, never dropped.
            intervals = [t for t in following[1:] if _BARE_INTERVAL.match(t)]
    if len(tickers) > 1:
        raise AlertError(f"cannot read the text alert: it names more than one ticker ({', '.join(sorted(tickers))})",
                         read=draft.read(), hint="Send one ticker per alert.")
    if not tickers:
        raise AlertError(f"cannot read the text alert: found {word!r} but no ticker", read=draft.read(),
                         hint=TICKER_HINT)
    draft.exchange, draft.symbol = next(iter(tickers.values()))
    interval = _INTERVAL.search(text)
    draft.timeframe = interval.group(1) if interval else (intervals[0] if intervals else None)
    if not interval and len(intervals) > 1:
        raise AlertError(f"cannot read the text alert: which of {', '.join(intervals)} is the interval?",
                         read=draft.read(), hint="Put the interval in brackets, e.g. '(15)', or send JSON.")
    return draft
