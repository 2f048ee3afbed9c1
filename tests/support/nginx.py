"""Real nginx for the deployment tests: the shipped (or install.sh-rendered) site under a scratch
prefix on loopback ports, and a plain HTTP(S) client that can pick its source address."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import ssl
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.gunicorn import free_port, wait_for

NGINX_DIR = Path(__file__).resolve().parents[2] / "deploy" / "nginx"


def request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None,
            source: str = "127.0.0.1", tls: bool = False) -> tuple[int, bytes]:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, source_address=(source, 0),
                                           context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (.ci/system-deps.sh installs it)")
    cert, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=novalgo.example.com", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def nginx_binary() -> str:
    nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)
    if nginx is None:
        pytest.skip("nginx is not installed (.ci/system-deps.sh installs it)")
    return nginx


def scratch_nginx(root: Path, upstream_port: int, owner: str | None, source: Path = NGINX_DIR) -> tuple[Path, int, int]:
    """A site + snippets (the shipped ones, or ``source``: what install.sh rendered) under a scratch
    prefix: real ports, paths and cert rewritten.

    Returns the main config file and the ports standing in for 80 and 443.
    """
    for name in ("log", "acme", "tmp", "snippets"):
        (root / name).mkdir(parents=True, exist_ok=True)
    cert, key = self_signed_cert(root)
    http_port, https_port = free_port(), free_port()

    def rewrite(text: str) -> str:
        text = re.sub(r"^\s*listen \[::\].*\n", "", text, flags=re.M)  # a CI box may have no IPv6
        text = text.replace("listen 80 ", f"listen 127.0.0.1:{http_port} ")
        text = text.replace("listen 443 ", f"listen 127.0.0.1:{https_port} ")
        text = text.replace("/etc/letsencrypt/live/novalgo.example.com/fullchain.pem", str(cert))
        text = text.replace("/etc/letsencrypt/live/novalgo.example.com/privkey.pem", str(key))
        text = text.replace("/var/log/nginx/", f"{root}/log/").replace("/var/www/letsencrypt", str(root / "acme"))
        return text.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")

    (root / "novalgo.conf").write_text(rewrite((source / "novalgo.conf").read_text()))
    for snippet in (source / "snippets").iterdir():
        (root / "snippets" / snippet.name).write_text(rewrite(snippet.read_text()))
    if owner:
        with open(root / "snippets" / "novalgo-owner.conf", "a") as f:
            f.write(f"allow {owner};\n")
    temp = root / "tmp"
    main = root / "nginx.conf"
    main.write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/log/main.error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    access_log off;
    include {root}/novalgo.conf;
}}
""")
    return main, http_port, https_port


def nginx_check(nginx: str, root: Path, main: Path) -> subprocess.CompletedProcess:
    return subprocess.run([nginx, "-t", "-p", str(root), "-e", str(root / "log" / "main.error.log"), "-c", str(main)],
                          capture_output=True, text=True, timeout=30)


@contextmanager
def running_nginx(nginx: str, root: Path, main: Path, http_port: int) -> Iterator[subprocess.Popen]:
    """nginx in the foreground on a scratch config, answering before the block runs, stopped after."""
    process = subprocess.Popen([nginx, "-p", str(root), "-e", str(root / "log" / "main.error.log"), "-c", str(main)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)

    def answering():
        if process.poll() is not None:
            raise AssertionError(f"nginx exited: {process.stderr.read()}")
        try:
            return request(http_port, "GET", "/health")[0] == 301
        except OSError:
            return False

    try:
        wait_for(answering, "nginx to answer")
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
