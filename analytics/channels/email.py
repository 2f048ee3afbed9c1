"""The report by email: HTML with the charts inline (cid), the CSVs attached, over SMTP."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from analytics.config import AnalyticsSettings
from novalgo.channels import send_mail, smtp_server


def chart_ids(charts: dict[str, Path]) -> dict[str, str]:
    """A Content-ID per chart, without the angle brackets (as ``cid:`` URLs want them)."""
    return {name: make_msgid(idstring=name, domain="novalgo.local")[1:-1] for name in charts}


def build_message(settings: AnalyticsSettings, subject: str, text: str, html: str,
                  charts: dict[str, Path], cids: dict[str, str], attachments: list[Path]) -> EmailMessage:
    """multipart/mixed[ alternative[ text, related[ html, png… ] ], csv… ]."""
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.notify.email_from
    msg["To"] = ", ".join(settings.notify.email_to)
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


def send(settings: AnalyticsSettings, msg: EmailMessage) -> str:
    """Send over SMTP: STARTTLS (or TLS on port 465), login when a user is set."""
    send_mail(smtp_server(settings.notify), msg)
    return f"sent to {', '.join(settings.notify.email_to)}"
