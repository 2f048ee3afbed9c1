"""Sending a report or threshold alerts to every configured channel, each isolated."""

from __future__ import annotations

from pathlib import Path

from analytics import render
from analytics.channels import Outcome, deliver
from analytics.config import AnalyticsSettings
from analytics.report import Report
from analytics.thresholds import Breach

CSV_NAMES = ("positions", "trades", "account")
CHART_NAMES = ("equity", "drawdown", "pnl")


def _charts(files: dict[str, Path]) -> dict[str, Path]:
    return {name: files[f"{name}_chart"] for name in CHART_NAMES if f"{name}_chart" in files}


def _csvs(files: dict[str, Path]) -> list[Path]:
    return [files[name] for name in CSV_NAMES if name in files]


def subject(report: Report, zone) -> str:
    when = report.as_of.astimezone(zone)
    return f"NovAlgo report {when:%a %d %b %Y} · {render.headline(report)[1][1]} ({report.snapshot.period})"


def write_preview(config: AnalyticsSettings, report: Report, files: dict[str, Path], zone) -> Path:
    """The email's HTML as a file beside the charts (which it shows by relative name)."""
    charts = _charts(files)
    attachments = [p.name for p in _csvs(files)]
    page = render.html(report, {n: p.name for n, p in charts.items()}, attachments, zone)
    suffix = files["positions"].stem.removeprefix("positions_")
    path = config.export_dir / f"report_{suffix}.html"
    path.write_text(page, encoding="utf-8")
    return path


def send_report(config: AnalyticsSettings, report: Report, files: dict[str, Path], zone) -> list[Outcome]:
    """The full report to email (HTML + charts + CSVs), SMS (summary), Slack (summary + chart)."""
    senders = {}
    title = subject(report, zone)
    summary = render.short_summary(report, zone)
    charts = _charts(files)
    if config.email_configured:
        def by_email() -> str:
            from analytics.channels import email

            cids = email.chart_ids(charts)
            page = render.html(report, {n: f"cid:{c}" for n, c in cids.items()}, [p.name for p in _csvs(files)], zone)
            text = summary + "\n\n" + render.metrics_text(report) + "\n\nThe full report is in the HTML part."
            msg = email.build_message(config, title, text, page, charts, cids, _csvs(files))
            return email.send(config, msg)
        senders["email"] = by_email
    if config.sms_configured:
        def by_sms() -> str:
            from analytics.channels import sms

            return sms.send(config, summary)
        senders["sms"] = by_sms
    if config.slack_configured:
        def by_slack() -> str:
            from analytics.channels import slack

            first, _, rest = summary.partition("\n")
            return slack.send(config, first, rest, charts.get("equity"))
        senders["slack"] = by_slack
    return deliver(senders)


def send_alerts(config: AnalyticsSettings, breaches: list[Breach], zone) -> list[Outcome]:
    """New threshold breaches, as one short message, to the channels chosen for alerts."""
    title = f"NovAlgo alert: {len(breaches)} threshold(s) crossed"
    body = "\n".join(f"• {b.message}" for b in breaches)
    wanted = [c for c in config.configured_channels() if c in config.alert_channels]
    senders = {}
    if "email" in wanted:
        def by_email() -> str:
            from analytics.channels import email

            return email.send(config, email.build_text_message(config, title, body))
        senders["email"] = by_email
    if "sms" in wanted:
        def by_sms() -> str:
            from analytics.channels import sms

            return sms.send(config, f"{title}\n{body}")
        senders["sms"] = by_sms
    if "slack" in wanted:
        def by_slack() -> str:
            from analytics.channels import slack

            return slack.send(config, title, body)
        senders["slack"] = by_slack
    return deliver(senders)
