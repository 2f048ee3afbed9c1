"""Posting a text to Slack, Discord, Telegram, by email or SMS, and the one registry of the
configured channels (``configured_channels``) that the service's outbox and the analytics
reports and threshold alerts share.

Each sender makes one attempt with a timeout and either returns a detail line or raises
``ChannelError`` saying why (never with the URL or token, which are the credentials). A rate
limit's wait (Slack's ``Retry-After``, Discord's ``retry_after``, Telegram's
``parameters.retry_after``) travels on the error, so the caller waits that long, not less.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from novalgo.settings import NotifySettings

DISCORD_LIMIT = 2000  # characters of ``content``
TELEGRAM_LIMIT = 4096  # characters of ``text``
SLACK_LIMIT = 40000  # Slack truncates a webhook's text beyond this
SMS_LIMIT = 600  # Twilio splits into segments and allows 1600; a text should stay short
# Characters per message the registry's channels send (a live burst is packed to fit).
LIMITS = {"slack": 3500, "discord": DISCORD_LIMIT, "telegram": TELEGRAM_LIMIT, "email": 20000, "sms": SMS_LIMIT}


class ChannelError(Exception):
    """A channel could not deliver: the message says why, without any secret."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def fit(text: str, limit: int) -> str:
    """The text cut to a channel's limit, marked where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def post_slack(url: str, text: str, *, timeout: float, blocks: list[dict] | None = None) -> str:
    """Post to a Slack incoming webhook (text, and blocks when given)."""
    from slack_sdk.errors import SlackClientError
    from slack_sdk.webhook import WebhookClient

    try:
        answer = WebhookClient(url, timeout=max(1, round(timeout))).send(text=fit(text, SLACK_LIMIT), blocks=blocks)
    except (SlackClientError, OSError) as e:
        raise ChannelError(f"slack: {type(e).__name__}: {e}") from e
    if answer.status_code == 429:
        raise ChannelError("slack: rate limited (429)", _seconds(_header(answer.headers, "Retry-After")))
    if answer.status_code != 200:
        # Webhooks answer errors as plain text, e.g. 404 "no_service" or 403 "invalid_token".
        raise ChannelError(f"slack: the webhook answered {answer.status_code} {answer.body[:200]!r}")
    return "posted by webhook"


def post_discord(url: str, text: str, *, timeout: float) -> str:
    """Execute a Discord webhook with ``content`` (204 No Content on success)."""
    status, headers, body = _post_json(url, {"content": fit(text, DISCORD_LIMIT)}, timeout, "discord")
    if status == 429:
        wait = _json(body).get("retry_after") or _header(headers, "Retry-After")
        raise ChannelError("discord: rate limited (429)", _seconds(wait))
    if status not in (200, 204):
        raise ChannelError(f"discord: the webhook answered {status} {_json(body).get('message', body[:200])!r}")
    return "posted by webhook"


def post_telegram(api_url: str, token: str, chat_id: str, text: str, *, timeout: float) -> str:
    """Bot API ``sendMessage`` to one chat (plain text)."""
    url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
    status, headers, body = _post_json(url, {"chat_id": chat_id, "text": fit(text, TELEGRAM_LIMIT)}, timeout, "telegram")
    answer = _json(body)
    if answer.get("ok") is True:
        return f"sent to chat {chat_id}"
    code = answer.get("error_code", status)
    if code == 429:
        raise ChannelError("telegram: rate limited (429)",
                           _seconds((answer.get("parameters") or {}).get("retry_after") or _header(headers, "Retry-After")))
    raise ChannelError(f"telegram: the Bot API answered {code} {answer.get('description', body[:200])!r}")


def telegram_updates(api_url: str, token: str, offset: int, *, poll: float, timeout: float) -> list[dict]:
    """Bot API ``getUpdates`` (a long poll of ``poll`` seconds) for messages from ``offset`` on.

    Asking with an offset confirms every update below it: Telegram does not send those again.
    """
    url = f"{api_url.rstrip('/')}/bot{token}/getUpdates"
    payload = {"offset": offset, "timeout": int(poll), "allowed_updates": ["message"]}
    status, headers, body = _post_json(url, payload, poll + timeout, "telegram")
    answer = _json(body)
    if answer.get("ok") is True and isinstance(answer.get("result"), list):
        return answer["result"]
    code = answer.get("error_code", status)
    if code == 429:
        raise ChannelError("telegram: rate limited (429)",
                           _seconds((answer.get("parameters") or {}).get("retry_after") or _header(headers, "Retry-After")))
    # 409: another getUpdates is running for this bot, or the bot has a webhook set.
    raise ChannelError(f"telegram: getUpdates answered {code} {answer.get('description', body[:200])!r}")


@dataclass(frozen=True)
class SmtpServer:
    """Where mail goes: STARTTLS (or TLS on port 465), a login when a user is set."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    ca_file: Path | None = None
    timeout: float = 20.0


def text_mail(sender: str, to: tuple[str, ...], subject: str, text: str) -> EmailMessage:
    """A plain-text message."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=True)
    msg.set_content(text)
    return msg


def send_mail(server: SmtpServer, msg: EmailMessage) -> str:
    """Send one message; refuses to send in clear text when STARTTLS is wanted and missing."""
    context = ssl.create_default_context(cafile=str(server.ca_file) if server.ca_file else None)
    host, port = server.host, server.port
    try:
        if port == 465:
            smtp = smtplib.SMTP_SSL(host, port, timeout=server.timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=server.timeout)
        with smtp:
            smtp.ehlo()
            if port != 465 and server.starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if server.user:
                smtp.login(server.user, server.password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as e:
        raise ChannelError(f"email: the SMTP server refused the login for {server.user} ({e.smtp_code})") from e
    except smtplib.SMTPNotSupportedError as e:
        raise ChannelError(f"email: {host}:{port} does not offer STARTTLS; refusing to send in clear text") from e
    except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
        raise ChannelError(f"email: cannot send through {host}:{port}: {e}") from e
    if refused:
        raise ChannelError(f"email: the server refused {', '.join(refused)}")
    return f"sent to {msg['To']}"


# -- the registry: every configured channel, for the live notices and the reports ---------------


@dataclass(frozen=True)
class Channel:
    name: str
    level: str  # which live notices it gets: all, trades or failures
    limit: int  # characters per message
    send: Callable[[str], str]  # one attempt; returns a detail line or raises ChannelError
    live: bool = True  # False: reports and threshold alerts only (SMS, a Slack bot without a webhook)


def configured_channels(notify: NotifySettings) -> list[Channel]:
    """Every channel the settings configure, each a sender of one text."""
    found = []
    timeout = notify.timeout
    if notify.slack_webhook:
        found.append(Channel("slack", notify.slack_level, LIMITS["slack"],
                             lambda text: post_slack(notify.slack_webhook, text, timeout=timeout)))
    elif notify.slack_bot_token:  # the live notices go by webhook, as they always have
        found.append(Channel("slack", notify.slack_level, LIMITS["slack"],
                             lambda text: post_slack_bot(notify.slack_api_url, notify.slack_bot_token,
                                                         notify.slack_channel, text, timeout=timeout), live=False))
    if notify.discord_webhook:
        found.append(Channel("discord", notify.discord_level, LIMITS["discord"],
                             lambda text: post_discord(notify.discord_webhook, text, timeout=timeout)))
    if notify.telegram_token and notify.telegram_chat:
        found.append(Channel("telegram", notify.telegram_level, LIMITS["telegram"],
                             lambda text: post_telegram(notify.telegram_api_url, notify.telegram_token,
                                                        notify.telegram_chat, text, timeout=timeout)))
    if notify.email_to and notify.smtp_host and notify.email_from:
        server = smtp_server(notify)

        def by_email(text: str) -> str:
            subject = text.splitlines()[0] if text else "NovAlgo"
            return send_mail(server, text_mail(notify.email_from, notify.email_to, subject, text))
        found.append(Channel("email", notify.email_level, LIMITS["email"], by_email))
    if notify.twilio_account_sid and notify.twilio_auth_token and notify.sms_to:
        found.append(Channel("sms", "all", LIMITS["sms"], lambda text: send_sms(notify, text), live=False))
    return found


def smtp_server(notify: NotifySettings) -> SmtpServer:
    """The mail server the settings name."""
    return SmtpServer(notify.smtp_host, notify.smtp_port, notify.smtp_user, notify.smtp_password,
                      notify.smtp_starttls, notify.smtp_ca_file, notify.timeout)


def post_slack_bot(api_url: str | None, token: str, channel: str, text: str, *, timeout: float,
                   blocks: list[dict] | None = None) -> str:
    """Web API ``chat.postMessage`` with a bot token, for a workspace without a webhook."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    base = (api_url or "https://slack.com/api/").rstrip("/") + "/"
    try:
        WebClient(token=token, base_url=base, timeout=max(1, round(timeout))).chat_postMessage(
            channel=channel, text=fit(text, SLACK_LIMIT), blocks=blocks)
    except SlackApiError as e:
        raise ChannelError(f"slack: the API said {e.response.get('error', e.response.status_code)}") from e
    except (SlackClientError, OSError) as e:
        raise ChannelError(f"slack: {type(e).__name__}: {e}") from e
    return f"posted to {channel}"


def send_sms(notify: NotifySettings, text: str) -> str:
    """Text every recipient by Twilio's Messages API; fail (after trying them all) if any was refused."""
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    client = Client(notify.twilio_account_sid, notify.twilio_auth_token,
                    http_client=TwilioHttpClient(timeout=notify.timeout))
    if notify.twilio_api_url:  # a Twilio-compatible endpoint, or a local fake in tests
        client.api.base_url = notify.twilio_api_url.rstrip("/")
    body = fit(text, SMS_LIMIT)
    sent, problems = [], []
    for to in notify.sms_to:
        try:
            sent.append(client.messages.create(to=to, from_=notify.sms_from, body=body).sid)
        except TwilioRestException as e:
            problems.append(f"{to}: Twilio {e.status} error {e.code}: {e.msg}")
        except (TwilioException, OSError) as e:
            problems.append(f"{to}: {type(e).__name__}: {e}")
    if problems:
        raise ChannelError("sms: " + "; ".join(problems))
    return f"{len(sent)} text(s) sent"


def _post_json(url: str, payload: dict, timeout: float, channel: str) -> tuple[int, dict, str]:
    """(status, headers, body text) of a JSON POST; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "NovAlgo"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers or {}), e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        # The URL holds the credential: name the failure, never the address.
        raise ChannelError(f"{channel}: cannot reach the service: {getattr(e, 'reason', e)}") from e


def _json(body: str) -> dict:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _header(headers, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None


def _seconds(value) -> float | None:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None
