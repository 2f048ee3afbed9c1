"""Read endpoints: /health (public) and, behind the admin token, /config, /positions, /alerts, /performance."""

from __future__ import annotations

from datetime import datetime
from functools import wraps

from flask import Blueprint, current_app, jsonify, request

from novalgo import __version__
from novalgo.domain.money import json_number, plain
from novalgo.engine.flatten import SOURCES
from novalgo.engine.guards import pause_reasons
from novalgo.engine.journal import EXIT_SOURCE
from novalgo.engine.services import SETTINGS_SNAPSHOT_FILE, SNAPSHOT_FILE
from novalgo.errors import NovalgoError
from novalgo.sheet.cache import saved_snapshot
from novalgo.sheet.settings_tab import saved_settings
from novalgo.web.security import ADMIN_ONLY, admin_allowed

blueprint = Blueprint("admin", __name__)
HEARTBEAT_STALE = 15.0  # seconds without a leader heartbeat before /health says 503
STARTUP_GRACE = 20.0


def _services():
    return current_app.extensions["novalgo"]


def admin_only(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        if not admin_allowed(request, _services().settings):
            return jsonify(error=ADMIN_ONLY), 401
        return view(*args, **kwargs)
    return guarded


def _iso(epoch: float | None, tz) -> str | None:
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds") if epoch else None


def _config_snapshot():
    services = _services()
    return saved_snapshot(services.settings.data_dir / SNAPSHOT_FILE) or services.config.snapshot()


@blueprint.get("/health")
def health():
    services = _services()
    settings = services.settings
    beat = services.journal.heartbeat()
    now = services.clock()  # the journal's heartbeat is on the same clock
    started = current_app.extensions["novalgo.started_at"]
    alive = beat is not None and now - beat < HEARTBEAT_STALE
    starting = not alive and now - started < STARTUP_GRACE
    status = "healthy" if alive else "starting" if starting else "executor not running"
    snapshot = saved_snapshot(settings.data_dir / SNAPSHOT_FILE)
    # From stored state only (the Settings tab as the leader last read it, the journal's trip):
    # /health never waits on the sheet or the broker, and being public it shows no dollars.
    paused = pause_reasons(settings.guards, saved_settings(settings.data_dir / SETTINGS_SNAPSHOT_FILE)[0],
                           services.journal, services.clock.now(settings.timezone), amounts=False)
    body = {
        "status": status,
        "mode": settings.mode,
        "sheet": settings.sheet_kind,
        "broker": settings.broker_kind,
        "active_configs": len(snapshot.active_rows()) if snapshot else None,
        "queue_depth": services.journal.queue_depth(),
        "entries": {"paused": bool(paused), "why": paused},
        "executor_heartbeat": _iso(beat, settings.timezone),
        "timestamp": services.clock.now(settings.timezone).isoformat(timespec="seconds"),
        "version": __version__,
    }
    return jsonify(body), 200 if alive or starting else 503


@blueprint.get("/config")
@admin_only
def config():
    snapshot = _config_snapshot()
    # Dollars as a number (as before); the other sizes as the trader wrote them ("25 sh", "10%", "alert").
    active = {row.label: json_number(row.position_size) if row.position_size is not None else row.size.text
              for row in snapshot.active_rows()}
    return jsonify(config=active, total=len(active), problems=list(snapshot.problems))


@blueprint.get("/positions")
@admin_only
def positions():
    try:
        held = _services().broker.positions()
    except NovalgoError as e:
        return jsonify(error=f"broker unavailable: {e}"), 503
    listed = [{"symbol": p.symbol, "qty": plain(p.qty), "side": p.side,
               "market_value": plain(p.market_value), "unrealized_pl": plain(p.unrealized_pl)} for p in held]
    return jsonify(positions=listed, total=len(listed))


@blueprint.get("/alerts")
@admin_only
def alerts():
    raw = request.args.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        return jsonify(error=f"limit={raw!r}: expected a whole number from 1 to 1000"), 400
    tz = _services().settings.timezone
    records = _services().journal.recent(int(raw))
    return jsonify(alerts=[alert_view(r, tz) for r in records])


@blueprint.get("/performance")
@admin_only
def performance():
    try:
        numbers = _services().performance.run_once()
    except NovalgoError as e:
        return jsonify(error=f"performance update failed: {e}"), 503
    return jsonify(status="Performance updated", **numbers)


def alert_view(record: dict, tz) -> dict:
    """One journalled alert as /alerts shows it (and the Activity tab reads it)."""
    return {
        "id": record["id"],
        "received_at": _iso(record["received_at"], tz),
        # A CLOSE the leader queued itself says why (Flatten At, a loss-limit flatten); else a webhook.
        "source": record["source_ip"] if record["source_ip"] in SOURCES + (EXIT_SOURCE,) else "webhook",
        "action": record["action"],
        "symbol": record["symbol"],
        "timeframe": record["timeframe"] or record["row_timeframe"],
        "timeframe_minutes": record["timeframe_minutes"] or record["row_minutes"],
        "price": record["price"],
        "amount": record["amount"],
        "status": record["status"],
        "reason": record["reason"],
        "finished_at": _iso(record["finished_at"], tz),
        "latency_ms": round((record["finished_at"] - record["received_at"]) * 1000) if record["finished_at"] else None,
        "orders": [{key: order[key] for key in ("client_order_id", "purpose", "side", "qty", "notional", "state",
                                                "broker_order_id", "filled_qty", "filled_avg_price", "reason")}
                   for order in record["orders"]],
    }
