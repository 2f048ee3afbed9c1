"""POST /webhook and /webhook/<secret>: check, journal, answer. No network I/O here.

``?dry_run=1`` (admin token required, secret checked as usual) journals nothing and answers with
what the alert would do now: that one reads the Config and the broker, as ``novalgo try`` does.
"""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation

from flask import Blueprint, current_app, jsonify, request

from novalgo.domain import statuses
from novalgo.domain.alerts import UnreadableBody, parse_alert, read_delivery
from novalgo.domain.money import json_number
from novalgo.engine.dry_run import dry_run
from novalgo.errors import AlertError, NovalgoError
from novalgo.web.security import ADMIN_ONLY, address_allowed, admin_allowed, client_ip, same_secret

blueprint = Blueprint("webhook", __name__)
MAX_WAIT = 2.5  # TradingView gives up after about 3 seconds
WAIT_POLL = 0.02
OUTCOME_WORDS = {
    statuses.FILLED: "success", statuses.PARTIAL: "success", statuses.ORDER_SUBMITTED: "success",
    statuses.WAITING: "success",
    statuses.ALREADY_LONG: "skipped", statuses.ALREADY_SHORT: "skipped", statuses.INACTIVE: "skipped",
    statuses.SKIPPED: "skipped", statuses.DUPLICATE: "skipped", statuses.FAILED: "failed",
    statuses.EXPIRED: "expired",
}


def _error(code: int, reason: str):
    return jsonify(error=reason), code


def _refusal(e: AlertError):
    """400 with how far the body got and one sentence on the fix; only for callers with the secret."""
    return jsonify(error=str(e), read=e.read, hint=e.hint), 400


@blueprint.post("/webhook")
@blueprint.post("/webhook/<path:path_secret>")
def receive(path_secret: str | None = None):
    services = current_app.extensions["novalgo"]
    settings = services.settings
    caller = client_ip(request, settings.trusted_proxies)
    rehearsal = _dry_run_asked()
    if isinstance(rehearsal, str):
        return _error(400, rehearsal)
    if rehearsal:
        # An operator's check, not an alert: the admin token decides, wherever the operator is.
        if not admin_allowed(request, settings):
            return _error(401, ADMIN_ONLY)
    elif not address_allowed(caller, settings.allowed_ips):
        return _error(403, f"address {caller} may not send alerts (NOVALGO_ALLOWED_IPS)")
    wait = _wait_seconds()
    if isinstance(wait, str):
        return _error(400, wait)
    raw = request.get_data(cache=False)
    path_ok = same_secret(path_secret, settings.webhook_secret)
    try:
        delivery = read_delivery(raw, settings.webhook_secret)
    except AlertError as e:
        # Without the secret, say nothing about what the body held; broken JSON may still carry it.
        carried = isinstance(e, UnreadableBody) and same_secret(e.secret, settings.webhook_secret)
        return _refusal(e) if path_ok or carried else _error(401, "bad or missing secret")
    if not (path_ok or same_secret(delivery.secret, settings.webhook_secret)):
        return _error(401, "bad or missing secret")
    try:
        alert = parse_alert(delivery, settings.indicator_names)
    except AlertError as e:
        return _refusal(e)
    if rehearsal:
        return _dry_run(services, alert)
    alert_id, status, original = services.journal.add(alert, delivery.stored_body, caller, settings.dedupe_window)
    services.wakeup.wake()  # one local datagram to the leader, never blocks; its poll is the safety net
    if status == statuses.DUPLICATE:
        return jsonify(status="duplicate", alert_id=alert_id, duplicate_of=original), 200
    if wait:
        record = _await_outcome(services.journal, alert_id, wait)
        if record is not None:
            return jsonify(_outcome(record)), 200
    return jsonify(status="accepted", alert_id=alert_id, action=alert.action.upper(), symbol=alert.symbol,
                   timeframe=alert.timeframe), 202


def _dry_run_asked() -> bool | str:
    """``?dry_run=1`` (or true/yes): rehearse only. Anything unclear is refused, never traded."""
    raw = request.args.get("dry_run")
    if raw is None or raw.lower() in ("0", "false", "no"):
        return False
    if raw.lower() in ("", "1", "true", "yes"):
        return True
    return f"dry_run={raw!r}: expected 1 (rehearse, trade nothing) or 0"


def _dry_run(services, alert):
    """What the executor would do with the alert now; nothing journalled, nothing sent."""
    try:
        answer = dry_run(alert, services.config, services.broker, services.journal,
                         skip_outside_hours=services.settings.outside_hours == "skip")
    except NovalgoError as e:
        return _error(503, f"broker unavailable: {e}")
    return jsonify(answer), 200


def _wait_seconds() -> float | str:
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        return f"wait={raw!r}: expected seconds, at most {MAX_WAIT}"
    if not 0 <= value <= MAX_WAIT:
        return f"wait={raw!r}: expected seconds between 0 and {MAX_WAIT}"
    return value


def _await_outcome(journal, alert_id: str, wait: float):
    """Poll the journal (the leader may be another process) until the alert settles or time is up."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if journal.status_of(alert_id) in statuses.SETTLED:
            return journal.get(alert_id)
        time.sleep(WAIT_POLL)
    return None


def _amount(text: str | None) -> int | float | str | None:
    """The row's size: dollars as a number (as the original bot answered), else as the row says it
    ("25 sh", "10%", "alert")."""
    if not text:
        return None
    try:
        return json_number(Decimal(text))
    except InvalidOperation:
        return text


def _outcome(record: dict) -> dict:
    """The answer the original bot gave, plus the alert id, outcome and reason."""
    orders = [o for o in record["orders"] if o.get("broker_order_id")]
    return {
        "status": OUTCOME_WORDS.get(record["status"], "accepted"),
        "action": (record["action"] or "").upper(),
        "symbol": record["symbol"],
        "timeframe": record["row_timeframe"] or record["timeframe"],
        "amount": _amount(record["amount"]),
        "order_id": orders[-1]["broker_order_id"] if orders else None,
        "alert_id": record["id"],
        "outcome": record["status"],
        "reason": record["reason"],
    }
