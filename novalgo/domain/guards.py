"""Guard rails as rules: when a row may open, when it is flattened, and what the account allows.

Per row (optional Config columns): ``Trading Hours`` (``09:45-15:30``, US/Eastern unless a zone
follows), ``Flatten At`` (``15:55``) and ``Max Trades/Day`` (``3``). Account-wide (the Settings
tab and the same names as environment variables): ``trading`` on/off, ``max daily loss``
(``500`` or ``2%``), ``flatten on max loss``, ``max open positions``, ``max exposure``.

Only entries (a plan that opens or adds) are ever refused: closes and exits always go. Each
refusal is a sentence the trader can act on. The exchange's day (``Session``: its close, or no
trading at all, from the broker's calendar) is an argument: a stock row's Trading Hours admit
entries only on a trading day before its close, and a row is flattened, and stops entering, at
one time per day (``effective_flatten``), earlier on an early-close day. A cell that cannot be read is a ValueError naming
the column, never a silent default. Pure: the engine gathers counts, equity and positions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from novalgo.domain.cells import yes_no
from novalgo.domain.config_rows import FLATTEN_AT, MAX_TRADES, TRADING_HOURS
from novalgo.domain.money import parse_dollars

# The trading day, the default zone of a row's times and the day of Max Trades/Day: US markets'.
EASTERN = ZoneInfo("America/New_York")
_ZONE_ALIASES = {"ET": "America/New_York", "EST": "America/New_York", "EDT": "America/New_York",
                 "CT": "America/Chicago", "CST": "America/Chicago", "CDT": "America/Chicago",
                 "PT": "America/Los_Angeles", "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles",
                 "UTC": "UTC", "GMT": "UTC"}
REGULAR_CLOSE = time(16, 0)  # New York: a session that ends before it is an early close
EARLY_CLOSE_MARGIN = timedelta(minutes=5)  # a close sent later would wait for the next open
_CLOCK = re.compile(r"^(\d{1,2}):?(\d{2})$")
_RANGE = re.compile(r"^\s*(\S+)\s*(?:-|–|—|to)\s*(\S+)(?:\s+(\S+))?\s*$", re.IGNORECASE)

# The Settings tab's names (found loosely: case, spaces and underscores do not matter).
TRADING, MAX_DAILY_LOSS, FLATTEN_ON_MAX_LOSS = "trading", "max daily loss", "flatten on max loss"
MAX_OPEN_POSITIONS, MAX_EXPOSURE = "max open positions", "max exposure"
ACCOUNT_SETTINGS = (TRADING, MAX_DAILY_LOSS, FLATTEN_ON_MAX_LOSS, MAX_OPEN_POSITIONS, MAX_EXPOSURE)
SETTING, VALUE = "Setting", "Value"



# -- per row -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TradingHours:
    """Entries only from ``start`` up to (not including) ``end``, in ``zone``; may wrap past midnight."""

    start: time
    end: time
    zone: tzinfo = EASTERN

    def contains(self, moment: datetime) -> bool:
        now = moment.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    @property
    def text(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {_zone_name(self.zone)}"


@dataclass(frozen=True)
class FlattenAt:
    """Close the row's position at ``at`` (in ``zone``) each trading day."""

    at: time
    zone: tzinfo = EASTERN

    def day(self, moment: datetime) -> date:
        """The row's own calendar day at ``moment`` (the day a flatten belongs to)."""
        return moment.astimezone(self.zone).date()

    def due(self, moment: datetime) -> bool:
        """At or after the flatten time on the row's day (until its midnight)."""
        return moment.astimezone(self.zone).time().replace(tzinfo=None) >= self.at

    @property
    def text(self) -> str:
        return f"{self.at:%H:%M} {_zone_name(self.zone)}"


@dataclass(frozen=True)
class RowGuards:
    hours: TradingHours | None = None
    flatten_at: FlattenAt | None = None
    max_trades: int | None = None

    @property
    def any(self) -> bool:
        return any(g is not None for g in (self.hours, self.flatten_at, self.max_trades))

    def describe(self) -> list[str]:
        """One phrase per guard in force, for `novalgo check`."""
        said = []
        if self.hours:
            said.append(f"entries {self.hours.text}")
        if self.flatten_at:
            said.append(f"flatten at {self.flatten_at.text}")
        if self.max_trades is not None:
            said.append(f"at most {self.max_trades} entries a day")
        return said


def row_guards(options: Mapping[str, str]) -> RowGuards:
    """The guards in a row's optional cells (``ConfigRow.options``); ValueError naming the column."""
    hours = options.get(TRADING_HOURS, "").strip()
    flatten = options.get(FLATTEN_AT, "").strip()
    trades = options.get(MAX_TRADES, "").strip()
    return RowGuards(parse_trading_hours(hours) if hours else None,
                     parse_flatten_at(flatten) if flatten else None,
                     parse_max_trades(trades) if trades else None)


def parse_trading_hours(text: str) -> TradingHours:
    """``09:45-15:30`` (US/Eastern) or ``08:00-16:30 Europe/London``."""
    match = _RANGE.match(text)
    if not match:
        raise ValueError(f"{TRADING_HOURS} {text!r} is not a time range: write it like 09:45-15:30 "
                         "(US/Eastern) or 08:00-16:30 Europe/London")
    start, end = _clock(match.group(1), TRADING_HOURS, text), _clock(match.group(2), TRADING_HOURS, text)
    if start == end:
        raise ValueError(f"{TRADING_HOURS} {text!r} starts and ends at the same minute")
    return TradingHours(start, end, _zone(match.group(3), TRADING_HOURS, text))


def parse_flatten_at(text: str) -> FlattenAt:
    """``15:55`` (US/Eastern) or ``15:55 Europe/London``."""
    parts = text.split()
    if not 1 <= len(parts) <= 2:
        raise ValueError(f"{FLATTEN_AT} {text!r} is not a time: write it like 15:55 (US/Eastern)")
    return FlattenAt(_clock(parts[0], FLATTEN_AT, text), _zone(parts[1] if len(parts) > 1 else None, FLATTEN_AT, text))


def parse_max_trades(text: str) -> int:
    return parse_count(text, MAX_TRADES)


@dataclass(frozen=True)
class Session:
    """The exchange on one US/Eastern date: when regular trading ends (None: it does not trade that
    day) and what said so (shown in a refusal)."""

    day: date
    close: datetime | None
    source: str = "Alpaca's calendar"


def weekday_session(day: date, source: str = "Mon-Fri, 09:30-16:00 ET") -> Session:
    """The stand-in for a calendar: weekdays close at 16:00 ET, weekends do not trade."""
    return Session(day, datetime.combine(day, REGULAR_CLOSE, EASTERN) if weekday(day) else None, source)


def effective_flatten(at: FlattenAt | None, close: datetime | None, moment: datetime) -> datetime | None:
    """When a row with Flatten At is flattened on ``moment``'s day, and stops entering: its own time,
    or 5 minutes before the session's close when that close is early (before 16:00 ET) and comes first.
    ``close`` is that day's (None: no calendar applies, as for crypto, or no trading)."""
    if at is None:
        return None
    own = datetime.combine(at.day(moment), at.at, at.zone)
    if close is not None and close.astimezone(EASTERN).time() < REGULAR_CLOSE:
        return min(own, close - EARLY_CLOSE_MARGIN)
    return own


def flatten_due(at: FlattenAt | None, close: datetime | None, moment: datetime) -> bool:
    """Has the row's day reached its effective flatten time (the schedule closes, entries stop)?"""
    when = effective_flatten(at, close, moment)
    return when is not None and moment >= when


def hours_refusal(guards: RowGuards, moment: datetime, session: Session | None,
                  extended_hours: bool = False) -> str | None:
    """Why an entry may not go now by the row's clock (Trading Hours, Flatten At) and the exchange's
    day, or None. ``session``: the exchange on ``moment``'s US/Eastern date; None where no calendar
    applies (crypto trades every day). ``extended_hours``: the row trades after the close too."""
    if guards.hours and session is not None and session.close is None:
        return f"{day_text(session.day)} is not a trading day ({session.source}): entries are skipped"
    if guards.hours and not guards.hours.contains(moment):
        local = moment.astimezone(guards.hours.zone)
        return f"outside the row's Trading Hours {guards.hours.text} (it is {local:%H:%M}): entries are skipped"
    close = session.close if session is not None else None
    at = guards.flatten_at
    if at is not None and flatten_due(at, close, moment):
        if session is not None and close is not None and not at.due(moment):  # only the early close has come
            stop = effective_flatten(at, close, moment) or close
            return (f"the market closes early at {close.astimezone(EASTERN):%H:%M} ET on {day_text(session.day)} "
                    f"({session.source}): the row is flattened and entries stopped at "
                    f"{stop.astimezone(EASTERN):%H:%M} ET; no new entries until the next trading day")
        return f"after the row's Flatten At {at.text}: no new entries until tomorrow"
    if guards.hours and session is not None and close is not None and not extended_hours and moment >= close:
        return (f"after the market's close at {close.astimezone(EASTERN):%H:%M} ET on {day_text(session.day)} "
                f"({session.source}): entries are skipped until the next trading day")
    return None


def day_text(day: date) -> str:
    """``Saturday 12 Dec``: a day as a trader says it."""
    return f"{day:%A} {day.day} {day:%b}"


def trades_refusal(guards: RowGuards, entries_today: int) -> str | None:
    """Why the row may not enter again today, or None; the entry that reaches the cap may go."""
    if guards.max_trades is not None and entries_today >= guards.max_trades:
        return (f"Max Trades/Day {guards.max_trades} reached ({entries_today} "
                f"entr{'y' if entries_today == 1 else 'ies'} today, US/Eastern): entries resume tomorrow")
    return None


# -- the trading day ---------------------------------------------------------------------------

def trading_day(moment: datetime) -> date:
    """The US/Eastern date: the day counts, loss limits and flattens belong to."""
    return moment.astimezone(EASTERN).date()


def day_start(day: date, zone: tzinfo = EASTERN) -> datetime:
    """Midnight opening ``day`` in ``zone``."""
    return datetime.combine(day, time(0), zone)


def weekday(day: date) -> bool:
    """Mon–Fri: a stand-in for the exchange calendar when the broker offers none."""
    return day.weekday() < 5


# -- account-wide ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LossLimit:
    """``$500``, or ``2%`` of the day's starting equity."""

    amount: Decimal
    percent: bool

    def dollars(self, start_equity: Decimal) -> Decimal:
        return start_equity * self.amount / 100 if self.percent else self.amount

    @property
    def text(self) -> str:
        return f"{_plain(self.amount)}%" if self.percent else f"${_plain(self.amount)}"


@dataclass(frozen=True)
class AccountGuards:
    """The account's limits; None means "not set here" (the other source or no limit applies)."""

    trading: bool | None = None
    max_daily_loss: LossLimit | None = None
    flatten_on_max_loss: bool | None = None
    max_open_positions: int | None = None
    max_exposure: Decimal | None = None
    also_loss: LossLimit | None = None  # a second limit of the other kind, when both sources set one

    @property
    def loss_limits(self) -> tuple[LossLimit, ...]:
        return tuple(limit for limit in (self.max_daily_loss, self.also_loss) if limit is not None)

    @property
    def paused(self) -> bool:
        return self.trading is False

    @property
    def needs_account(self) -> bool:
        return any(v is not None for v in (self.max_daily_loss, self.max_open_positions, self.max_exposure))

    def describe(self) -> list[str]:
        """One phrase per guard in force, for `novalgo check` and /health."""
        said = ["trading off: entries are paused" if self.paused else "trading on"]
        if self.loss_limits:
            flatten = ", then flatten everything" if self.flatten_on_max_loss else ""
            said.append(f"max daily loss {' or '.join(limit.text for limit in self.loss_limits)}{flatten}")
        if self.max_open_positions is not None:
            said.append(f"max open positions {self.max_open_positions}")
        if self.max_exposure is not None:
            said.append(f"max exposure ${_plain(self.max_exposure)}")
        return said


def stricter(a: AccountGuards, b: AccountGuards) -> AccountGuards:
    """Both sources at once: either may pause or tighten, neither loosens the other."""
    def least(x, y):
        return y if x is None else x if y is None else min(x, y)

    def either(x, y):
        return None if x is None and y is None else bool(x or y)

    limits = [limit for g in (a, b) for limit in g.loss_limits]
    kept: list[LossLimit] = []
    for percent in (False, True):  # the lower of each kind; dollars and percent both apply
        same = [limit for limit in limits if limit.percent == percent]
        if same:
            kept.append(min(same, key=lambda limit: limit.amount))
    trading = None if a.trading is None and b.trading is None else (a.trading is not False and b.trading is not False)
    return AccountGuards(trading, kept[0] if kept else None, either(a.flatten_on_max_loss, b.flatten_on_max_loss),
                         least(a.max_open_positions, b.max_open_positions), least(a.max_exposure, b.max_exposure),
                         kept[1] if len(kept) > 1 else None)


def loss_tripped(equity: Decimal, start_equity: Decimal, limits: Sequence[LossLimit]) -> str | None:
    """The trip sentence when the day's P&L has reached a limit, else None."""
    pnl = equity - start_equity
    for limit in limits:
        allowed = limit.dollars(start_equity)
        if pnl <= -allowed:
            return (f"max daily loss reached: the account is down ${_money(-pnl)} today (limit {limit.text}"
                    f"{f' = ${_money(allowed)}' if limit.percent else ''}, from ${_money(start_equity)} at the "
                    "previous close): entries stop until the next trading day")
    return None


def positions_refusal(guards: AccountGuards, held: int, opens_new: bool) -> str | None:
    if guards.max_open_positions is not None and opens_new and held + 1 > guards.max_open_positions:
        return (f"max open positions {guards.max_open_positions} reached ({held} open): "
                "an entry in a new symbol is skipped")
    return None


def exposure_refusal(guards: AccountGuards, gross: Decimal, added: Decimal | None) -> str | None:
    """Gross market value after the entry against ``max exposure`` (unknown size: now against it)."""
    if guards.max_exposure is None:
        return None
    after = gross + (added or Decimal(0))
    if after > guards.max_exposure or (added is None and gross >= guards.max_exposure):
        grown = f" + ${_money(added)} = ${_money(after)}" if added else ""
        return (f"max exposure ${_plain(guards.max_exposure)} would be passed (${_money(gross)} held{grown}): "
                "the entry is skipped")
    return None


def parse_loss_limit(text: str, name: str = MAX_DAILY_LOSS) -> LossLimit:
    cleaned = str(text).strip().replace("$", "").replace(",", "").replace(" ", "")
    percent = cleaned.endswith("%")
    try:
        amount = Decimal(cleaned.rstrip("%"))
    except InvalidOperation:
        raise ValueError(f"{name} {text!r} is not dollars (500) or a percent (2%)") from None
    if not amount.is_finite() or amount <= 0 or (percent and amount >= 100):
        raise ValueError(f"{name} {text!r} must be above zero{' and below 100%' if percent else ''}")
    return LossLimit(amount, percent)


def parse_on_off(text: str, name: str) -> bool:
    return yes_no(text, f"{name} {text!r} must be on or off", also_yes={"enabled"},
                  also_no={"disabled", "paused", "pause"})


def parse_count(text: str, name: str) -> int:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value != value.to_integral_value():
        raise ValueError(f"{name} {text!r} must be a whole number (0 or more)")
    return int(value)


def account_guards(values: Mapping[str, str]) -> tuple[AccountGuards, list[str]]:
    """The guards named in ``values`` (setting name → text; empty text is "not set"), and the
    problems of cells that could not be read (those settings are then left unset)."""
    readers = {TRADING: lambda t: parse_on_off(t, TRADING), MAX_DAILY_LOSS: parse_loss_limit,
               FLATTEN_ON_MAX_LOSS: lambda t: parse_on_off(t, FLATTEN_ON_MAX_LOSS),
               MAX_OPEN_POSITIONS: lambda t: parse_count(t, MAX_OPEN_POSITIONS),
               MAX_EXPOSURE: lambda t: parse_dollars(t, MAX_EXPOSURE)}
    found: dict[str, object] = {}
    problems: list[str] = []
    for name, read in readers.items():
        text = str(values.get(name, "")).strip()
        if not text:
            continue
        try:
            found[name.replace(" ", "_")] = read(text)
        except ValueError as e:
            problems.append(str(e))
    return AccountGuards(**found), problems


def parse_settings_tab(values: Sequence[Sequence[str]]) -> tuple[AccountGuards, list[str]]:
    """The Settings tab's cells (a ``Setting`` and a ``Value`` column, found by header) read into guards.

    A cell that cannot be read is a problem and leaves that setting unset. Pausing with
    ``trading`` must never be lost to a typo, so an unreadable ``trading`` cell pauses.
    """
    if not values:
        return AccountGuards(), []
    header = [_fold(cell) for cell in values[0]]
    if _fold(SETTING) not in header or _fold(VALUE) not in header:
        return AccountGuards(), [f"the Settings tab needs a {SETTING} and a {VALUE} column in its first row"]
    name_at, value_at = header.index(_fold(SETTING)), header.index(_fold(VALUE))
    wanted = {_fold(name): name for name in ACCOUNT_SETTINGS}
    cells: dict[str, str] = {}
    for row in values[1:]:
        name = wanted.get(_fold(row[name_at])) if name_at < len(row) else None
        if name and name not in cells:
            cells[name] = str(row[value_at]).strip() if value_at < len(row) else ""
    guards, problems = account_guards(cells)
    if cells.get(TRADING) and guards.trading is None:
        guards = replace(guards, trading=False)
        problems = [p + ": entries are paused until it reads on or off" if p.startswith(TRADING) else p
                    for p in problems]
    return guards, problems


# -- helpers -----------------------------------------------------------------------------------

def _clock(text: str, column: str, whole: str) -> time:
    match = _CLOCK.match(text.strip())
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ValueError(f"{column} {whole!r}: {text!r} is not a 24-hour time like 09:45")


def _zone(text: str | None, column: str, whole: str) -> tzinfo:
    if not text:
        return EASTERN
    name = _ZONE_ALIASES.get(text.upper(), text)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{column} {whole!r}: {text!r} is not a time zone (e.g. America/New_York)") from None


def _zone_name(zone: tzinfo) -> str:
    return "US/Eastern" if zone is EASTERN or getattr(zone, "key", "") == "America/New_York" else str(
        getattr(zone, "key", zone))


def _plain(value: Decimal) -> str:
    return format((value + 0).normalize(), "f")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _fold(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())
