"""A journalled order as a broker request, and the plain values the executor makes of refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from novalgo.broker.base import REJECTED, OrderRequest, OrderState
from novalgo.engine.journal import order_details


def order_request(order: dict[str, Any]) -> OrderRequest:
    """The broker request for one journalled order, as it was planned."""
    details = order_details(order)

    def number(name: str) -> Decimal | None:
        return Decimal(order[name]) if order[name] else None

    return OrderRequest(
        order["client_order_id"], order["symbol"], order["side"], qty=number("qty"), notional=number("notional"),
        price_hint=number("price_hint"), order_type=details.get("order_type", "market"),
        limit_price=details.get("limit_price"), time_in_force=details.get("time_in_force", "day"),
        extended_hours=bool(details.get("extended_hours")), take_profit=details.get("take_profit"),
        stop_loss=details.get("stop_loss"), trail_percent=details.get("trail_percent"),
        trail_price=details.get("trail_price"), stop_price=details.get("stop_price"), oco=bool(details.get("oco")),
        closing=order["purpose"] == "close")



def rejected(request: OrderRequest, reason: str) -> OrderState:
    return OrderState(request.client_order_id, "", request.symbol, request.side, REJECTED, reason=reason)

class PositionWasWrong(Exception):
    """Refused by the broker for a position we did not have: plan once more on a fresh read."""
