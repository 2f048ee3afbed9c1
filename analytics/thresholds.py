"""Threshold checks, and remembering which are already crossed so each is sent once.

A check yields a ``Breach`` with a stable key while its condition holds. A breach is
notified when its key first appears; it is forgotten when the condition clears, so the next
crossing is notified again. Keys carry what makes a crossing new (the symbol of an oversized
position, the newest failed alert).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from analytics import fmt
from analytics.config import Thresholds
from analytics.journal_view import JournalView
from novalgo.broker.base import Position
from novalgo.domain.money import HUNDRED


@dataclass(frozen=True)
class Breach:
    key: str
    message: str


def daily_loss(equity_now: Decimal, previous_close: Decimal | None, limit_pct: Decimal | None) -> Breach | None:
    """Equity down more than ``limit_pct`` since the previous day's close."""
    if limit_pct is None or not previous_close or previous_close <= 0:
        return None
    change = (equity_now / previous_close - 1) * HUNDRED
    if change > -limit_pct:
        return None
    return Breach("daily_loss", f"Daily loss {change:.2f}% (limit -{limit_pct}%): equity {fmt.money(equity_now)}, "
                                f"previous close {fmt.money(previous_close)}")


def drawdown(equity_now: Decimal, peak: Decimal | None, limit_pct: Decimal | None) -> Breach | None:
    """Equity more than ``limit_pct`` below its highest recorded value."""
    if limit_pct is None or not peak or peak <= 0:
        return None
    depth = (equity_now / peak - 1) * HUNDRED
    if depth > -limit_pct:
        return None
    return Breach("drawdown", f"Drawdown {depth:.2f}% from the peak {fmt.money(peak)} (limit -{limit_pct}%)")


def position_share(positions: list[Position], equity: Decimal, limit_pct: Decimal | None) -> list[Breach]:
    """Each position worth more than ``limit_pct`` of equity (shorts by their absolute value)."""
    if limit_pct is None or equity <= 0:
        return []
    out = []
    for p in positions:
        if p.market_value is None:
            continue
        share = abs(p.market_value) / equity * HUNDRED
        if share > limit_pct:
            out.append(Breach(f"position:{p.symbol}", f"{p.symbol} {p.side.lower()} is {share:.1f}% of equity "
                                                      f"({fmt.money(abs(p.market_value))}; limit {limit_pct}%)"))
    return out


def failed_orders(view: JournalView, enabled: bool, window_minutes: int) -> Breach | None:
    """Orders that failed in the last window; a newer failure is a new crossing."""
    if not enabled or not view.failed:
        return None
    newest = view.failed[-1]
    listed = "; ".join(f"{f.symbol}: {f.reason or 'no reason given'}" for f in view.failed[-3:])
    more = f" (+{len(view.failed) - 3} more)" if len(view.failed) > 3 else ""
    return Breach(f"failed:{newest.alert_id}",
                  f"{len(view.failed)} order(s) FAILED in the last {window_minutes} min: {listed}{more}")


def heartbeat(view: JournalView, now: datetime, limit_minutes: int | None) -> Breach | None:
    """The executor has not reported for longer than ``limit_minutes`` (or never has)."""
    if limit_minutes is None or not view.found:
        return None
    if view.heartbeat is None:
        return Breach("heartbeat", "The executor has never recorded a heartbeat: is the service running?")
    age = now - view.heartbeat
    if age <= timedelta(minutes=limit_minutes):
        return None
    return Breach("heartbeat", f"No executor heartbeat for {int(age.total_seconds() // 60)} min "
                               f"(limit {limit_minutes}): is the service running?")


def check_all(t: Thresholds, *, now: datetime, equity_now: Decimal | None, today: date,
              equity_history: list[tuple[date, Decimal]], positions: list[Position],
              journal: JournalView) -> list[Breach]:
    """Every configured check against the current account and journal.

    ``today`` is the day ``equity_now`` belongs to: the daily loss compares it with the last
    close before that day.
    """
    found: list[Breach | None] = []
    if equity_now is not None:
        before = [e for d, e in equity_history if d < today]
        found.append(daily_loss(equity_now, before[-1] if before else None, t.daily_loss_pct))
        peak = max([e for _, e in equity_history] + [equity_now])
        found.append(drawdown(equity_now, peak, t.drawdown_pct))
        found.extend(position_share(positions, equity_now, t.position_share_pct))
    found.append(failed_orders(journal, t.failed_orders, t.failed_window_minutes))
    found.append(heartbeat(journal, now, t.heartbeat_minutes))
    return [b for b in found if b is not None]


class CrossingState:
    """The keys already notified, kept in a small JSON file in the data dir."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text()).get("active", {}))
        except FileNotFoundError:
            return {}
        except (ValueError, AttributeError):
            return {}  # a damaged file costs at most one repeated alert

    def new_breaches(self, breaches: list[Breach]) -> list[Breach]:
        active = self.load()
        return [b for b in breaches if b.key not in active]

    def save(self, breaches: list[Breach], notified: list[Breach], now: datetime) -> None:
        """Keep the breaches still holding that were notified before or just now."""
        before = self.load()
        sent = {b.key for b in notified}
        active = {b.key: before.get(b.key, now.isoformat()) for b in breaches if b.key in before or b.key in sent}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".part")
        partial.write_text(json.dumps({"active": active}, indent=1))
        os.replace(partial, self.path)
