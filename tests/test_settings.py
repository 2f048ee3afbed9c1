"""Settings from the environment: sensible defaults, every bad value named at once, secrets never shown."""

from __future__ import annotations

import ipaddress
import os
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from novalgo.clock import SYSTEM_CLOCK
from novalgo.errors import SettingsError
from novalgo.settings import TRADINGVIEW_IPS, Settings, ensure_webhook_secret

HOOK_SECRET = "hook-s3cret-value"
ADMIN_TOKEN = "admin-t0ken-value"
KEY_ID = "PKPLACEHOLDERKEYID"
SECRET_KEY = "placeholder-alpaca-secret-key"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment whose data dir is private to the test."""
    return {"NOVALGO_DATA_DIR": str(tmp_path / "data")}


def load(env: dict[str, str], dotenv: Path | None = None) -> Settings:
    return Settings.from_env(env, dotenv=dotenv)


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as refused:
        load(env)
    return refused.value.problems


def test_defaults_run_locally_on_simulated_money(env, tmp_path):
    settings = load(env)
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.timezone.key == "America/Los_Angeles"
    assert settings.data_dir == tmp_path / "data"
    assert settings.webhook_secret is None and settings.admin_token is None
    assert (settings.sheet_kind, settings.broker_kind, settings.mode) == ("local", "simulated", "simulated")
    assert settings.live is False
    assert settings.max_alert_age == 120.0
    assert settings.dedupe_window == 20.0  # covers TradingView's 3 re-sends, 5 s apart


def test_the_data_dir_defaults_to_data_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert load({}).data_dir == Path("data")


def test_by_default_only_tradingview_and_loopback_may_post():
    allowed = load({"NOVALGO_DATA_DIR": "unused"}).allowed_ips
    assert allowed is not None

    def allows(address: str) -> bool:
        return any(ipaddress.ip_address(address) in net for net in allowed)

    assert all(allows(ip) for ip in TRADINGVIEW_IPS)
    assert allows("127.0.0.1") and allows("::1")
    assert not allows("8.8.8.8")


def test_a_star_allows_any_address(env):
    assert load({**env, "NOVALGO_ALLOWED_IPS": "*"}).allowed_ips is None


def test_allowed_ips_take_networks_and_addresses(env):
    allowed = load({**env, "NOVALGO_ALLOWED_IPS": "10.0.0.0/8, 192.0.2.7; ::1"}).allowed_ips
    assert [str(net) for net in allowed] == ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]


def test_alpaca_keys_mean_paper_trading_and_live_needs_saying_so(env):
    keys = {**env, "APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET_KEY}
    assert load(keys).mode == "paper"
    assert load({**keys, "NOVALGO_LIVE": "true"}).mode == "live"


@pytest.mark.parametrize("name, value, message", [
    ("NOVALGO_PORT", "eighty", "NOVALGO_PORT='eighty': expected a whole number"),
    ("NOVALGO_PORT", "70000", "NOVALGO_PORT='70000': must be between 1 and 65535"),
    ("NOVALGO_PORT", "0", "NOVALGO_PORT='0': must be between 1 and 65535"),
    ("NOVALGO_TIMEZONE", "Mars/Olympus_Mons", "NOVALGO_TIMEZONE='Mars/Olympus_Mons': not a known time zone"),
    ("NOVALGO_ALLOWED_IPS", "52.89.214.238, 300.1.1.1", "NOVALGO_ALLOWED_IPS='52.89.214.238, 300.1.1.1': '300.1.1.1' is not an IP address"),
    ("NOVALGO_TRUSTED_PROXIES", "my-proxy", "NOVALGO_TRUSTED_PROXIES='my-proxy': 'my-proxy' is not an IP address"),
    ("NOVALGO_MAX_ALERT_AGE", "two minutes", "NOVALGO_MAX_ALERT_AGE='two minutes': expected a number"),
    ("NOVALGO_MAX_ALERT_AGE", "0", "NOVALGO_MAX_ALERT_AGE='0': must be at least 1"),
    ("NOVALGO_LIVE", "maybe", "NOVALGO_LIVE='maybe': expected true or false"),
    ("NOVALGO_OUTSIDE_HOURS", "wait", "NOVALGO_OUTSIDE_HOURS='wait': expected one of submit, skip"),
])
def test_each_bad_value_is_named(env, name, value, message):
    found = problems({**env, name: value})
    assert len(found) == 1 and found[0].startswith(message)


@pytest.mark.parametrize("half", [{"APCA_API_KEY_ID": KEY_ID}, {"APCA_API_SECRET_KEY": SECRET_KEY}])
def test_half_set_alpaca_keys_are_refused(env, half):
    assert problems({**env, **half}) == ["APCA_API_KEY_ID and APCA_API_SECRET_KEY must be set together"]


def test_live_without_keys_is_refused(env):
    assert problems({**env, "NOVALGO_LIVE": "yes"}) == [
        "NOVALGO_LIVE=true needs APCA_API_KEY_ID and APCA_API_SECRET_KEY"]


def test_a_pinned_clock_start_is_read_with_its_offset_and_refused_for_live_money(env):
    start = load({**env, "NOVALGO_CLOCK_START": "2026-12-07T16:30:00-05:00"}).make_clock()
    assert abs(start() - datetime(2026, 12, 7, 21, 30, tzinfo=timezone.utc).timestamp()) < 60
    assert load(env).make_clock() is SYSTEM_CLOCK
    assert problems({**env, "NOVALGO_CLOCK_START": "2026-12-07T16:30:00"}) == [
        "NOVALGO_CLOCK_START='2026-12-07T16:30:00': expected an ISO time with an offset, e.g. 2026-03-11T11:00:00-04:00"]
    keys = {**env, "APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET_KEY, "NOVALGO_LIVE": "true"}
    assert problems({**keys, "NOVALGO_CLOCK_START": "2026-12-07T16:30:00-05:00"}) == [
        "NOVALGO_CLOCK_START pins the clock for rehearsals and tests; unset it to trade live (NOVALGO_LIVE=true)"]


def test_every_problem_is_reported_at_once(env):
    found = problems({**env, "NOVALGO_PORT": "eighty", "NOVALGO_TIMEZONE": "Nowhere/Land",
                      "NOVALGO_ALLOWED_IPS": "not-an-ip", "NOVALGO_MAX_ALERT_AGE": "soon",
                      "APCA_API_SECRET_KEY": SECRET_KEY, "NOVALGO_LIVE": "1"})
    named = [problem.split("=")[0].split(" ")[0] for problem in found]
    assert named == ["NOVALGO_PORT", "NOVALGO_TIMEZONE", "NOVALGO_ALLOWED_IPS", "NOVALGO_MAX_ALERT_AGE",
                     "APCA_API_KEY_ID", "NOVALGO_LIVE"]
    # The message never echoes a secret even when the secret is part of what is wrong.
    assert SECRET_KEY not in str(SettingsError(found))


def test_secrets_never_appear_in_repr_or_describe(env):
    settings = load({**env, "NOVALGO_WEBHOOK_SECRET": HOOK_SECRET, "NOVALGO_ADMIN_TOKEN": ADMIN_TOKEN,
                     "APCA_API_KEY_ID": KEY_ID, "APCA_API_SECRET_KEY": SECRET_KEY})
    assert settings.webhook_secret == HOOK_SECRET  # it is there to be used...
    shown = [repr(settings), str(settings), repr(settings.describe()), str(settings.describe())]
    for text in shown:  # ...but never shown
        for secret in (HOOK_SECRET, ADMIN_TOKEN, KEY_ID, SECRET_KEY):
            assert secret not in text
    described = settings.describe()
    assert described["webhook_secret"] == "(set)" and described["alpaca_secret_key"] == "(set)"
    assert load(env).describe()["webhook_secret"] == "(unset)"
    assert described["port"] == "8000" and described["timezone"] == "America/Los_Angeles"


def test_a_dotenv_file_is_read_and_the_environment_wins(env, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# development settings\nNOVALGO_PORT=9000\nNOVALGO_TIMEZONE=UTC\n"
                      f"NOVALGO_WEBHOOK_SECRET={HOOK_SECRET}\n")
    settings = load({**env, "NOVALGO_PORT": "9100"}, dotenv=dotenv)
    assert settings.port == 9100  # the environment
    assert settings.timezone.key == "UTC"  # the file
    assert settings.webhook_secret == HOOK_SECRET


def test_the_dotenv_in_the_working_directory_is_read_by_default(env, tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("NOVALGO_PORT=9200\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env(env).port == 9200


def test_a_bad_value_in_the_dotenv_file_is_reported_too(env, tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("NOVALGO_PORT=http\n")
    with pytest.raises(SettingsError, match="NOVALGO_PORT='http'"):
        load(env, dotenv=dotenv)


def test_a_generated_webhook_secret_is_private_and_reused(env):
    settings = load(env)
    settings, created = ensure_webhook_secret(settings)
    assert created is True
    secret_file = settings.secret_file
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert len(settings.webhook_secret) >= 24
    assert secret_file.read_text().strip() == settings.webhook_secret

    again = load(env)  # the next start reads it back
    assert again.webhook_secret == settings.webhook_secret
    again, created = ensure_webhook_secret(again)
    assert created is False and again.webhook_secret == settings.webhook_secret
    assert HOOK_SECRET not in repr(again) and settings.webhook_secret not in repr(again)


def test_a_configured_webhook_secret_writes_no_file(env):
    settings, created = ensure_webhook_secret(load({**env, "NOVALGO_WEBHOOK_SECRET": HOOK_SECRET}))
    assert created is False and settings.webhook_secret == HOOK_SECRET
    assert not settings.secret_file.exists()


def test_the_environment_secret_wins_over_the_generated_file(env):
    ensure_webhook_secret(load(env))
    assert load({**env, "NOVALGO_WEBHOOK_SECRET": HOOK_SECRET}).webhook_secret == HOOK_SECRET


# -- the command line refuses to start -------------------------------------------------------------

def test_serve_refuses_a_bad_port_with_exit_code_2(env, tmp_path, monkeypatch):
    from novalgo.cli import main

    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith(("NOVALGO_", "APCA_"))]:
        monkeypatch.delenv(name)
    result = CliRunner().invoke(main, ["serve"], env={**env, "NOVALGO_PORT": "eighty"})
    assert result.exit_code == 2
    assert "cannot start, fix these settings" in result.stderr
    assert "NOVALGO_PORT='eighty': expected a whole number" in result.stderr
    assert not (tmp_path / "data").exists()  # nothing was created before refusing


def test_python_dash_m_novalgo_serve_refuses_a_bad_port(env, tmp_path):
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("NOVALGO_", "APCA_"))}
    child_env.update(env, NOVALGO_PORT="99999", NOVALGO_TIMEZONE="Atlantis/Capital")
    done = subprocess.run([sys.executable, "-m", "novalgo", "serve"], cwd=tmp_path, env=child_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "NOVALGO_PORT='99999': must be between 1 and 65535" in done.stderr
    assert "NOVALGO_TIMEZONE='Atlantis/Capital'" in done.stderr
    assert "Webhook URL" not in done.stdout


def test_an_emptied_secret_file_does_not_crash_the_start(env, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "webhook_secret").write_text("\n")
    settings, created = ensure_webhook_secret(load(env))
    assert created and settings.webhook_secret
    assert (tmp_path / "data" / "webhook_secret").read_text().strip() == settings.webhook_secret
    assert (tmp_path / "data" / "webhook_secret").stat().st_mode & 0o777 == 0o600


# -- one name per notification channel; the old names work for a release, with a warning -------

OLD_HOOK = "https://hooks.slack.example/services/T000/B000/old-name-hook"


def test_an_old_channel_name_still_configures_the_channel_and_warns_naming_the_new_one(env, caplog):
    from novalgo.channels import configured_channels

    env.update({"NOVALGO_SLACK_WEBHOOK_URL": OLD_HOOK, "NOVALGO_EMAIL_TO": "trader@example.com",
                "NOVALGO_SMTP_HOST": "mail.example.com", "NOVALGO_EMAIL_FROM": "bot@example.com"})
    with caplog.at_level("WARNING", logger="novalgo.settings"):
        settings = load(env)
    assert settings.notify.slack_webhook == OLD_HOOK and settings.notify.email_to == ("trader@example.com",)
    assert [c.name for c in configured_channels(settings.notify)] == ["slack", "email"]  # live notices and reports
    warned = caplog.text
    assert "NOVALGO_SLACK_WEBHOOK_URL is renamed NOVALGO_NOTIFY_SLACK_WEBHOOK" in warned
    assert "NOVALGO_EMAIL_TO is renamed NOVALGO_NOTIFY_EMAIL" in warned
    assert OLD_HOOK not in warned


def test_the_new_channel_name_wins_over_the_old_and_the_old_is_named_as_ignored(env, caplog):
    env.update({"NOVALGO_NOTIFY_SLACK_WEBHOOK": "https://hooks.slack.example/services/new",
                "NOVALGO_SLACK_WEBHOOK_URL": OLD_HOOK})
    with caplog.at_level("WARNING", logger="novalgo.settings"):
        settings = load(env)
    assert settings.notify.slack_webhook == "https://hooks.slack.example/services/new"
    assert "NOVALGO_SLACK_WEBHOOK_URL is ignored: NOVALGO_NOTIFY_SLACK_WEBHOOK is set" in caplog.text


def test_the_new_names_alone_start_without_a_warning(env, caplog):
    env.update({"NOVALGO_NOTIFY_SLACK_WEBHOOK": "https://hooks.slack.example/services/new",
                "NOVALGO_NOTIFY_EMAIL": "trader@example.com", "NOVALGO_SMTP_HOST": "mail.example.com",
                "NOVALGO_EMAIL_FROM": "bot@example.com"})
    with caplog.at_level("WARNING", logger="novalgo.settings"):
        load(env)
    assert "renamed" not in caplog.text and "ignored" not in caplog.text


def test_sms_and_a_slack_bot_without_a_webhook_carry_reports_not_live_notices(env):
    from novalgo.channels import configured_channels
    from novalgo.engine.outbox import live_channels

    env.update({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "tok", "NOVALGO_SMS_FROM": "+15005550006",
                "NOVALGO_SMS_TO": "+15551234567", "NOVALGO_SLACK_BOT_TOKEN": "xoxb-1", "NOVALGO_SLACK_CHANNEL": "#t"})
    notify = load(env).notify
    assert [c.name for c in configured_channels(notify)] == ["slack", "sms"] and live_channels(notify) == []
