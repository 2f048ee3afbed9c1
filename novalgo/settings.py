"""Settings read from the environment (and a ``.env`` file in development).

Every value is validated once, at start, and every problem is reported together so the
operator fixes them in one go. Secrets are kept out of ``repr`` so a logged settings
object never leaks them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets as _secrets
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Mapping, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from novalgo.clock import Clock, clock_starting_at, parse_instant
from novalgo.domain.guards import (
    FLATTEN_ON_MAX_LOSS,
    MAX_DAILY_LOSS,
    MAX_EXPOSURE,
    MAX_OPEN_POSITIONS,
    TRADING,
    AccountGuards,
    account_guards,
)
from novalgo.errors import SettingsError

# TradingView sends webhooks only from these addresses (its own documentation).
TRADINGVIEW_IPS = ("52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7")
LOOPBACK = ("127.0.0.0/8", "::1/128")
SECRET_FILE_NAME = "webhook_secret"
# The account-wide guards, as environment variables (the Settings tab has the same five).
GUARD_VARIABLES = {"NOVALGO_TRADING": TRADING, "NOVALGO_MAX_DAILY_LOSS": MAX_DAILY_LOSS,
                   "NOVALGO_FLATTEN_ON_MAX_LOSS": FLATTEN_ON_MAX_LOSS,
                   "NOVALGO_MAX_OPEN_POSITIONS": MAX_OPEN_POSITIONS, "NOVALGO_MAX_EXPOSURE": MAX_EXPOSURE}

log = logging.getLogger(__name__)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")


def _secret() -> "object":
    """A settings field that holds a secret: never shown by repr."""
    return field(default=None, repr=False)


LEVELS = ("all", "trades", "failures")  # what a notification channel is sent
# Old names still read for one release, with a warning at start naming the new one.
RENAMED = {"NOVALGO_SLACK_WEBHOOK_URL": "NOVALGO_NOTIFY_SLACK_WEBHOOK", "NOVALGO_EMAIL_TO": "NOVALGO_NOTIFY_EMAIL"}
TELEGRAM_API_URL = "https://api.telegram.org"


@dataclass(frozen=True)
class NotifySettings:
    """Every notification channel, read in one place: the live notices (the outbox) and the
    analytics reports and threshold alerts both go to what is configured here.

    Each channel is optional and has one environment name. Discord and Slack webhooks are full
    URLs (point them at a fake in tests); only Telegram needs a base address. The levels filter
    the live notices; a report goes to every channel configured. SMS (Twilio) carries reports
    and threshold alerts only; a Slack bot token lets a report upload its chart.
    """

    slack_webhook: str | None = _secret()  # the URL itself is the credential
    slack_level: str = "all"
    slack_bot_token: str | None = _secret()
    slack_channel: str | None = None
    slack_api_url: str | None = None
    discord_webhook: str | None = _secret()
    discord_level: str = "all"
    telegram_token: str | None = _secret()
    telegram_chat: str | None = None
    telegram_level: str = "all"
    telegram_api_url: str = TELEGRAM_API_URL
    email_to: tuple[str, ...] = ()
    email_level: str = "all"
    every: float = 5.0  # at most one message per channel this often; a burst shares one
    timeout: float = 20.0
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_user: str | None = None
    smtp_password: str | None = _secret()
    smtp_starttls: bool = True
    smtp_ca_file: Path | None = None
    email_from: str | None = None
    twilio_account_sid: str | None = _secret()
    twilio_auth_token: str | None = _secret()
    twilio_api_url: str | None = None
    sms_from: str | None = None
    sms_to: tuple[str, ...] = ()

    def channels(self) -> tuple[str, ...]:
        """The configured live channels' names."""
        wanted = {"slack": self.slack_webhook, "discord": self.discord_webhook,
                  "telegram": self.telegram_token and self.telegram_chat, "email": self.email_to}
        return tuple(name for name, value in wanted.items() if value)


@dataclass(frozen=True)
class ChatSettings:
    """Commands from a phone: the notification Telegram bot answers /status, /pause, ... by long
    polling (leader only); Slack posts its slash command to /slack/command (see novalgo/web/slack.py)."""

    telegram_commands: bool = True  # on whenever the Telegram notifications are configured
    # Chat and user ids obeyed; the notification chat is always among them.
    telegram_allowed: tuple[str, ...] = ()
    telegram_poll: float = 20.0  # seconds a getUpdates long poll waits for a message
    slack_signing_secret: str | None = _secret()
    slack_allowed: tuple[str, ...] = ()  # Slack user ids who may pause, resume or flatten
    # Discord's interactions endpoint (/discord/interactions): the application's public key (hex)
    # checks every request's Ed25519 signature; the user ids listed may act.
    discord_public_key: str | None = None
    discord_allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    # The web service.
    webhook_secret: str | None = _secret()
    admin_token: str | None = _secret()
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8000
    timezone: ZoneInfo = ZoneInfo("America/Los_Angeles")
    # TradingView's addresses and loopback unless told otherwise; None means any address ("*").
    allowed_ips: tuple[IPNetwork, ...] | None = field(default_factory=lambda: _allowed_ips(None))
    trusted_proxies: tuple[IPNetwork, ...] = ()
    max_alert_age: float = 120.0
    dedupe_window: float = 20.0  # TradingView re-sends a failed delivery 5 s apart, up to 3 times
    # Indicators whose names hold an action word ("Chandelier Exit"), beyond the ones NovAlgo knows.
    indicator_names: tuple[str, ...] = ()
    fill_wait: float = 20.0
    journal_sync: str = "full"
    run_background: bool = True
    # Rehearsals and tests: the service's clock starts at this instant and ticks on (never live).
    clock_start: datetime | None = None

    # The Google Sheet (local CSV files when sheet_id is unset).
    sheet_id: str | None = None
    google_credentials: Path = Path("credentials.json")
    sheets_api_url: str | None = None
    config_tab: str = "Config"
    performance_tab: str = "Performance"
    activity_tab: str = "Activity"
    config_ttl: float = 15.0

    # Alpaca (the simulated broker when the keys are unset).
    alpaca_key_id: str | None = _secret()
    alpaca_secret_key: str | None = _secret()
    live: bool = False
    alpaca_base_url: str | None = None
    alpaca_data_url: str | None = None
    alpaca_stream_url: str | None = None  # the trade updates WebSocket; Alpaca's own unless overridden
    outside_hours: str = "submit"
    cancel_other_orders: bool = True  # orders we did not place that block a close or flip
    # The leader's dispatcher is woken by every journalled alert; the poll is only a safety net.
    # Tests stretch the poll and switch the wake off to show each alone.
    dispatch_poll: float = 1.0
    wake: bool = True

    # Reporting.
    performance_interval: float = 300.0
    performance_days: int = 30
    activity_rows: int = 2000

    # Live notifications (Slack, Discord, Telegram, email), written by the leader from the outbox.
    notify: NotifySettings = field(default_factory=NotifySettings)
    # Commands from Telegram and Slack (pause, resume, flatten, status, ...).
    chat: ChatSettings = field(default_factory=ChatSettings)
    # Guard rails: these and the Settings tab both apply, the stricter of the two winning.
    guards: AccountGuards = AccountGuards()
    settings_tab: str = "Settings"

    @property
    def sheet_kind(self) -> str:
        return "google" if self.sheet_id else "local"

    @property
    def broker_kind(self) -> str:
        return "alpaca" if self.alpaca_key_id else "simulated"

    @property
    def mode(self) -> str:
        """What kind of money is at stake: simulated, paper or live."""
        if self.broker_kind == "simulated":
            return "simulated"
        return "live" if self.live else "paper"

    def make_clock(self) -> Clock:
        """The wall clock, or one starting at NOVALGO_CLOCK_START and ticking on."""
        return clock_starting_at(self.clock_start)

    @property
    def secret_file(self) -> Path:
        return self.data_dir / SECRET_FILE_NAME

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")) -> "Settings":
        """Read and validate every setting; raise SettingsError listing all problems."""
        env = merged_env(environ, dotenv)
        reader = EnvReader(env)
        data_dir = Path(reader.text("NOVALGO_DATA_DIR", "data"))
        values = dict(
            webhook_secret=reader.text("NOVALGO_WEBHOOK_SECRET") or _read_secret_file(data_dir / SECRET_FILE_NAME),
            admin_token=reader.text("NOVALGO_ADMIN_TOKEN"),
            data_dir=data_dir,
            host=reader.text("NOVALGO_HOST", "127.0.0.1"),
            port=reader.number("NOVALGO_PORT", 8000, int, low=1, high=65535),
            timezone=reader.parsed("NOVALGO_TIMEZONE", "America/Los_Angeles", _zone),
            allowed_ips=reader.parsed("NOVALGO_ALLOWED_IPS", None, _allowed_ips),
            trusted_proxies=reader.parsed("NOVALGO_TRUSTED_PROXIES", "", _networks),
            max_alert_age=reader.number("NOVALGO_MAX_ALERT_AGE", 120.0, float, low=1),
            dedupe_window=reader.number("NOVALGO_DEDUPE_SECONDS", 20.0, float, low=0),
            indicator_names=tuple(name.strip() for name in (reader.text("NOVALGO_INDICATOR_NAMES") or "").split(",")
                                  if name.strip()),
            fill_wait=reader.number("NOVALGO_FILL_WAIT", 20.0, float, low=0),
            journal_sync=reader.choice("NOVALGO_JOURNAL_SYNC", "full", ("full", "normal")),
            run_background=reader.flag("NOVALGO_RUN_BACKGROUND", True),
            clock_start=reader.parsed("NOVALGO_CLOCK_START", None, _instant),
            sheet_id=reader.text("NOVALGO_SHEET_ID"),
            google_credentials=Path(reader.text("GOOGLE_APPLICATION_CREDENTIALS", "credentials.json")),
            sheets_api_url=reader.text("NOVALGO_SHEETS_API_URL"),
            config_tab=reader.text("NOVALGO_CONFIG_TAB", "Config"),
            performance_tab=reader.text("NOVALGO_PERFORMANCE_TAB", "Performance"),
            activity_tab=reader.text("NOVALGO_ACTIVITY_TAB", "Activity"),
            config_ttl=reader.number("NOVALGO_CONFIG_TTL", 15.0, float, low=0.1),
            alpaca_key_id=reader.text("APCA_API_KEY_ID"),
            alpaca_secret_key=reader.text("APCA_API_SECRET_KEY"),
            live=reader.flag("NOVALGO_LIVE", False),
            alpaca_base_url=reader.text("APCA_API_BASE_URL"),
            alpaca_data_url=reader.text("APCA_API_DATA_URL"),
            alpaca_stream_url=reader.text("APCA_API_STREAM_URL"),
            outside_hours=reader.choice("NOVALGO_OUTSIDE_HOURS", "submit", ("submit", "skip")),
            cancel_other_orders=reader.flag("NOVALGO_CANCEL_OTHER_ORDERS", True),
            dispatch_poll=reader.number("NOVALGO_DISPATCH_POLL", 1.0, float, low=0.01),
            wake=reader.flag("NOVALGO_WAKE", True),
            performance_interval=reader.number("NOVALGO_PERFORMANCE_INTERVAL", 300.0, float, low=5),
            performance_days=reader.number("NOVALGO_PERFORMANCE_DAYS", 30, int, low=1, high=3650),
            activity_rows=reader.number("NOVALGO_ACTIVITY_ROWS", 2000, int, low=10, high=100000),
            notify=notify_settings(reader),
            chat=_chat_settings(reader),
            guards=_guards(reader),
            settings_tab=reader.text("NOVALGO_SETTINGS_TAB", "Settings"),
        )
        problems = reader.problems
        for warning in reader.warnings:
            log.warning("%s", warning)
        if bool(values["alpaca_key_id"]) != bool(values["alpaca_secret_key"]):
            problems.append("APCA_API_KEY_ID and APCA_API_SECRET_KEY must be set together")
        if values["live"] and not values["alpaca_key_id"]:
            problems.append("NOVALGO_LIVE=true needs APCA_API_KEY_ID and APCA_API_SECRET_KEY")
        if values["live"] and values["clock_start"] is not None:
            problems.append("NOVALGO_CLOCK_START pins the clock for rehearsals and tests; "
                            "unset it to trade live (NOVALGO_LIVE=true)")
        if problems:
            raise SettingsError(problems)
        return cls(**values)

    def describe(self) -> dict[str, object]:
        """Every setting as text, secrets shown only as set/unset (safe to log)."""
        shown: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            shown[f.name] = ("(set)" if value else "(unset)") if not f.repr else str(value)
        return shown


def notify_settings(r: "EnvReader") -> NotifySettings:
    """Every channel and the mail server, for the live notices and the reports alike."""
    ca_file = r.text("NOVALGO_SMTP_CA_FILE")
    notify = NotifySettings(
        slack_webhook=r.renamed("NOVALGO_NOTIFY_SLACK_WEBHOOK"),
        slack_level=r.choice("NOVALGO_NOTIFY_SLACK_LEVEL", "all", LEVELS),
        slack_bot_token=r.text("NOVALGO_SLACK_BOT_TOKEN"),
        slack_channel=r.text("NOVALGO_SLACK_CHANNEL"),
        slack_api_url=r.text("NOVALGO_SLACK_API_URL"),
        discord_webhook=r.text("NOVALGO_NOTIFY_DISCORD_WEBHOOK"),
        discord_level=r.choice("NOVALGO_NOTIFY_DISCORD_LEVEL", "all", LEVELS),
        telegram_token=r.text("NOVALGO_NOTIFY_TELEGRAM_TOKEN"),
        telegram_chat=r.text("NOVALGO_NOTIFY_TELEGRAM_CHAT"),
        telegram_level=r.choice("NOVALGO_NOTIFY_TELEGRAM_LEVEL", "all", LEVELS),
        telegram_api_url=r.text("NOVALGO_TELEGRAM_API_URL", TELEGRAM_API_URL),
        email_to=_addresses(r.renamed("NOVALGO_NOTIFY_EMAIL")),
        email_level=r.choice("NOVALGO_NOTIFY_EMAIL_LEVEL", "all", LEVELS),
        every=r.number("NOVALGO_NOTIFY_EVERY", 5.0, float, low=0.1, high=3600),
        timeout=r.number("NOVALGO_NOTIFY_TIMEOUT", 20.0, float, low=1, high=300),
        smtp_host=r.text("NOVALGO_SMTP_HOST"),
        smtp_port=r.number("NOVALGO_SMTP_PORT", 587, int, low=1, high=65535),
        smtp_user=r.text("NOVALGO_SMTP_USER"),
        smtp_password=r.text("NOVALGO_SMTP_PASSWORD"),
        smtp_starttls=r.flag("NOVALGO_SMTP_STARTTLS", True),
        smtp_ca_file=Path(ca_file) if ca_file else None,
        email_from=r.text("NOVALGO_EMAIL_FROM"),
        twilio_account_sid=r.text("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=r.text("TWILIO_AUTH_TOKEN"),
        twilio_api_url=r.text("NOVALGO_TWILIO_API_URL"),
        sms_from=r.text("NOVALGO_SMS_FROM"),
        sms_to=_addresses(r.text("NOVALGO_SMS_TO")),
    )
    if bool(notify.telegram_token) != bool(notify.telegram_chat):
        r.problems.append("NOVALGO_NOTIFY_TELEGRAM_TOKEN and NOVALGO_NOTIFY_TELEGRAM_CHAT must be set together")
    if notify.email_to and not (notify.smtp_host and notify.email_from):
        r.problems.append("NOVALGO_NOTIFY_EMAIL is set: also set NOVALGO_SMTP_HOST and NOVALGO_EMAIL_FROM")
    return notify


def _addresses(raw: str | None) -> tuple[str, ...]:
    return tuple(a.strip() for a in (raw or "").replace(";", ",").split(",") if a.strip())


def _ids(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").replace(";", ",").replace(" ", ",").split(",") if part.strip())


def _chat_settings(r: "EnvReader") -> ChatSettings:
    return ChatSettings(
        telegram_commands=r.flag("NOVALGO_TELEGRAM_COMMANDS", True),
        telegram_allowed=_ids(r.text("NOVALGO_TELEGRAM_ALLOWED")),
        telegram_poll=r.number("NOVALGO_TELEGRAM_POLL", 20.0, float, low=0, high=50),
        slack_signing_secret=r.text("NOVALGO_SLACK_SIGNING_SECRET"),
        slack_allowed=_ids(r.text("NOVALGO_SLACK_ALLOWED")),
        discord_public_key=r.parsed("NOVALGO_DISCORD_PUBLIC_KEY", None, _public_key),
        discord_allowed=_ids(r.text("NOVALGO_DISCORD_ALLOWED")),
    )


def _public_key(raw: str | None) -> str | None:
    """An Ed25519 public key as Discord shows it: 64 hex digits."""
    if raw is None:
        return None
    try:
        if len(bytes.fromhex(raw)) == 32:
            return raw.lower()
    except ValueError:
        pass
    raise ValueError("expected the application's public key: 64 hex digits (General Information)")


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold (fields kept out of repr), to scrub from outgoing text."""
    found = []
    for holder in (settings, settings.notify, settings.chat):
        for f in fields(holder):
            value = getattr(holder, f.name)
            if not f.repr and isinstance(value, str) and value:
                found.append(value)
    return found


def ensure_webhook_secret(settings: Settings) -> tuple[Settings, bool]:
    """Give the service a webhook secret, generating one into the data dir (mode 600) if none.

    Returns the settings and whether a new secret was created.
    """
    if settings.webhook_secret:
        return settings, False
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = _secrets.token_urlsafe(24)
    # An empty file (an editor, a full disk) is replaced; a file with a secret was read above.
    fd = os.open(settings.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return settings.with_overrides(webhook_secret=secret), True


def _read_secret_file(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def merged_env(environ: Mapping[str, str] | None, dotenv: Path | None) -> dict[str, str]:
    """The environment over a ``.env`` file's values (the file fills in what the environment lacks)."""
    env: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values

        env.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    env.update(os.environ if environ is None else environ)
    return env


def apply_env_file(path: Path) -> None:
    """Put a KEY=value file's settings in the environment where it has none (the environment wins).

    python-dotenv reads the systemd EnvironmentFile the service uses, values with spaces and
    all, which sourcing it in a shell would not: the cron jobs read the service's settings so.
    """
    from dotenv import dotenv_values

    for key, value in dotenv_values(path).items():
        if value is not None:
            os.environ.setdefault(key, value)


class EnvReader:
    """Reads typed values from an environment, collecting problems instead of raising."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        return value or default

    def renamed(self, name: str) -> str | None:
        """The variable's value, else its old name's (see RENAMED) with a warning naming the new one."""
        value = self.text(name)
        for old in (o for o, new in RENAMED.items() if new == name and self.text(o) is not None):
            if value is None:
                value = self.text(old)
                self.warnings.append(f"{old} is renamed {name}: set {name} instead (the old name is read "
                                     f"for one more release)")
            else:
                self.warnings.append(f"{old} is ignored: {name} is set (remove {old})")
        return value

    def parsed(self, name: str, default: str | None, parse: Callable[[str], T]) -> T:
        raw = self.text(name, default)
        try:
            return parse(raw)
        except ValueError as e:
            self.problems.append(f"{name}={raw!r}: {e}")
            return parse(default) if default is not None else None

    def number(self, name: str, default: T, kind: type, low: float | None = None, high: float | None = None) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = kind(raw)
        except ValueError:
            self.problems.append(f"{name}={raw!r}: expected {'a whole number' if kind is int else 'a number'}")
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.problems.append(f"{name}={raw!r}: must be {bounds}")
            return default
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{name}={raw!r}: expected true or false")
        return default

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = (self.text(name) or default).lower()
        if raw not in allowed:
            self.problems.append(f"{name}={raw!r}: expected one of {', '.join(allowed)}")
            return default
        return raw


def _guards(reader: EnvReader) -> AccountGuards:
    """NOVALGO_TRADING and the other account guards; a value that cannot be read is a problem."""
    values: dict[str, str] = {}
    for variable, name in GUARD_VARIABLES.items():
        raw = reader.text(variable)
        if raw is None:
            continue
        problems = account_guards({name: raw})[1]
        reader.problems += [f"{variable}={raw!r}: {problem}" for problem in problems]
        if not problems:
            values[name] = raw
    return account_guards(values)[0]


def _instant(raw: str | None) -> datetime | None:
    return None if raw is None else parse_instant(raw)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("not a known time zone (e.g. America/Los_Angeles)") from None


def _networks(raw: str) -> tuple[IPNetwork, ...]:
    nets = []
    for part in filter(None, (p.strip() for p in raw.replace(";", ",").split(","))):
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or network") from None
    return tuple(nets)


def _allowed_ips(raw: str | None) -> tuple[IPNetwork, ...] | None:
    if raw is None:
        return _networks(",".join(TRADINGVIEW_IPS + LOOPBACK))
    if raw.strip() == "*":
        return None
    return _networks(raw)
