"""The words of a live notification: one line per outcome, lines packed into one message per
channel, secrets scrubbed. Pure: the outbox (engine/outbox.py) stores and sends them.

A notice carries the narrowest channel level that wants it: ``trades`` (fills and exits),
``failures`` (FAILED, EXPIRED, guard trips, restarts, outages) or ``all`` (everything else);
a channel at ``all`` gets every notice.
"""

from __future__ import annotations

from typing import Iterable, Sequence
from urllib.parse import urlsplit

from novalgo.domain import statuses

TRADES, FAILURES, ALL = "trades", "failures", "all"
HIDDEN = "[hidden]"


def level_of(status: str) -> str:
    """Which channels an alert's outcome is for."""
    if status in (statuses.FILLED, statuses.PARTIAL) or status in statuses.EXITS:
        return TRADES
    if status in (statuses.FAILED, statuses.EXPIRED):
        return FAILURES
    return ALL


def wanted(channel_level: str, notice_level: str) -> bool:
    return channel_level == ALL or channel_level == notice_level


def outcome_line(symbol: str | None, timeframe: str | None, action: str | None, status: str,
                 qty: str | None, price: str | None, reason: str) -> str:
    """``AAPL 15m BUY: FILLED · qty 10 · price 189.5 · bought 10 at market``"""
    line = f"{symbol or '?'} {timeframe or '-'} {(action or '?').upper()}: {status} · qty {qty or '-'} · price {price or '-'}"
    return f"{line} · {reason}" if reason else line


def pack(lines: Sequence[str], limit: int, title: str = "NovAlgo") -> tuple[str, int]:
    """As many lines as fit in ``limit`` characters under a heading: (text, how many lines it holds).

    Always at least one line (cut to fit), so a long line can never stall a channel.
    """
    taken: list[str] = []
    size = 0
    for line in lines:
        heading = _heading(title, len(taken) + 1)
        if taken and len(heading) + size + len(line) + 1 > limit:
            break
        taken.append(line)
        size += len(line) + 1
    text = _heading(title, len(taken)) + "\n" + "\n".join(taken)
    return (text if len(text) <= limit else text[: limit - 1] + "…"), len(taken)


def _heading(title: str, count: int) -> str:
    return f"{title}: {count} notice{'s' if count != 1 else ''}"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret (and a secret URL's path, which holds its token) hidden."""
    for secret in sorted(_variants(secrets), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def _variants(secrets: Iterable[str]) -> set[str]:
    found = set()
    for secret in secrets:
        if not secret or len(secret) < 4:
            continue  # hiding "a" everywhere would garble the text and protect nothing
        found.add(secret)
        if "://" in secret:
            path = urlsplit(secret).path
            found |= {part for part in path.split("/") if len(part) >= 8}
    return found
