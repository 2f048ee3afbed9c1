"""gunicorn settings for NovAlgo on a small (1-2 vCPU) VM.

Used by trading-bot.service (`gunicorn -c deploy/gunicorn.conf.py novalgo.wsgi:app`) and by
`novalgo serve`. The access log goes to stdout (journald) with webhook secrets masked.
"""

from __future__ import annotations

import logging
import os
import re

from gunicorn.glogging import Logger


def _environment() -> dict[str, str]:
    """The process environment over a development `.env`, the same precedence as Settings."""
    merged: dict[str, str] = {}
    try:
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
    except ImportError:  # python-dotenv is a dependency; a bare gunicorn install still works
        pass
    merged.update(os.environ)
    return merged


_env = _environment()
_host = _env.get("NOVALGO_HOST", "").strip() or "127.0.0.1"
_port = _env.get("NOVALGO_PORT", "").strip() or "8000"

# Loopback by default: nginx in front terminates TLS and applies the TradingView allowlist.
bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]

# Two processes so one crash or a stuck request never silences the webhook, four threads
# each because a request only parses, writes the journal and answers. More workers buy
# nothing on 1-2 vCPUs (the executor runs in one of them, not per request).
workers = int(_env.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4

# Must stay False. Each worker starts its background threads (the leader-lock contender, and
# in the leader the executor and the performance updater) after it is forked; with preload
# the app would be built once in the master and threads do not survive fork(), so no worker
# would ever trade. Without preload every worker imports the app itself and competes for
# <data dir>/leader.lock (fcntl), which the kernel frees when the leader dies.
preload_app = False

# A worker silent this long is killed and replaced (its leader lock then passes on).
timeout = 30
# On SIGTERM (systemctl stop/restart) workers get this long to finish requests and let the
# executor finish or hand back the alerts it holds. TimeoutStopSec in the unit is longer.
graceful_timeout = 20
# nginx talks to us with one request per connection; keep idle sockets from piling up.
keepalive = 2
# Never recycle workers on a request count: recycling the leader would pause trading.
max_requests = 0
# TradingView bodies are small; refuse absurd request lines and headers early.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

# Trust X-Forwarded-Proto and friends only from nginx on this machine. (The client address
# the app uses comes from NOVALGO_TRUSTED_PROXIES, read by the app itself.)
forwarded_allow_ips = "127.0.0.1,::1"

proc_name = "novalgo"
# No runtime control socket (gunicorn >= 25.1 opens one by default): systemctl reload/restart
# is the control interface, and one socket less is one door less. Older gunicorn ignores it.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = "info"
# Client (nginx), the address nginx saw, time, request line (masked), status, bytes,
# milliseconds, user agent. No body, no Authorization header, ever.
access_log_format = '%(h)s xff=%({x-forwarded-for}i)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'

MASK = "***"

# The path segment after /webhook/ is the webhook secret (TradingView cannot send headers).
# gunicorn decodes %2F in PATH_INFO, so /webhook%2F<secret> reaches the same route: mask it too.
_WEBHOOK_PATH = re.compile(r"(/webhook(?:/|%2f)+)[^/?#\s\"]+", re.IGNORECASE)
# Query values whose name says it is a secret: secret=, token=, key=, passphrase= and
# variants such as api_key= or access_token=. Over-masking an innocent `monkey=` is fine.
_SECRET_QUERY = re.compile(
    r"((?:^|[?&;\s])[^=&;?\s\"]*?(?:secret|token|key|passphrase|password)=)[^&;#\s\"]*",
    re.IGNORECASE,
)
# Headers and environ keys that carry credentials are dropped, not masked.
_SECRET_NAME = re.compile(r"authorization|cookie|secret|token|key|passphrase|password", re.IGNORECASE)
_URL_ATOMS = ("r", "U", "q", "f")
_URL_ENVIRON = ("{raw_uri}e", "{path_info}e", "{query_string}e", "{request_uri}e", "{script_name}e")


def mask_secrets(text: str) -> str:
    """Text with the webhook path secret and secret-looking query values replaced by ***."""
    return _SECRET_QUERY.sub(r"\1" + MASK, _WEBHOOK_PATH.sub(r"\1" + MASK, text))


class _MaskingFilter(logging.Filter):
    """Masks secrets in gunicorn's own messages, e.g. "Error handling request /webhook/<secret>"."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_secrets(record.getMessage())
        record.args = None
        if record.exc_info:
            # Format the traceback now, masked; handlers reuse exc_text instead of re-formatting.
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class SecretMaskingLogger(Logger):
    """gunicorn's logger with webhook secrets, tokens and credential headers kept out of the logs."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, _MaskingFilter) for f in log.filters):
                log.addFilter(_MaskingFilter())

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for name in list(atoms):
            if name.startswith("{") and name[-2:] in ("}i", "}e") and _SECRET_NAME.search(name):
                atoms[name] = "-"
        for name in _URL_ATOMS + _URL_ENVIRON:
            if isinstance(atoms.get(name), str):
                atoms[name] = mask_secrets(atoms[name])
        return atoms


logger_class = SecretMaskingLogger
