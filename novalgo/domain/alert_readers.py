"""Which reader reads a body, and what to do when two read it differently.

JSON: a dialect named for its source (``alert_bridges``) reads a body it claims by its own keys;
otherwise the JSON reader (``alert_json``: NovAlgo, TradingView placeholders, 3Commas,
TradersPost) reads it, and where that finds no action or no symbol, the general reader
(``alert_general``) looks for them by name at any depth. Text: the strict shapes first
(TradingView's default strategy message, PineConnector, plain ``BUY AAPL 15``), then the
command languages of other bridges (``alert_commands``), then indicator texts.

When two dialects claim one body and read it differently, it is refused naming both readings.
"""

from __future__ import annotations

from typing import Any, Iterable

from novalgo.domain import alert_commands, alert_text
from novalgo.domain.alert_bridges import JSON_DIALECTS
from novalgo.domain.alert_general import read_general
from novalgo.domain.alert_json import NotFound, read_fields
from novalgo.domain.alert_parts import Draft
from novalgo.domain.alert_text import TEXT_SECRET
from novalgo.errors import AlertError

# What `novalgo try` says read the body.
READER_NAMES = {
    "json": "JSON (NovAlgo, TradingView placeholders, 3Commas, TradersPost)",
    "general": "JSON, fields found by name at any depth",
    "PickMyTrade": "PickMyTrade",
    "Tickerly": "Tickerly",
    "tradingview-default": "TradingView's default strategy message",
    "PineConnector": "PineConnector",
    "plain": "plain text (ACTION SYMBOL [INTERVAL] [PRICE])",
    "Alertatron": "Alertatron",
    "Autoview": "Autoview",
    "key-value": "KEY=VALUE; text (OctoBot and alike)",
    "indicator": "indicator text",
}


def read_json(fields: dict[str, Any]) -> Draft:
    """The Draft in a JSON object, by the dialect that claims it or the JSON readers."""
    readings, missing = [], []
    for dialect in JSON_DIALECTS:
        if dialect.claims(fields):
            try:
                readings.append(dialect.read(fields))
            except NotFound as e:  # its keys, but not its trade: another reader may have it
                missing.append(e)
    if readings:
        return agreed(readings)
    if missing:
        raise missing[0]
    try:
        return read_fields(fields)
    except NotFound as missing:
        try:
            return read_general(fields)
        except NotFound:
            raise missing from None  # the JSON reader's words: what to add where


def read_text(text: str, pineconnector: bool = False, indicator_names: Iterable[str] = ()) -> Draft:
    """The Draft in a text body; AlertError when no reader can take it."""
    if pineconnector:
        return _named(alert_text.pineconnector(text, forced=True), "PineConnector")
    named = alert_text.names_indicator(text, indicator_names)
    for reader, name in ((alert_text.default_strategy_message, "tradingview-default"),
                         (alert_text.pineconnector, "PineConnector"), (alert_text.plain, "plain")):
        if named and reader is alert_text.plain:
            continue  # "Chandelier Exit AAPL" is not "ACTION SYMBOL"
        draft = reader(text)
        if draft is not None:
            return _named(draft, name)
    commands = TEXT_SECRET.sub("", text).strip()
    for command_reader in (alert_commands.alertatron, alert_commands.autoview):
        draft = command_reader(commands)
        if draft is not None:
            return draft
    pairs = alert_commands.key_value_pairs(commands)
    if pairs is not None:
        return _named(read_fields(pairs), "key-value")
    draft = alert_text.indicator_text(text, indicator_names)
    if draft is not None:
        return _named(draft, "indicator")
    return alert_text.unreadable(text)


def agreed(readings: list[Draft]) -> Draft:
    """The one reading when every reader agrees on the trade; AlertError naming them when not."""
    first = readings[0]
    for other in readings[1:]:
        if (other.action, str(other.symbol).upper()) != (first.action, str(first.symbol).upper()):
            raise AlertError(
                f"readers disagree: as {first.reader} it is {first.action} {first.symbol}, "
                f"as {other.reader} it is {other.action} {other.symbol}",
                read=first.read(), hint="Keep one bridge's fields in the message and remove the other's.")
    return first


def _named(draft: Draft, name: str) -> Draft:
    draft.reader = name
    return draft
