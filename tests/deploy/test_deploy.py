"""The deployment files: systemd units, the installer, the settings templates.

`systemd-analyze verify` needs the binaries a unit names to exist, and a test machine has no
/opt/novalgo. So each unit is verified as a copy whose /opt/novalgo paths point into a scratch
root holding a stand-in gunicorn; every other line is checked exactly as shipped.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.install import install, tree

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "trading-bot.service"
PORT80_UNIT = REPO / "deploy" / "trading-bot-port80.service"
INSTALL = REPO / "deploy" / "install.sh"
ENV_TEMPLATE = REPO / "deploy" / "novalgo.env.example"
DEV_ENV = REPO / ".env.example"
SECRET_WORDS = {"SECRET", "TOKEN", "PASSWORD", "KEY", "SID"}
ASSIGNMENT = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (.ci/system-deps.sh installs it)")
    return found


def unit_entries(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) for every setting of a unit file, comments dropped."""
    entries, section = [], ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key, value))
    return entries


def unit_value(path: Path, key: str) -> str:
    values = [v for _, k, v in unit_entries(path) if k == key]
    assert len(values) == 1, (key, values)
    return values[0]


# --- systemd ---------------------------------------------------------------------------------


@pytest.fixture
def verifiable(tmp_path):
    """Copy a unit with /opt/novalgo moved into tmp_path, where a stand-in gunicorn exists."""
    gunicorn = tmp_path / "opt" / "novalgo" / ".venv" / "bin" / "gunicorn"
    gunicorn.parent.mkdir(parents=True)
    gunicorn.write_text("#!/bin/sh\n")
    gunicorn.chmod(0o755)

    def copy(unit: Path) -> Path:
        moved = tmp_path / unit.name
        moved.write_text(unit.read_text().replace("/opt/novalgo", f"{tmp_path}/opt/novalgo"))
        return moved
    return copy


@pytest.mark.parametrize("unit", [UNIT, PORT80_UNIT], ids=lambda p: p.name)
def test_unit_passes_systemd_analyze_verify(unit, verifiable):
    analyze = tool("systemd-analyze")
    result = subprocess.run([analyze, "verify", str(verifiable(unit))], capture_output=True, text=True, timeout=60)
    # verify exits 0 even on unknown keys or bad values; any message at all is a finding.
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stdout + result.stderr


@pytest.mark.parametrize("unit", [UNIT, PORT80_UNIT], ids=lambda p: p.name)
def test_unit_sandbox_rates_ok_with_systemd(unit, verifiable):
    analyze = tool("systemd-analyze")
    result = subprocess.run([analyze, "security", "--offline=yes", "--threshold=20", str(verifiable(unit))],
                            capture_output=True, text=True, timeout=60)
    exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
    assert result.returncode == 0 and exposure, result.stdout[-2000:] + result.stderr
    print(f"{unit.name}: systemd exposure {exposure.group(1)} (0 = locked down, 10 = exposed)")


def test_unit_runs_gunicorn_unprivileged_and_restarts():
    assert unit_value(UNIT, "ExecStart") == (
        "/opt/novalgo/.venv/bin/gunicorn -c /opt/novalgo/deploy/gunicorn.conf.py novalgo.wsgi:app")
    assert unit_value(UNIT, "WorkingDirectory") == "/opt/novalgo"
    assert unit_value(UNIT, "User") == "novalgo"
    assert unit_value(UNIT, "EnvironmentFile") == "/etc/novalgo/novalgo.env"
    assert ("Service", "Environment", "NOVALGO_DATA_DIR=/var/lib/novalgo") in unit_entries(UNIT)
    assert unit_value(UNIT, "StateDirectory") == "novalgo"
    assert unit_value(UNIT, "Restart") == "always" and unit_value(UNIT, "RestartSec") == "10"
    assert unit_value(UNIT, "ProtectSystem") == "strict"
    assert unit_value(UNIT, "ReadWritePaths") == "/var/lib/novalgo"
    assert unit_value(UNIT, "NoNewPrivileges") == "yes" and unit_value(UNIT, "PrivateTmp") == "yes"
    assert unit_value(UNIT, "CapabilityBoundingSet") == "" and unit_value(UNIT, "AmbientCapabilities") == ""


def test_unit_stops_gracefully_after_gunicorn_does():
    conf = runpy.run_path(str(REPO / "deploy" / "gunicorn.conf.py"))
    assert unit_value(UNIT, "KillSignal") == "SIGTERM"
    assert unit_value(UNIT, "KillMode") == "mixed"  # SIGTERM to the master; it drains its workers
    assert int(unit_value(UNIT, "TimeoutStopSec")) > conf["graceful_timeout"]


def test_port80_variant_differs_only_in_port_and_the_one_capability():
    main, port80 = set(unit_entries(UNIT)), set(unit_entries(PORT80_UNIT))
    assert main - port80 == {("Unit", "Conflicts", "trading-bot-port80.service"),
                             ("Service", "CapabilityBoundingSet", ""), ("Service", "AmbientCapabilities", "")}
    assert port80 - main == {("Unit", "Conflicts", "trading-bot.service"),
                             ("Service", "Environment", "NOVALGO_HOST=0.0.0.0 NOVALGO_PORT=80"),
                             ("Service", "CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
                             ("Service", "AmbientCapabilities", "CAP_NET_BIND_SERVICE")}


# --- install.sh ------------------------------------------------------------------------------


def test_install_twice_lays_down_the_same_tree(tmp_path):
    root = tmp_path / "root"
    install(root, "--with-nginx", "bot.example.org", "--owner-ip", "203.0.113.7")
    first = tree(root)
    install(root, "--with-nginx", "bot.example.org", "--owner-ip", "203.0.113.7")
    assert tree(root) == first

    for expected in ("opt/novalgo/novalgo/wsgi.py", "opt/novalgo/deploy/gunicorn.conf.py",
                     "etc/systemd/system/trading-bot.service", "etc/systemd/system/trading-bot-port80.service",
                     "etc/nginx/sites-available/novalgo.conf", "etc/nginx/snippets/novalgo-tradingview.conf",
                     "var/www/letsencrypt"):
        assert expected in first, expected
    assert first["etc/nginx/sites-enabled/novalgo.conf"] == ("link", "../sites-available/novalgo.conf")
    assert not any("__pycache__" in p or p.startswith("opt/novalgo/tests") for p in first)
    site = (root / "etc/nginx/sites-available/novalgo.conf").read_text()
    assert "/etc/letsencrypt/live/bot.example.org/fullchain.pem" in site and "example.com" not in site
    assert "allow 203.0.113.7;" in (root / "etc/nginx/snippets/novalgo-owner.conf").read_text()
    assert (root / "etc/systemd/system/trading-bot.service").read_bytes() == UNIT.read_bytes()
    if (REPO / "deploy" / "novalgo.cron").exists():
        assert first["etc/cron.d/novalgo"][1] == 0o644


def test_installed_env_file_is_private_and_holds_only_placeholders(tmp_path):
    root = tmp_path / "root"
    install(root)
    env_file = root / "etc/novalgo/novalgo.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "etc/novalgo").stat().st_mode) == 0o750
    assert env_file.read_text() == ENV_TEMPLATE.read_text()
    # With no secret in the env file, the service gets a generated one, private to it.
    secret = root / "var/lib/novalgo/webhook_secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text().strip()) >= 32


def test_install_keeps_the_owners_settings_and_secret(tmp_path):
    root = tmp_path / "root"
    install(root, "--with-nginx", "bot.example.org")
    env_file = root / "etc/novalgo/novalgo.env"
    env_file.write_text("NOVALGO_SHEET_ID=my-sheet\n")
    env_file.chmod(0o644)
    owner = root / "etc/nginx/snippets/novalgo-owner.conf"
    owner.write_text("allow 198.51.100.9;\n")
    secret = (root / "var/lib/novalgo/webhook_secret").read_text()
    out = install(root, "--with-nginx", "bot.example.org")
    assert env_file.read_text() == "NOVALGO_SHEET_ID=my-sheet\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # put back to private
    assert owner.read_text() == "allow 198.51.100.9;\n"
    assert (root / "var/lib/novalgo/webhook_secret").read_text() == secret
    assert "keeping your settings" in out


def test_install_in_a_scratch_root_only_prints_system_commands(tmp_path):
    out = install(tmp_path / "root", "--with-nginx", "bot.example.org", "--email", "owner@example.org")
    printed = [line for line in out.splitlines() if line.startswith("would run: ")]
    for command in ("apt-get install -y python3 python3-venv nginx certbot",
                    "useradd --system --user-group --home-dir /var/lib/novalgo",
                    "systemctl enable trading-bot.service", "systemctl restart trading-bot.service",
                    "certbot certonly --webroot -w /var/www/letsencrypt -d bot.example.org",
                    "--email owner@example.org", "pip install --quiet -r", "nginx -t"):
        assert any(command in line for line in printed), command


def test_install_port80_enables_the_port80_unit(tmp_path):
    out = install(tmp_path / "root", "--port80")
    assert "would run: systemctl enable trading-bot-port80.service" in out
    assert "would run: systemctl disable --now trading-bot.service" in out


def test_install_refuses_conflicting_or_bad_options(tmp_path):
    for args in (["--port80", "--with-nginx", "bot.example.org"], ["--with-nginx", "bad name;rm"],
                 ["--owner-ip", "not-an-ip"], ["--bogus"]):
        result = subprocess.run(["bash", str(INSTALL), "--root", str(tmp_path / "r"), *args],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "install.sh:" in result.stderr, args


def test_uninstall_keeps_settings_and_data_unless_purged(tmp_path):
    root = tmp_path / "root"
    install(root, "--with-nginx", "bot.example.org")
    install(root, "--uninstall")
    assert not (root / "opt/novalgo").exists()
    assert not (root / "etc/systemd/system/trading-bot.service").exists()
    assert not (root / "etc/nginx/sites-enabled/novalgo.conf").exists()
    assert (root / "etc/novalgo/novalgo.env").exists() and (root / "var/lib/novalgo/webhook_secret").exists()
    out = install(root, "--uninstall", "--purge")
    assert not (root / "etc/novalgo").exists() and not (root / "var/lib/novalgo").exists()
    assert "would run: userdel novalgo" in out


@pytest.mark.parametrize("script", [INSTALL, REPO / ".ci" / "system-deps.sh"], ids=lambda p: p.name)
def test_shell_scripts_parse_and_are_shellcheck_clean(script):
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    result = subprocess.run([tool("shellcheck"), str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


# --- settings templates ----------------------------------------------------------------------


def assignments(path: Path) -> list[tuple[bool, str, str]]:
    """(commented out?, name, value) for each NAME=value line, live or commented."""
    found = []
    for line in path.read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            found.append((bool(match.group(1)), match.group(2), match.group(3)))
    return found


@pytest.mark.parametrize("template", [ENV_TEMPLATE, DEV_ENV], ids=lambda p: p.name)
def test_env_templates_hold_placeholders_and_no_secret(template):
    entries = assignments(template)
    assert entries
    for commented, name, value in entries:
        if SECRET_WORDS & set(name.split("_")) or name.endswith("WEBHOOK_URL"):
            # A secret is never live in a template, and only ever an obvious <placeholder>.
            assert commented, f"{name} must be commented out in {template.name}"
            assert re.fullmatch(r"<[^<>]+>", value), f"{name}={value} is not a <placeholder>"
    live = {name: value for commented, name, value in entries if not commented}
    if template == ENV_TEMPLATE:
        assert live["NOVALGO_TRUSTED_PROXIES"] == "127.0.0.1"  # X-Forwarded-For from nginx only
        assert "NOVALGO_DATA_DIR" not in live  # would override the unit's /var/lib/novalgo


@pytest.mark.parametrize("template", [ENV_TEMPLATE, DEV_ENV], ids=lambda p: p.name)
def test_env_templates_document_every_setting_the_code_reads(template):
    sources = [REPO / "novalgo" / "settings.py", REPO / "analytics" / "config.py"]
    read = set()
    for source in filter(Path.exists, sources):
        read |= set(re.findall(r"\"((?:NOVALGO|APCA|TWILIO)_[A-Z0-9_]+|GOOGLE_APPLICATION_CREDENTIALS)\"",
                               source.read_text()))
    documented = {name for _, name, _ in assignments(template)}
    assert read and not read - documented, f"not in {template.name}: {sorted(read - documented)}"


def test_credentials_example_has_the_service_account_shape_and_no_key():
    info = json.loads((REPO / "credentials.example.json").read_text())
    assert info["type"] == "service_account"
    assert {"project_id", "private_key_id", "private_key", "client_email", "client_id", "token_uri"} <= set(info)
    assert "REPLACE" in info["private_key"]
    assert not re.search(r"[A-Za-z0-9+/=]{40,}", info["private_key"])  # nothing key-like in it
    from google.oauth2 import service_account

    with pytest.raises(ValueError):  # google-auth itself cannot use it as a key
        service_account.Credentials.from_service_account_info(info)


def test_git_ignores_the_real_secret_files():
    ignored = (REPO / ".gitignore").read_text().split()
    assert ".env" in ignored and "credentials.json" in ignored
