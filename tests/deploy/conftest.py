"""The deployment tests' shared fixture: gunicorn, run as trading-bot.service runs it, serving a tiny
app that echoes what it received (so the tests are about the deployment files, not NovAlgo)."""

from __future__ import annotations

import pytest

from tests.support.gunicorn import Gunicorn, clean_env

ECHO_APP = '''
import json

def app(environ, start_response):
    if "boom" in environ["PATH_INFO"]:
        # An app error whose message carries the URL: gunicorn logs it with a traceback.
        raise RuntimeError("failed on " + environ["RAW_URI"])
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    seen = {"path": environ["PATH_INFO"], "remote": environ["REMOTE_ADDR"],
            "xff": environ.get("HTTP_X_FORWARDED_FOR"), "proto": environ.get("HTTP_X_FORWARDED_PROTO"),
            "body_bytes": len(body)}
    data = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
'''


@pytest.fixture
def echo_gunicorn(tmp_path):
    (tmp_path / "echo_app.py").write_text(ECHO_APP)
    server = Gunicorn(tmp_path, "echo_app:app", clean_env(NOVALGO_HOST="127.0.0.1", NOVALGO_PORT="0",
                                                           HOME=str(tmp_path), PYTHONPATH=str(tmp_path)))
    yield server
    server.stop()
