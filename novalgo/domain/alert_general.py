"""The general JSON reader: the trade's fields found by their usual names, wherever they sit.

Used when the JSON reader (``alert_json``) finds no action or no symbol where it looks, so the
next unknown dialect is likely read too. Keys are matched whatever their case and style
(``strategy-order-action``, ``strategyOrderAction``, ``Strategy Order Action`` and
``strategy_order_action`` are one key), and fields inside the objects traders wrap a trade in
(``data``, ``order``, ``signal``, ``payload``, ``alert``, ``strategy``, at any depth) are lifted to
the top. The lifted fields are then read by the JSON reader itself, so every rule it has (the
position after the order wins, exits by kind, placeholders) holds here too.

Two fields that say different things under the same name, or two action fields that disagree,
are refused naming both: a guess between them would be a trade nobody asked for.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from novalgo.domain.alert_json import ACTION_KEYS, TRADE_KEYS, NotFound, read_fields
from novalgo.domain.alert_parts import ACTION_WORDS, Draft, absent
from novalgo.errors import AlertError

# Objects a trade is wrapped in: their name is not part of the field's name.
CONTAINERS = frozenset({"data", "order", "signal", "payload", "alert", "strategy", "strategy_info", "trade",
                        "params", "body", "message", "content"})
_MAX_DEPTH = 8
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def key_name(key: Any) -> str:
    """A key in snake_case whatever its style: ``orderAction``, ``order-action``, ``Order Action``."""
    return "_".join(re.findall(r"[a-z0-9]+", _CAMEL.sub(r"\1_\2", str(key).strip()).lower()))


def read_general(fields: dict[str, Any]) -> Draft:
    """The Draft in a body whose fields are nested or named in another style; NotFound if none."""
    lifted = lift(fields)
    _refuse_disagreeing_actions(lifted)
    draft = read_fields({key: value for key, (value, _) in lifted.items()})
    draft.reader = "general"
    return draft


def lift(fields: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """Every leaf under its snake_case name without its containers, with the path it came from.

    Shallower fields are taken first, so a top-level field wins over a nested copy; two copies of
    a field that decides the trade (action, symbol, interval, price, size) that differ are refused.
    """
    lifted: dict[str, tuple[Any, str]] = {}
    for path, value in _leaves(fields):
        names = [key_name(part) for part in path]
        kept = [name for name in names[:-1] if name not in CONTAINERS] + [names[-1]]
        for key in _names(kept):
            if key not in lifted:
                lifted[key] = (value, ".".join(str(p) for p in path))
            elif key in TRADE_KEYS and _differ(lifted[key][0], value):
                first, where = lifted[key]
                raise AlertError(
                    f"two fields named {key} disagree: {where} is {_show(first)}, {'.'.join(map(str, path))} "
                    f"is {_show(value)}", read=Draft().read(), hint="Send each field once.")
    return lifted


def _names(kept: list[str]) -> list[str]:
    """The dotted name, and without a leading ``strategy_`` (TradingView's placeholder prefix)."""
    name = ".".join(kept)
    names = [name]
    for prefix in ("strategy_info_", "strategy_"):
        if name.startswith(prefix) and len(name) > len(prefix):
            names.append(name[len(prefix):])
    return names


def _leaves(fields: dict[str, Any]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) for every value that is not an object, breadth first; lists are not entered."""
    level: list[tuple[tuple[str, ...], dict[str, Any]]] = [((), fields)]
    for _ in range(_MAX_DEPTH):
        deeper = []
        for path, obj in level:
            for key, value in obj.items():
                if isinstance(value, dict):
                    deeper.append((path + (str(key),), value))
                elif not isinstance(value, list):
                    yield path + (str(key),), value
        level = deeper


def _refuse_disagreeing_actions(lifted: dict[str, tuple[Any, str]]) -> None:
    said: dict[str, str] = {}
    for key in ACTION_KEYS:
        value, where = lifted.get(key, (None, ""))
        if value is None or absent(value) or isinstance(value, (dict, list)):
            continue
        word = ACTION_WORDS.get(str(value).strip().lower().replace(" ", "_").replace("-", "_"))
        if word is not None:
            said.setdefault(word, f"{where} {_show(value)}")
    if len(said) > 1:
        raise AlertError(f"the action fields disagree: {' but '.join(said.values())}",
                         read=Draft(action_text="/".join(said)).read(), hint="Send one action per alert.")


def _differ(a: Any, b: Any) -> bool:
    return str(a).strip().lower() != str(b).strip().lower()


def _show(value: Any) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:40] + "…")


__all__ = ["CONTAINERS", "NotFound", "key_name", "lift", "read_general"]
