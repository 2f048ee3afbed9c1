"""Commands from a phone (Telegram, Slack): a line read into a ``Command``, answers said in a few
short lines. Pure: no I/O and no clock; what the answers show comes in as arguments.

Telegram sends ``/pause AAPL`` (or ``/pause@NovAlgoBot AAPL`` in a group); Slack's slash command
sends only what follows ``/novalgo`` (``pause AAPL``). Both read the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Sequence

from novalgo.domain.money import cents, plain
from novalgo.domain.symbols import normalize_symbol

STATUS, POSITIONS, PNL, ALERTS, PAUSE, RESUME, FLATTEN, HELP = (
    "status", "positions", "pnl", "alerts", "pause", "resume", "flatten", "help")
VERBS = (STATUS, POSITIONS, PNL, ALERTS, PAUSE, RESUME, FLATTEN, HELP)
ACTIONS = frozenset({PAUSE, RESUME, FLATTEN})  # they change what the bot does: listed people only
CONFIRM = "confirm"
CONFIRM_WINDOW = 60.0  # seconds a /flatten waits for its /flatten confirm
DEFAULT_ALERTS, MAX_ALERTS = 5, 20
MAX_DAYS = 3650
REASON_WIDTH = 90  # characters of an alert's reason shown on a phone
_ALIASES = {"start": HELP, "pos": POSITIONS, "p&l": PNL, "stop": PAUSE}

_HELP = (
    (STATUS, "", "trading on/off, each row, today's P&L"),
    (POSITIONS, "", "what the account holds"),
    (PNL, " [days]", "realised P&L (FIFO): today, or the last N days"),
    (ALERTS, " [n]", "the last alerts and what became of them"),
    (PAUSE, " [symbol]", "stop new entries: all (Settings tab), or one symbol's rows (Active)"),
    (RESUME, " [symbol]", "take entries again"),
    (FLATTEN, " [symbol]", "close everything, or one symbol; asks you to confirm"),
    (HELP, "", "this list"),
)


@dataclass(frozen=True)
class Command:
    verb: str
    symbol: str | None = None
    number: int | None = None  # /pnl's days, /alerts' count
    confirm: bool = False  # /flatten confirm
    problem: str = ""  # why the line was not understood: the answer says it, then the list


def parse_command(text: str) -> Command:
    """Read one chat line; anything not understood is HELP with the problem said."""
    words = (text or "").strip().split()
    if not words:
        return Command(HELP)
    word = words[0].lstrip("/").split("@", 1)[0].lower()
    verb = _ALIASES.get(word, word)
    args = words[1:]
    if verb not in VERBS:
        return Command(HELP, problem=f"I don't know {words[0]!r}.")
    if verb in (STATUS, POSITIONS, HELP):
        return Command(verb)
    if verb == PNL:
        return _with_number(verb, args, 1, MAX_DAYS, "days")
    if verb == ALERTS:
        return _with_number(verb, args, DEFAULT_ALERTS, MAX_ALERTS, "alerts")
    confirm = any(a.lower() == CONFIRM for a in args)
    names = [a for a in args if a.lower() != CONFIRM]
    if confirm and verb != FLATTEN:
        return Command(HELP, problem=f"Only {FLATTEN} asks to confirm.")
    if len(names) > 1:
        return Command(HELP, problem=f"{verb} takes one symbol at most.")
    try:
        symbol = normalize_symbol(names[0]) if names else None
    except ValueError as e:
        return Command(HELP, problem=f"{names[0]!r} is not a symbol ({e}).")
    return Command(verb, symbol=symbol, confirm=confirm)


def _with_number(verb: str, args: Sequence[str], default: int, high: int, what: str) -> Command:
    if not args:
        return Command(verb, number=default)
    try:
        number = int(args[0])
    except ValueError:
        return Command(HELP, problem=f"{verb} takes a number of {what}, not {args[0]!r}.")
    if not 1 <= number <= high:
        return Command(HELP, problem=f"{verb} takes 1 to {high} {what}.")
    return Command(verb, number=number)


def help_text(prefix: str = "/", problem: str = "") -> str:
    """The commands, one a line, as the chat types them (``/`` or ``/novalgo ``)."""
    lines = [problem] if problem else []
    lines += [f"{prefix}{verb}{args} – {what}" for verb, args, what in _HELP]
    return "\n".join(lines)


# -- what the answers show ------------------------------------------------------------------


@dataclass(frozen=True)
class RowLine:
    """One Config row as /status shows it."""

    label: str  # "AAPL 15 Min"
    active: bool
    status: str  # the newest Order Status
    held: Decimal  # the symbol's position (signed), shared by the symbol's rows
    open_orders: int  # our orders for the symbol the broker may still fill


@dataclass(frozen=True)
class Holding:
    symbol: str
    qty: Decimal  # negative for a short
    avg_price: Decimal
    market_value: Decimal | None = None
    unrealized: Decimal | None = None


@dataclass(frozen=True)
class PnlLine:
    symbol: str
    pnl: Decimal
    trades: int
    wins: int


@dataclass(frozen=True)
class AlertLine:
    at: datetime  # in the zone the answer shows
    action: str
    symbol: str
    timeframe: str
    status: str
    reason: str = ""
    source: str = ""  # "chat", "schedule", ... for the leader's own alerts


def signed_money(value: Decimal) -> str:
    """+$1,250.50 / -$12.30 / $0.00, to the cent."""
    amount = cents(value)
    text = f"${abs(amount):,.2f}"
    return f"+{text}" if amount > 0 else f"-{text}" if amount < 0 else text


def money(value: Decimal) -> str:
    amount = cents(value)
    return f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}"


def held_text(qty: Decimal) -> str:
    return "flat" if qty == 0 else f"long {plain(qty)}" if qty > 0 else f"short {plain(-qty)}"


def status_text(paused: Sequence[str], rows: Sequence[RowLine], pnl_today: Decimal, trades_today: int,
                note: str = "") -> str:
    """/status: trading on or off (and why off), a line per row, today's realised P&L; ``note``
    last (how old the positions are, say)."""
    lines = ["Trading: OFF – " + "; ".join(paused) if paused else "Trading: ON"]
    for row in rows:
        parts = [held_text(row.held)]
        if row.open_orders:
            parts.append(f"{row.open_orders} open order{'s' if row.open_orders != 1 else ''}")
        parts.append(row.status or "no status yet")
        if not row.active:
            parts.append("paused (not active)")
        lines.append(f"{row.label}: {', '.join(parts)}")
    if not rows:
        lines.append("No rows in the Config tab.")
    lines.append(f"Today: {signed_money(pnl_today)} realised ({trades_today} trade{'s' if trades_today != 1 else ''})")
    if note:
        lines.append(note)
    return "\n".join(lines)


def positions_text(holdings: Sequence[Holding], note: str = "") -> str:
    """/positions: one line a symbol held."""
    lines = []
    for h in sorted(holdings, key=lambda h: h.symbol):
        if h.qty == 0:
            continue
        line = f"{h.symbol}: {held_text(h.qty)} @ {money(h.avg_price)}"
        if h.market_value is not None:
            line += f", worth {money(abs(h.market_value))}"
        if h.unrealized is not None:
            line += f", open P&L {signed_money(h.unrealized)}"
        lines.append(line)
    lines = lines or ["Nothing held."]
    if note:
        lines.append(note)
    return "\n".join(lines)


def pnl_text(days: int, lines: Sequence[PnlLine]) -> str:
    """/pnl: the total realised, then each symbol (biggest move first)."""
    when = "today" if days == 1 else f"the last {days} days"
    total = sum((line.pnl for line in lines), Decimal(0))
    trades = sum(line.trades for line in lines)
    wins = sum(line.wins for line in lines)
    if not trades:
        return f"Realised P&L {when}: no closed trades."
    out = [f"Realised P&L {when}: {signed_money(total)} ({trades} trade{'s' if trades != 1 else ''}, {wins} won)"]
    for line in sorted(lines, key=lambda line: (-abs(line.pnl), line.symbol)):
        if line.trades:
            out.append(f"{line.symbol}: {signed_money(line.pnl)} ({line.trades})")
    return "\n".join(out)


def alerts_text(alerts: Sequence[AlertLine]) -> str:
    """/alerts: newest first, one line each, the reason cut to fit."""
    if not alerts:
        return "No alerts yet."
    lines = []
    for a in alerts:
        line = f"{a.at:%m-%d %H:%M} {(a.action or '?').upper()} {a.symbol or '?'} {a.timeframe or ''}".rstrip()
        if a.source:
            line += f" ({a.source})"
        line += f": {a.status}"
        if a.reason:
            reason = a.reason if len(a.reason) <= REASON_WIDTH else a.reason[:REASON_WIDTH - 1] + "…"
            line += f" – {reason}"
        lines.append(line)
    return "\n".join(lines)


def flatten_question(symbol: str | None, what: Sequence[str], confirm_with: str) -> str:
    """What /flatten asks before it closes anything."""
    target = symbol or "everything"
    held = f" (held: {', '.join(what)})" if what else " (nothing is held now)"
    return f"Close {target}{held}? Send {confirm_with} within {CONFIRM_WINDOW:.0f} s."


def confirmed_in_time(asked_at: float | None, now: float, window: float = CONFIRM_WINDOW) -> bool:
    """Whether a confirmation at ``now`` answers a question asked at ``asked_at``."""
    return asked_at is not None and 0 <= now - asked_at <= window
