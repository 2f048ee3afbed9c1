"""The web layer: ``create_app(settings, broker=None, sheet=None)``. Routes stay thin."""

from __future__ import annotations

import atexit
import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from novalgo.broker.base import Broker
from novalgo.clock import Clock
from novalgo.settings import Settings
from novalgo.sheet.base import SheetBackend

MAX_BODY = 64 * 1024


def create_app(settings: Settings | None = None, broker: Broker | None = None, sheet: SheetBackend | None = None,
               start_background: bool | None = None, clock: Clock | None = None) -> Flask:
    """A NovAlgo app; starts the background leader candidate unless told not to. ``clock``: the
    time of day for everything (default: the wall clock, or NOVALGO_CLOCK_START's)."""
    from novalgo.engine.background import Background
    from novalgo.engine.services import build_services
    from novalgo.web import admin, discord, slack, webhook  # the blueprints import this package: load them last

    settings = settings or Settings.from_env()
    services = build_services(settings, broker=broker, sheet=sheet, clock=clock)
    app = Flask("novalgo")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json.sort_keys = False
    app.extensions["novalgo"] = services
    app.extensions["novalgo.started_at"] = services.clock()
    app.extensions["novalgo.clock"] = services.clock  # the chat commands' answers read time from it
    background = Background(services)
    app.extensions["novalgo.background"] = background
    app.register_blueprint(webhook.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(slack.blueprint)  # /slack/command: 404 unless a signing secret is set
    app.register_blueprint(discord.blueprint)  # /discord/interactions: 404 unless a public key is set

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {413: f"body over {MAX_BODY // 1024} KB"}
        return jsonify(error=messages.get(error.code, error.description)), error.code

    if settings.run_background if start_background is None else start_background:
        background.start()
        # On a graceful stop, alerts in flight finish; anything cut short stays journalled.
        atexit.register(background.stop)
    log = logging.getLogger(__name__)
    log.info("NovAlgo ready: mode=%s sheet=%s broker=%s data=%s", settings.mode, settings.sheet_kind,
             settings.broker_kind, settings.data_dir)
    # Secrets appear only as (set)/(unset): describe() is the one way settings reach a log.
    log.info("settings: %s", settings.describe())
    return app

