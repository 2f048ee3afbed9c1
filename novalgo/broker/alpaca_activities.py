"""Alpaca's FILL activities as fills: the one reading the broker, the journal and `novalgo pnl` share.

An activity is a dict as GET /v2/account/activities/FILL answers it (docs.alpaca.markets,
"Account Activities", TradeActivity): id, transaction_time, symbol, side (buy, sell or
sell_short), qty, price, order_id. Alpaca's side is kept as it is: it says whether a sale
closed a long or opened a short, which FIFO over a partial history cannot tell.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable

from novalgo.domain.fifo import Fill
from novalgo.domain.symbols import normalize_symbol

SIDES = ("buy", "sell", "sell_short")


def fill_from_activity(activity: dict[str, Any], client_order_id: str | None = None) -> Fill:
    """One FILL activity as a Fill; ValueError naming the field when it is not one."""
    try:
        side = str(activity["side"]).strip().lower()
        if side not in SIDES:
            raise ValueError(f"side {activity['side']!r} is not buy, sell or sell_short")
        return Fill(time=parse_time(activity["transaction_time"]), symbol=normalize_symbol(activity["symbol"]),
                    side=side, qty=Decimal(str(activity["qty"])), price=Decimal(str(activity["price"])),
                    order_id=str(activity["order_id"]), client_order_id=client_order_id,
                    activity_id=str(activity["id"]))
    except KeyError as e:
        raise ValueError(f"a FILL activity needs {e.args[0]!r}") from None
    except InvalidOperation:
        raise ValueError(f"qty {activity.get('qty')!r} or price {activity.get('price')!r} is not a number") from None


def fills_from_activities(activities: Iterable[dict[str, Any]]) -> list[Fill]:
    """The FILL activities among any activities (others, e.g. dividends, are skipped)."""
    return [fill_from_activity(a) for a in activities if str(a.get("activity_type", "FILL")).upper() == "FILL"]


def parse_time(text: str) -> datetime:
    """Alpaca's timestamp (``2021-05-10T14:01:04.650275Z``) as an aware time; UTC when it has no offset."""
    parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
