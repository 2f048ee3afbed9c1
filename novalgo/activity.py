"""The Activity tab: one row per alert outcome, read from the journal's alert record.

Pure: the leader loop fetches settled alerts and appends ``activity_row``s in batches; the
sheet backend keeps only the newest rows.
"""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Mapping, Sequence

from novalgo.domain.money import plain
from novalgo.domain.timeframes import interval_label

ACTIVITY_HEADERS = ("time", "symbol", "timeframe", "action", "status", "reason", "qty", "fill price", "latency ms")
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S %Z"  # as the Config tab's Last Updated
PRICE_STEP = Decimal("0.0001")


def activity_row(alert: Mapping[str, Any], zone: tzinfo | None = None) -> list[str]:
    """The Activity cells for one alert record (the journal's, or the ``/alerts`` view of it).

    Times are shown in ``zone`` (UTC for bare epoch seconds when no zone is given); qty is
    what filled across the alert's orders and fill price its qty-weighted average.
    """
    received = _moment(alert.get("received_at"), zone)
    qty, price = _filled(alert.get("orders") or ())
    return [
        received.strftime(STAMP_FORMAT) if received else "",
        str(alert.get("symbol") or ""),
        _timeframe(alert),
        str(alert.get("action") or ""),
        str(alert.get("status") or ""),
        str(alert.get("reason") or ""),
        plain(qty) if qty else "",
        plain(price.quantize(PRICE_STEP, ROUND_HALF_UP)) if price is not None else "",
        _latency(alert, received, zone),
    ]


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


