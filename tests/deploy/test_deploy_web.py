"""gunicorn and nginx run for real on loopback with the shipped configs.

gunicorn serves a tiny WSGI app that echoes what it received, so these tests are about the
deployment files (log masking, proxy headers, allowlists, limits), not about NovAlgo's routes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.gunicorn import GUNICORN_CONF, free_port, wait_for
from tests.support.nginx import NGINX_DIR, nginx_binary, nginx_check, request, running_nginx, scratch_nginx

REPO = Path(__file__).resolve().parents[2]
TRADINGVIEW = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")

# Secrets that must never reach a log line, each sent a different way.
PATH_SECRET = "PathSecret0123456789"
ENCODED_SECRET = "EncodedSecret0123456789"
QUERY_TOKEN = "QueryToken0123456789"
BODY_SECRET = "BodySecret0123456789"
BEARER = "BearerToken0123456789"
API_KEY = "HeaderKey0123456789"
ERROR_SECRET = "ErrorSecret0123456789"
ALL_SECRETS = (PATH_SECRET, ENCODED_SECRET, QUERY_TOKEN, BODY_SECRET, BEARER, API_KEY, ERROR_SECRET)

def load_gunicorn_conf() -> dict:
    import runpy

    return runpy.run_path(str(GUNICORN_CONF))


# --- gunicorn -------------------------------------------------------------------------------


def test_gunicorn_conf_suits_a_small_vm_and_the_leader_lock():
    conf = load_gunicorn_conf()
    assert conf["preload_app"] is False  # threads (leader lock, executor) must start per worker
    assert conf["worker_class"] == "gthread" and conf["workers"] == 2 and conf["threads"] == 4
    assert conf["graceful_timeout"] < 30  # TimeoutStopSec in trading-bot.service
    assert conf["max_requests"] == 0  # recycling workers would keep unseating the leader
    assert conf["accesslog"] == "-"


def test_gunicorn_logs_keep_every_secret_out(echo_gunicorn):
    port = echo_gunicorn.port
    assert request(port, "POST", f"/webhook/{PATH_SECRET}", body=json.dumps({"secret": BODY_SECRET}).encode(),
                   headers={"Authorization": f"Bearer {BEARER}", "X-Api-Key": API_KEY,
                            "Content-Type": "application/json"})[0] == 200
    assert request(port, "POST", f"/webhook%2F{ENCODED_SECRET}")[0] == 200
    assert request(port, "GET", f"/config?x=1&token={QUERY_TOKEN}&api_key={QUERY_TOKEN}",
                   headers={"Referer": f"https://example.com/webhook/{PATH_SECRET}"})[0] == 200
    assert request(port, "POST", f"/boom/webhook/{ERROR_SECRET}")[0] == 500
    stdout, stderr = echo_gunicorn.stop()

    for secret in ALL_SECRETS:
        assert secret not in stdout and secret not in stderr, secret
    # The requests are still there for the owner to read, secrets replaced by ***.
    assert '"POST /webhook/*** HTTP/1.1" 200' in stdout
    assert '"POST /webhook%2F*** HTTP/1.1" 200' in stdout
    assert "token=***" in stdout and "api_key=***" in stdout and "x=1" in stdout
    assert '"POST /boom/webhook/*** HTTP/1.1" 500' in stdout
    # gunicorn's own error line and the app's traceback are masked too, not dropped.
    assert "Error handling request POST /boom/webhook/***" in stderr
    assert "RuntimeError: failed on /boom/webhook/***" in stderr


def test_gunicorn_never_logs_credential_headers_even_if_asked(tmp_path):
    """An owner adding %({authorization}i)s to the format still gets no token in the log."""
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config

    conf = load_gunicorn_conf()
    cfg = Config()
    log_file = tmp_path / "access.log"
    cfg.set("accesslog", str(log_file))
    cfg.set("access_log_format", '"%(r)s" auth=%({authorization}i)s hdr=%({x-api-key}i)s '
                                 'env=%({http_authorization}e)s q=%(q)s ref=%(f)s ua=%(a)s')
    logger = conf["logger_class"](cfg)
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": f"/webhook/{PATH_SECRET}?passphrase={QUERY_TOKEN}",
               "PATH_INFO": f"/webhook/{PATH_SECRET}", "QUERY_STRING": f"passphrase={QUERY_TOKEN}",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "HTTP_AUTHORIZATION": f"Bearer {BEARER}", "HTTP_REFERER": f"/x?secret={QUERY_TOKEN}",
               "HTTP_USER_AGENT": "Go-http-client/1.1"}
    req = SimpleNamespace(headers=[("AUTHORIZATION", f"Bearer {BEARER}"), ("X-API-KEY", API_KEY)])
    resp = SimpleNamespace(status="200 OK", headers=[], sent=2)
    logger.access(resp, req, environ, timedelta(milliseconds=3))
    line = log_file.read_text()
    for secret in (PATH_SECRET, QUERY_TOKEN, BEARER, API_KEY):
        assert secret not in line
    assert ('"POST /webhook/***?passphrase=*** HTTP/1.1" auth=- hdr=- env=- q=passphrase=*** '
            'ref=/x?secret=*** ua=Go-http-client/1.1') in line


# --- nginx ----------------------------------------------------------------------------------


def test_nginx_config_passes_nginx_t(tmp_path):
    nginx = nginx_binary()
    main, _, _ = scratch_nginx(tmp_path, 8000, owner=None)
    checked = nginx_check(nginx, tmp_path, main)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    assert "warn" not in checked.stderr, checked.stderr


def test_nginx_acme_bootstrap_passes_nginx_t(tmp_path):
    nginx = nginx_binary()
    main, _, _ = scratch_nginx(tmp_path, 8000, owner=None)
    site = tmp_path / "novalgo.conf"
    site.write_text(re.sub(r"^\s*listen \[::\].*\n", "", (NGINX_DIR / "novalgo-acme.conf").read_text(), flags=re.M)
                    .replace("listen 80 ", f"listen 127.0.0.1:{free_port()} ")
                    .replace("/var/www/letsencrypt", str(tmp_path / "acme")))
    checked = nginx_check(nginx, tmp_path, main)
    assert checked.returncode == 0, checked.stderr


def test_nginx_config_names_the_real_paths_and_tradingview():
    site = (NGINX_DIR / "novalgo.conf").read_text()
    allow = (NGINX_DIR / "snippets" / "novalgo-tradingview.conf").read_text()
    common = (NGINX_DIR / "snippets" / "novalgo-common.conf").read_text()
    assert "/etc/letsencrypt/live/novalgo.example.com/fullchain.pem" in site
    assert re.findall(r"^allow (\S+);", allow, flags=re.M) == list(TRADINGVIEW)
    assert allow.rstrip().endswith("deny all;")
    assert "client_max_body_size 64k;" in common
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in common
    assert "limit_req zone=novalgo_webhook" in site and "ssl_protocols TLSv1.2 TLSv1.3;" in site


@pytest.fixture
def proxied(tmp_path, echo_gunicorn):
    """nginx (shipped config, owner = 127.0.0.2) in front of gunicorn; strangers come from 127.0.0.3."""
    nginx = nginx_binary()
    root = tmp_path / "nginx"
    main, http_port, https_port = scratch_nginx(root, echo_gunicorn.port, owner="127.0.0.2")
    checked = nginx_check(nginx, root, main)
    assert checked.returncode == 0, checked.stderr
    with running_nginx(nginx, root, main, http_port):
        yield root, http_port, https_port, echo_gunicorn


def test_nginx_lets_tradingview_and_the_owner_post_alerts_and_no_one_else(proxied):
    _, http_port, https_port, _ = proxied
    for port, tls in ((http_port, False), (https_port, True)):
        status, body = request(port, "POST", "/webhook", body=b"{}", source="127.0.0.2", tls=tls,
                               headers={"X-Forwarded-For": "52.89.214.238"})
        assert status == 200
        seen = json.loads(body)
        # The app hears the real client from nginx, never what the client claimed.
        assert seen["xff"] == "127.0.0.2" and seen["remote"] == "127.0.0.1"
        assert seen["proto"] == ("https" if tls else "http")
        assert request(port, "POST", f"/webhook/{PATH_SECRET}", body=b"{}", source="127.0.0.2", tls=tls)[0] == 200
        assert request(port, "POST", "/webhook", body=b"{}", source="127.0.0.3", tls=tls,
                       headers={"X-Forwarded-For": "52.89.214.238"})[0] == 403


def test_nginx_guards_admin_reads_and_redirects_plain_http(proxied):
    _, http_port, https_port, _ = proxied
    assert request(https_port, "GET", "/health", source="127.0.0.3", tls=True)[0] == 200
    assert request(https_port, "GET", "/config", source="127.0.0.3", tls=True)[0] == 403
    assert request(https_port, "GET", "/config", source="127.0.0.2", tls=True)[0] == 200
    assert request(https_port, "GET", "/positions", source="127.0.0.1", tls=True)[0] == 200
    assert request(http_port, "GET", "/config", source="127.0.0.2")[0] == 301


def test_nginx_passes_slack_and_discord_commands_from_anywhere_over_https_only(proxied):
    _, http_port, https_port, _ = proxied
    for path in ("/slack/command", "/discord/interactions"):
        assert request(https_port, "POST", path, body=b"text=status", source="127.0.0.3", tls=True)[0] == 200
        assert request(http_port, "POST", path, body=b"text=status", source="127.0.0.3")[0] == 301
    assert request(https_port, "POST", "/slack/commandx", body=b"", source="127.0.0.3", tls=True)[0] == 403


def test_nginx_refuses_big_bodies_and_floods(proxied):
    _, http_port, _, _ = proxied
    assert request(http_port, "POST", "/webhook", body=b"x" * (65 * 1024), source="127.0.0.2")[0] == 413
    statuses = [request(http_port, "POST", "/webhook", body=b"{}", source="127.0.0.2")[0] for _ in range(160)]
    assert statuses.count(429) > 0  # burst 100 at 20/s: a flood of 160 cannot all pass
    assert statuses[:50].count(200) == 50  # a bar-close burst of alerts does


def test_nginx_access_log_keeps_the_webhook_secret_out(proxied):
    root, http_port, https_port, gunicorn = proxied
    assert request(https_port, "POST", f"/webhook/{PATH_SECRET}", body=json.dumps({"s": BODY_SECRET}).encode(),
                   source="127.0.0.2", tls=True, headers={"Authorization": f"Bearer {BEARER}"})[0] == 200
    assert request(http_port, "POST", f"/webhook%2F{ENCODED_SECRET}", body=b"{}", source="127.0.0.2")[0] == 200
    assert request(https_port, "GET", f"/alerts?token={QUERY_TOKEN}", source="127.0.0.2", tls=True)[0] == 200
    # Denied and failing requests too: nginx quotes the request line in its error log.
    assert request(http_port, "POST", f"/webhook/{ERROR_SECRET}", body=b"{}", source="127.0.0.3")[0] == 403
    assert request(http_port, "POST", f"/webhook/boom/{ERROR_SECRET}", body=b"{}", source="127.0.0.2")[0] == 500
    access = root / "log" / "novalgo.access.log"
    wait_for(lambda: access.exists() and access.read_text().count("\n") >= 5, "nginx access log lines")
    logs = "".join(p.read_text(errors="replace") for p in (root / "log").iterdir())
    for secret in ALL_SECRETS:
        assert secret not in logs, secret
    assert '"POST /webhook/*** HTTP/1.1" 200' in access.read_text()
    assert '"GET /alerts?*** HTTP/1.1" 200' in access.read_text()
