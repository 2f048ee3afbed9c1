"""The Activity tab: one row per alert outcome, read from the journal's alert record.

``activity_row`` is pure; ``ActivityAppender`` is the leader's loop that appends settled
alerts in batches (the sheet backend keeps only the newest rows).
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Mapping, Sequence

from novalgo.domain.money import plain
from novalgo.domain.timeframes import interval_label
from novalgo.engine.flatten import SOURCES as LEADER_SOURCES  # a CLOSE the leader queued itself
from novalgo.engine.journal import Journal
from novalgo.settings import Settings
from novalgo.sheet.base import SheetBackend
from novalgo.sheet.layout import sheet_time

PRICE_STEP = Decimal("0.0001")


def activity_row(alert: Mapping[str, Any], zone: tzinfo | None = None) -> list[str]:
    """The Activity cells for one alert record (the journal's, or the ``/alerts`` view of it).

    Times are shown in ``zone`` (UTC for bare epoch seconds when no zone is given); qty is
    what filled across the alert's orders and fill price its qty-weighted average.
    """
    received = _moment(alert.get("received_at"), zone)
    qty, price = _filled(alert.get("orders") or ())
    return [
        sheet_time(received) if received else "",
        str(alert.get("symbol") or ""),
        _timeframe(alert),
        _action(alert),
        str(alert.get("status") or ""),
        str(alert.get("reason") or ""),
        plain(qty) if qty else "",
        plain(price.quantize(PRICE_STEP, ROUND_HALF_UP)) if price is not None else "",
        _latency(alert, received, zone),
    ]


def _action(alert: Mapping[str, Any]) -> str:
    """The action, and who sent it when the leader did: "close (schedule)" for a Flatten At."""
    action = str(alert.get("action") or "")
    source = alert.get("source") or alert.get("source_ip")
    return f"{action} ({source})" if source in LEADER_SOURCES and action else action


def _timeframe(alert: Mapping[str, Any]) -> str:
    # The Config row's Time Frame, as the rest of the sheet writes it; the alert's own words
    # when it matched no row (e.g. SKIPPED as not configured).
    text = alert.get("row_timeframe") or alert.get("timeframe")
    if text:
        return str(text)
    minutes = alert.get("timeframe_minutes") or alert.get("row_minutes")
    return interval_label(int(minutes)) if minutes else ""


def _filled(orders: Sequence[Mapping[str, Any]]) -> tuple[Decimal, Decimal | None]:
    """Total filled quantity over the alert's orders and its average price."""
    qty = value = Decimal(0)
    for order in orders:
        filled, price = _decimal(order.get("filled_qty")), _decimal(order.get("filled_avg_price"))
        if filled and price is not None:
            qty += abs(filled)
            value += abs(filled) * price
    return qty, (value / qty if qty else None)


def _latency(alert: Mapping[str, Any], received: datetime | None, zone: tzinfo | None) -> str:
    if alert.get("latency_ms") is not None:
        return str(alert["latency_ms"])
    finished = _moment(alert.get("finished_at"), zone)
    if received is None or finished is None:
        return ""
    return str(round((finished - received).total_seconds() * 1000))


def _moment(value: Any, zone: tzinfo | None) -> datetime | None:
    """A journal time (epoch seconds, ISO text or datetime) as an aware datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(value, timezone.utc)
    else:
        moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone) if zone is not None else moment


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None




class ActivityAppender:
    """The leader's loop: settled alerts not yet in the Activity tab, appended in one write."""

    def __init__(self, journal: Journal, sheet: SheetBackend, settings: Settings):
        self.journal = journal
        self.sheet = sheet
        self.settings = settings

    def run_once(self) -> int:
        """Append settled alerts not yet in the tab; mark them only after the write succeeded."""
        alerts = self.journal.not_in_activity()
        if not alerts:
            return 0
        rows = [activity_row(alert, self.settings.timezone) for alert in alerts]
        self.sheet.append_activity(rows, keep=self.settings.activity_rows)
        self.journal.mark_in_activity([alert["id"] for alert in alerts])
        return len(rows)
