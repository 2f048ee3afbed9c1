"""Settings only the analytics suite uses (thresholds, exports, the report's period).

Read from the environment (and ``.env``) the same way as ``novalgo.settings``: every problem
reported together, secrets kept out of ``repr``. The common settings (data dir, time zone,
broker keys) and every channel (``NotifySettings``: mail, SMS, Slack, Discord, Telegram) stay
in ``novalgo.settings.Settings``, read once for the service and the reports alike.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Mapping

from novalgo.errors import SettingsError
from novalgo.settings import EnvReader, NotifySettings, Settings, merged_env, notify_settings

CHANNELS = ("email", "sms", "slack", "discord", "telegram")


@dataclass(frozen=True)
class Thresholds:
    """When to text the trader. ``None`` switches a check off."""

    daily_loss_pct: Decimal | None = Decimal("3")
    drawdown_pct: Decimal | None = Decimal("10")
    position_share_pct: Decimal | None = Decimal("25")
    failed_orders: bool = True
    failed_window_minutes: int = 60
    heartbeat_minutes: int | None = 10


@dataclass(frozen=True)
class AnalyticsSettings:
    export_dir: Path = Path("data/exports")
    state_file: Path = Path("data/analytics_state.json")
    journal_file: Path = Path("data/journal.sqlite3")
    benchmark_symbol: str = "SPY"
    period: str = "1M"
    risk_free_rate: float = 0.0  # annual, 0.05 = 5%
    notify: NotifySettings = NotifySettings()  # the channels, the same settings the service notifies by
    thresholds: Thresholds = Thresholds()
    alert_channels: tuple[str, ...] = CHANNELS

    @property
    def timeout(self) -> float:
        """Seconds for every outside call (NOVALGO_NOTIFY_TIMEOUT)."""
        return self.notify.timeout

    def configured_channels(self) -> tuple[str, ...]:
        """The channels a report goes to: the one registry's, the service's live channels and SMS."""
        from novalgo.channels import configured_channels

        present = {channel.name for channel in configured_channels(self.notify)}
        return tuple(c for c in CHANNELS if c in present)

    def describe(self) -> dict[str, str]:
        """Every setting as text, secrets shown only as set/unset (safe to print)."""
        return {
            f.name: (("(set)" if getattr(self, f.name) else "(unset)") if not f.repr else str(getattr(self, f.name)))
            for f in fields(self)
        }

    @classmethod
    def from_env(cls, settings: Settings, environ: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")) -> "AnalyticsSettings":
        """Read and validate the analytics settings; raise SettingsError listing all problems."""
        r = EnvReader(merged_env(environ, dotenv))
        data = settings.data_dir
        values = dict(
            export_dir=Path(r.text("NOVALGO_EXPORT_DIR") or data / "exports"),
            state_file=Path(r.text("NOVALGO_ANALYTICS_STATE") or data / "analytics_state.json"),
            journal_file=data / "journal.sqlite3",
            benchmark_symbol=(r.text("NOVALGO_BENCHMARK", "SPY") or "SPY").upper(),
            period=r.parsed("NOVALGO_REPORT_PERIOD", "1M", parse_period_text),
            risk_free_rate=r.number("NOVALGO_RISK_FREE_RATE", 0.0, float, low=-0.5, high=1.0),
            notify=notify_settings(r),  # the one reader of the channels, the service's own
            thresholds=Thresholds(
                daily_loss_pct=r.parsed("NOVALGO_ALERT_DAILY_LOSS_PCT", "3", _percent),
                drawdown_pct=r.parsed("NOVALGO_ALERT_DRAWDOWN_PCT", "10", _percent),
                position_share_pct=r.parsed("NOVALGO_ALERT_POSITION_PCT", "25", _percent),
                failed_orders=r.flag("NOVALGO_ALERT_FAILED_ORDERS", True),
                failed_window_minutes=r.number("NOVALGO_ALERT_FAILED_WINDOW_MINUTES", 60, int, low=1, high=1440),
                heartbeat_minutes=r.parsed("NOVALGO_ALERT_HEARTBEAT_MINUTES", "10", _minutes),
            ),
            alert_channels=r.parsed("NOVALGO_ALERT_CHANNELS", ",".join(CHANNELS), _channels),
        )
        problems = r.problems + _missing_partners(values)
        if problems:
            raise SettingsError(problems)
        return cls(**values)


def parse_period_text(raw: str) -> str:
    """Check a period like ``5D``, ``2W``, ``1M``, ``3M``, ``1A`` (A = year, as Alpaca writes it)."""
    text = raw.strip().upper()
    if len(text) < 2 or not text[:-1].isdigit() or text[-1] not in "DWMA" or int(text[:-1]) < 1:
        raise ValueError("expected a number and a unit D, W, M or A, e.g. 1M, 3M, 1A")
    return text


def _missing_partners(values: dict) -> list[str]:
    """What a report needs beyond what the service checks: a whole address, a whole Twilio account."""
    v = values["notify"]
    problems = []
    if v.smtp_host and not (v.email_from and v.email_to):
        problems.append("NOVALGO_SMTP_HOST is set: also set NOVALGO_EMAIL_FROM and NOVALGO_NOTIFY_EMAIL")
    if bool(v.smtp_user) != bool(v.smtp_password):
        problems.append("NOVALGO_SMTP_USER and NOVALGO_SMTP_PASSWORD must be set together")
    if bool(v.twilio_account_sid) != bool(v.twilio_auth_token):
        problems.append("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set together")
    if v.twilio_account_sid and not (v.sms_from and v.sms_to):
        problems.append("Twilio is set: also set NOVALGO_SMS_FROM and NOVALGO_SMS_TO")
    if v.slack_bot_token and not v.slack_channel:
        problems.append("NOVALGO_SLACK_BOT_TOKEN is set: also set NOVALGO_SLACK_CHANNEL")
    if v.smtp_ca_file and not v.smtp_ca_file.is_file():
        problems.append(f"NOVALGO_SMTP_CA_FILE: no such file {v['smtp_ca_file']}")
    return problems


def _split(raw: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (raw or "").replace(";", ",").split(",") if p.strip())


def _off(raw: str) -> bool:
    return raw.strip().lower() in ("", "0", "off", "none", "false", "no")


def _percent(raw: str) -> Decimal | None:
    if _off(raw):
        return None
    try:
        value = Decimal(raw.strip().rstrip("%"))
    except InvalidOperation:
        raise ValueError("expected a percentage like 5 or 2.5, or off") from None
    if not value.is_finite() or value <= 0 or value > 100:
        raise ValueError("expected a percentage between 0 and 100, or off")
    return value


def _minutes(raw: str) -> int | None:
    if _off(raw):
        return None
    if not raw.strip().isdigit():
        raise ValueError("expected whole minutes, or off")
    return int(raw)


def _channels(raw: str) -> tuple[str, ...]:
    chosen = tuple(c.lower() for c in _split(raw))
    unknown = [c for c in chosen if c not in CHANNELS]
    if unknown:
        raise ValueError(f"unknown channel {unknown[0]!r}: choose from {', '.join(CHANNELS)}")
    return chosen
