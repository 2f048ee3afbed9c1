"""`install.sh --require-tradingview-cert`: nginx lets /webhook through only with TradingView's
client certificate, checked for real with a test CA made here with openssl.

nginx runs the site exactly as install.sh renders it with the flag (its CA bundle pointed at
the test root with --tradingview-ca-bundle), under the scratch prefix of test_deploy_web, in
front of its echoing gunicorn. The subject is the one TradingView's "Webhook authentication"
page documents (deploy/nginx/snippets/novalgo-tradingview-cert.conf cites it).
"""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.support.gunicorn import wait_for
from tests.support.install import install, tree
from tests.support.nginx import nginx_binary, nginx_check, request, running_nginx, scratch_nginx

REPO = Path(__file__).resolve().parents[2]
NGINX_DIR = REPO / "deploy" / "nginx"
INSTALL = REPO / "deploy" / "install.sh"
OWNER = "127.0.0.2"

# TradingView's documented subject, and the variant with the CN earlier copies of its page gave.
TRADINGVIEW_SUBJECT = "/C=US/ST=Ohio/L=Westerville/O=TradingView, Inc./CN=TradingView Webhooks"
TRADINGVIEW_OLD_CN = "/C=US/ST=Ohio/L=Westerville/O=TradingView, Inc./CN=webhook-server@tradingview.com"
TRADINGVIEW_SAN = "email:webhook-server@tradingview.com"

CERT_SNIPPETS = ("novalgo-tradingview-cert.conf", "novalgo-tradingview-cert-server.conf",
                 "novalgo-tradingview-cert-check.conf")
CERT_INCLUDES = tuple(f"include snippets/{name};" for name in CERT_SNIPPETS)

OPENSSL_CONF = """
[req]
distinguished_name = dn
prompt = no
[dn]
[ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[client]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = email:webhook-server@tradingview.com
[client_self]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = email:webhook-server@tradingview.com
"""


class ScratchCA:
    """Certificates made with the openssl command line, EC keys (fast), valid for two days."""

    def __init__(self, directory: Path):
        self.openssl = shutil.which("openssl")
        if self.openssl is None:
            pytest.skip("openssl is not installed (.ci/system-deps.sh installs it)")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = directory / "openssl.cnf"
        self.conf.write_text(OPENSSL_CONF)
        self.serial = 1

    def run(self, *args: str) -> None:
        subprocess.run([self.openssl, *args], check=True, capture_output=True, timeout=60)

    def key_args(self, name: str) -> list[str]:
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", str(self.dir / f"{name}.key")]

    def self_signed(self, name: str, subject: str, extensions: str) -> tuple[Path, Path]:
        cert = self.dir / f"{name}.pem"
        self.run("req", "-x509", "-config", str(self.conf), "-extensions", extensions, *self.key_args(name),
                 "-subj", subject, "-days", "2", "-out", str(cert))
        return cert, self.dir / f"{name}.key"

    def signed(self, name: str, subject: str, issuer: str, extensions: str = "client") -> tuple[Path, Path]:
        """A certificate for subject signed by the CA named issuer (made before with self_signed or signed)."""
        csr, cert = self.dir / f"{name}.csr", self.dir / f"{name}.pem"
        self.run("req", "-new", "-config", str(self.conf), *self.key_args(name), "-subj", subject, "-out", str(csr))
        self.serial += 1
        self.run("x509", "-req", "-in", str(csr), "-CA", str(self.dir / f"{issuer}.pem"),
                 "-CAkey", str(self.dir / f"{issuer}.key"), "-set_serial", str(self.serial), "-days", "2",
                 "-extfile", str(self.conf), "-extensions", extensions, "-out", str(cert))
        return cert, self.dir / f"{name}.key"

    def chain(self, name: str, *certs: Path) -> Path:
        """A PEM with the certificate first, then the intermediates the client sends along."""
        path = self.dir / f"{name}.chain.pem"
        path.write_text("".join(c.read_text() for c in certs))
        return path


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, tuple[Path, Path] | Path]:
    ca = ScratchCA(tmp_path_factory.mktemp("tradingview-ca"))
    root, _ = ca.self_signed("root", "/O=NovAlgo Test/CN=NovAlgo Test Root CA", "ca")
    # Two intermediates, as ssl_verify_depth 2 allows: an issuing CA under a cross-signed one.
    ca.signed("cross_signed", "/O=NovAlgo Test/CN=NovAlgo Test Cross-signed CA", "root", "ca")
    ca.signed("intermediate", "/O=NovAlgo Test/CN=NovAlgo Test Issuing CA", "cross_signed", "ca")
    ca.self_signed("other_root", "/O=Elsewhere/CN=Some Other Root CA", "ca")
    via_intermediate, via_intermediate_key = ca.signed("via_intermediate", TRADINGVIEW_SUBJECT, "intermediate")
    return {
        "bundle": root,  # what nginx trusts: the test root only
        "tradingview": ca.signed("tradingview", TRADINGVIEW_SUBJECT, "root"),
        "tradingview_old_cn": ca.signed("tradingview_old_cn", TRADINGVIEW_OLD_CN, "root"),
        "via_intermediate": (ca.chain("via_intermediate", via_intermediate, ca.dir / "intermediate.pem",
                                      ca.dir / "cross_signed.pem"), via_intermediate_key),
        # Signed by the trusted root, but not TradingView's subject.
        "wrong_o": ca.signed("wrong_o", "/C=US/ST=Ohio/L=Westerville/O=TradingView Fans, Inc./CN=TradingView Webhooks",
                             "root"),
        "wrong_cn": ca.signed("wrong_cn", "/C=US/ST=Ohio/L=Westerville/O=TradingView, Inc./CN=TradingView Webhook",
                              "root"),
        "extra_field": ca.signed("extra_field", "/C=US/ST=Ohio/L=Westerville/O=TradingView, Inc./OU=Anyone"
                                 "/CN=TradingView Webhooks", "root"),
        "lower_case": ca.signed("lower_case", TRADINGVIEW_SUBJECT.lower(), "root"),
        # TradingView's CN and O stuffed into one value: nginx escapes its commas, no match.
        "stuffed_cn": ca.signed("stuffed_cn", "/C=US/ST=Ohio/L=Westerville/O=Attacker"
                                "/CN=TradingView Webhooks,O=TradingView\\, Inc.", "root"),
        # The right subject, but not from a trusted CA.
        "self_signed": ca.self_signed("self_signed", TRADINGVIEW_SUBJECT, "client_self"),
        "other_ca": ca.signed("other_ca", TRADINGVIEW_SUBJECT, "other_root"),
    }


def render_opt_in(root: Path, bundle: Path, *extra: str) -> Path:
    """install.sh --require-tradingview-cert into a scratch root; its nginx dir, laid out like deploy/nginx."""
    install(root, "--with-nginx", "novalgo.example.com", "--require-tradingview-cert",
            "--tradingview-ca-bundle", str(bundle), *extra)
    rendered = root / "rendered-nginx"
    (rendered / "snippets").mkdir(parents=True)
    shutil.copy(root / "etc/nginx/sites-available/novalgo.conf", rendered / "novalgo.conf")
    for snippet in (root / "etc/nginx/snippets").iterdir():
        shutil.copy(snippet, rendered / "snippets" / snippet.name)
    return rendered


@pytest.fixture
def cert_proxied(tmp_path, certs, echo_gunicorn):
    """nginx with the opt-in site (owner 127.0.0.2, strangers 127.0.0.3) in front of the echo app."""
    nginx = nginx_binary()
    rendered = render_opt_in(tmp_path / "install", certs["bundle"])
    root = tmp_path / "nginx"
    main, http_port, https_port = scratch_nginx(root, echo_gunicorn.port, owner=OWNER, source=rendered)
    checked = nginx_check(nginx, root, main)
    assert checked.returncode == 0 and "warn" not in checked.stderr, checked.stderr
    with running_nginx(nginx, root, main, http_port):
        yield root, http_port, https_port


def https(port: int, method: str, path: str, client: tuple[Path, Path] | None = None, source: str = OWNER,
          body: bytes = b"") -> tuple[int, bytes]:
    """One HTTPS request, presenting client = (certificate chain, key) if given."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # nginx's own self-signed server certificate
    if client:
        context.load_cert_chain(certfile=str(client[0]), keyfile=str(client[1]))
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, source_address=(source, 0), context=context)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- nginx, for real ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tradingview", "tradingview_old_cn", "via_intermediate"])
def test_tradingviews_certificate_reaches_the_app(cert_proxied, certs, name):
    _, _, https_port = cert_proxied
    for path in ("/webhook", "/webhook/secret-in-path"):
        status, body = https(https_port, "POST", path, client=certs[name], body=b"{}")
        assert status == 200, body
        assert json.loads(body)["path"] == path  # the echo app's answer: nginx passed it on


@pytest.mark.parametrize("name", ["wrong_o", "wrong_cn", "extra_field", "lower_case", "stuffed_cn"])
def test_a_trusted_certificate_with_another_subject_gets_403(cert_proxied, certs, name):
    _, _, https_port = cert_proxied
    assert https(https_port, "POST", "/webhook", client=certs[name], body=b"{}") == (
        403, b"client certificate is not TradingView's\n")


@pytest.mark.parametrize("name", ["self_signed", "other_ca"])
def test_a_look_alike_from_an_untrusted_issuer_gets_403(cert_proxied, certs, name):
    """The TLS handshake succeeds (nginx asks, never insists); the webhook location refuses."""
    _, _, https_port = cert_proxied
    assert https(https_port, "POST", "/webhook", client=certs[name], body=b"{}") == (
        403, b"client certificate not issued by a trusted CA\n")


def test_no_certificate_gets_403_over_https_and_plain_http(cert_proxied):
    _, http_port, https_port = cert_proxied
    assert https(https_port, "POST", "/webhook", body=b"{}") == (403, b"no client certificate\n")
    # TradingView sends its certificate only over https: with the opt-in, port 80 takes no alerts.
    assert request(http_port, "POST", "/webhook", body=b"{}", source=OWNER) == (403, b"no client certificate\n")


def test_the_allowlist_still_applies_with_tradingviews_certificate(cert_proxied, certs):
    _, _, https_port = cert_proxied
    assert https(https_port, "POST", "/webhook", client=certs["tradingview"], source="127.0.0.3",
                 body=b"{}")[0] == 403


def test_health_and_admin_pages_need_no_client_certificate(cert_proxied, certs):
    _, http_port, https_port = cert_proxied
    assert https(https_port, "GET", "/health", source="127.0.0.3")[0] == 200
    assert https(https_port, "GET", "/config")[0] == 200  # the owner, no certificate
    assert https(https_port, "GET", "/config", source="127.0.0.3")[0] == 403  # allowlist as before
    # A certificate that would not do for /webhook changes nothing elsewhere.
    for name in ("self_signed", "wrong_o"):
        assert https(https_port, "GET", "/health", client=certs[name], source="127.0.0.3")[0] == 200
        assert https(https_port, "GET", "/positions", client=certs[name])[0] == 200
    assert request(http_port, "GET", "/health")[0] == 301


def test_the_log_shows_what_certificate_came_and_keeps_the_secret_out(cert_proxied, certs):
    root, _, https_port = cert_proxied
    assert https(https_port, "POST", "/webhook/PathSecret0123456789", client=certs["tradingview"], body=b"{}")[0] == 200
    assert https(https_port, "POST", "/webhook/PathSecret0123456789", client=certs["self_signed"], body=b"{}")[0] == 403
    access = root / "log" / "novalgo.access.log"

    def webhook_lines():
        return [line for line in access.read_text().splitlines() if "/webhook" in line] if access.exists() else []

    wait_for(lambda: len(webhook_lines()) >= 2, "nginx access log lines for /webhook")
    lines = webhook_lines()
    logs = "".join(p.read_text(errors="replace") for p in (root / "log").iterdir())
    assert "PathSecret0123456789" not in logs
    assert '"POST /webhook/*** HTTP/1.1" 200' in lines[-2]
    # nginx writes the backslash before the O's comma as \x5C in its log.
    assert ('cert=SUCCESS subject="CN=TradingView Webhooks,O=TradingView\\x5C, Inc.,L=Westerville,ST=Ohio,C=US" '
            'issuer="CN=NovAlgo Test Root CA,O=NovAlgo Test"') in lines[-2]
    assert '"POST /webhook/*** HTTP/1.1" 403' in lines[-1] and "cert=FAILED:" in lines[-1]


# --- install.sh -----------------------------------------------------------------------------


def test_without_the_flag_the_nginx_config_is_exactly_the_shipped_one(tmp_path):
    root = tmp_path / "root"
    install(root, "--with-nginx", "bot.example.org")
    nginx = root / "etc/nginx"
    assert (nginx / "sites-available/novalgo.conf").read_text() == (
        (NGINX_DIR / "novalgo.conf").read_text().replace("novalgo.example.com", "bot.example.org"))
    assert sorted(p.name for p in (nginx / "snippets").iterdir()) == [
        "novalgo-common.conf", "novalgo-owner.conf", "novalgo-tradingview.conf"]
    for name in ("novalgo-common.conf", "novalgo-owner.conf", "novalgo-tradingview.conf"):
        assert (nginx / "snippets" / name).read_bytes() == (NGINX_DIR / "snippets" / name).read_bytes()
    assert "ssl_verify_client" not in "".join(p.read_text() for p in nginx.rglob("*.conf"))


def test_the_flag_adds_the_certificate_checks_and_nothing_else(tmp_path):
    plain, opted = tmp_path / "plain", tmp_path / "opted"
    install(plain, "--with-nginx", "bot.example.org")
    out = install(opted, "--with-nginx", "bot.example.org", "--require-tradingview-cert")
    site = (opted / "etc/nginx/sites-available/novalgo.conf").read_text()
    # The shipped site plus the include lines (and one blank line), nothing changed.
    kept = [line for line in site.splitlines() if line.strip() not in CERT_INCLUDES]
    plain_site = (plain / "etc/nginx/sites-available/novalgo.conf").read_text()
    assert [line for line in kept if line] == [line for line in plain_site.splitlines() if line]

    def block_of(line_index: int) -> str:
        """The server and location a line sits in, by the nearest opening lines above it."""
        above = site.splitlines()[:line_index]
        server = max(i for i, line in enumerate(above) if line.startswith("server {"))
        listen = next(line.strip() for line in above[server:] if line.strip().startswith("listen"))
        openers = [line.strip() for line in above[server:] if line.strip().startswith("location")]
        return f"{listen} | {openers[-1] if openers else 'server'}"

    lines = site.splitlines()
    maps, server, check = CERT_INCLUDES
    where = {inc: [block_of(i) for i, line in enumerate(lines) if line.strip() == inc] for inc in (server, check)}
    assert lines.index(maps) < lines.index("upstream novalgo_app {") < min(
        i for i, line in enumerate(lines) if line.startswith("server {"))
    assert where[server] == ["listen 443 ssl default_server; | server"]
    assert where[check] == ["listen 80 default_server; | location ~ ^/webhook(/|$) {",
                            "listen 443 ssl default_server; | location ~ ^/webhook(/|$) {"]
    snippets = opted / "etc/nginx/snippets"
    for name in CERT_SNIPPETS:
        assert (snippets / name).read_bytes() == (NGINX_DIR / "snippets" / name).read_bytes()
    assert "ssl_client_certificate /etc/ssl/certs/ca-certificates.crt;" in (
        snippets / "novalgo-tradingview-cert-server.conf").read_text()
    assert "ssl_verify_client optional_no_ca;" in (snippets / "novalgo-tradingview-cert-server.conf").read_text()
    assert any(line.startswith("would run: apt-get install") and "ca-certificates" in line
               for line in out.splitlines())


def test_the_opt_in_site_passes_nginx_t_with_the_system_bundle(tmp_path):
    nginx = nginx_binary()
    if not Path("/etc/ssl/certs/ca-certificates.crt").is_file():
        pytest.skip("no system CA bundle at /etc/ssl/certs/ca-certificates.crt (package ca-certificates)")
    root = tmp_path / "install"
    install(root, "--with-nginx", "novalgo.example.com", "--require-tradingview-cert")
    rendered = render_opt_in(tmp_path / "again", Path("/etc/ssl/certs/ca-certificates.crt"))
    assert (rendered / "snippets/novalgo-tradingview-cert-server.conf").read_bytes() == (
        root / "etc/nginx/snippets/novalgo-tradingview-cert-server.conf").read_bytes()
    main, _, _ = scratch_nginx(tmp_path / "nginx", 8000, owner=None, source=rendered)
    checked = nginx_check(nginx, tmp_path / "nginx", main)
    assert checked.returncode == 0 and "warn" not in checked.stderr, checked.stderr


def test_install_with_the_flag_twice_and_back_without_it(tmp_path):
    root, plain = tmp_path / "root", tmp_path / "plain"
    args = ("--with-nginx", "bot.example.org", "--owner-ip", "203.0.113.7")
    install(root, *args, "--require-tradingview-cert")
    first = tree(root)
    install(root, *args, "--require-tradingview-cert")
    assert tree(root) == first
    # Dropping the flag leaves the tree a plain install lays down.
    install(root, *args)
    install(plain, *args)
    assert {p: v for p, v in tree(root).items() if p.startswith("etc/nginx")} == {
        p: v for p, v in tree(plain).items() if p.startswith("etc/nginx")}
    install(root, *args, "--require-tradingview-cert")
    install(root, "--uninstall")
    assert not any("tradingview-cert" in p for p in tree(root))


def test_install_refuses_the_flag_without_nginx_or_with_a_bad_bundle(tmp_path):
    for args in (["--require-tradingview-cert"],
                 ["--with-nginx", "bot.example.org", "--require-tradingview-cert", "--tradingview-ca-bundle",
                  "relative.pem"],
                 ["--with-nginx", "bot.example.org", "--require-tradingview-cert", "--tradingview-ca-bundle",
                  "/etc/x.pem;ssl_verify_client off"],
                 ["--with-nginx", "bot.example.org", "--tradingview-ca-bundle", "/etc/nginx/tradingview-ca.pem"]):
        result = subprocess.run(["bash", str(INSTALL), "--root", str(tmp_path / "r"), *args],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "install.sh:" in result.stderr, args
