"""The report by email: HTML with the charts inline (cid), the CSVs attached, over SMTP."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from analytics.channels import ChannelError
from analytics.config import AnalyticsSettings


def chart_ids(charts: dict[str, Path]) -> dict[str, str]:
    """A Content-ID per chart, without the angle brackets (as ``cid:`` URLs want them)."""
    return {name: make_msgid(idstring=name, domain="novalgo.local")[1:-1] for name in charts}


def build_message(settings: AnalyticsSettings, subject: str, text: str, html: str,
                  charts: dict[str, Path], cids: dict[str, str], attachments: list[Path]) -> EmailMessage:
    """multipart/mixed[ alternative[ text, related[ html, png… ] ], csv… ]."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.email_from
    msg["To"] = ", ".join(settings.email_to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(idstring="report", domain="novalgo.local")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]
    for name, path in charts.items():
        html_part.add_related(path.read_bytes(), maintype="image", subtype="png",
                              cid=f"<{cids[name]}>", filename=path.name, disposition="inline")
    for path in attachments:
        msg.add_attachment(path.read_bytes(), maintype="text", subtype="csv", filename=path.name)
    return msg


def build_text_message(settings: AnalyticsSettings, subject: str, text: str) -> EmailMessage:
    """A plain message, for threshold alerts."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.email_from
    msg["To"] = ", ".join(settings.email_to)
    msg["Date"] = formatdate(localtime=True)
    msg.set_content(text)
    return msg


def send(settings: AnalyticsSettings, msg: EmailMessage) -> str:
    """Send over SMTP: STARTTLS (or TLS on port 465), login when a user is set."""
    context = ssl.create_default_context(cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None)
    host, port = settings.smtp_host, settings.smtp_port
    try:
        if port == 465:
            smtp = smtplib.SMTP_SSL(host, port, timeout=settings.timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=settings.timeout)
        with smtp:
            smtp.ehlo()
            if port != 465 and settings.smtp_starttls:
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            refused = smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as e:
        raise ChannelError(f"email: the SMTP server refused the login for {settings.smtp_user} ({e.smtp_code})") from e
    except smtplib.SMTPNotSupportedError as e:
        raise ChannelError(f"email: {host}:{port} does not offer STARTTLS; refusing to send in clear text") from e
    except (smtplib.SMTPException, ssl.SSLError, OSError) as e:
        raise ChannelError(f"email: cannot send through {host}:{port}: {e}") from e
    if refused:
        raise ChannelError(f"email: the server refused {', '.join(refused)}")
    return f"sent to {', '.join(settings.email_to)}"
