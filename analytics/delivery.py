"""Sending a report or threshold alerts to every configured channel, each isolated."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

from analytics import render
from analytics.channels import Outcome, deliver
from analytics.config import CHANNELS, AnalyticsSettings
from analytics.report import Report
from analytics.thresholds import Breach
from novalgo.channels import configured_channels, text_mail

Sender = Callable[[], str]  # one attempt at one channel; returns a detail line or raises ChannelError
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
    """The full report to email (HTML + charts + CSVs), Slack (summary + chart), every other
    configured channel (the summary)."""
    title = subject(report, zone)
    summary = render.short_summary(report, zone)
    charts = _charts(files)

    def by_email() -> str:
        from analytics.channels import email

        cids = email.chart_ids(charts)
        page = render.html(report, {n: f"cid:{c}" for n, c in cids.items()}, [p.name for p in _csvs(files)], zone)
        text = summary + "\n\n" + render.metrics_text(report) + "\n\nThe full report is in the HTML part."
        return email.send(config, email.build_message(config, title, text, page, charts, cids, _csvs(files)))

    def by_slack() -> str:
        from analytics.channels import slack

        first, _, rest = summary.partition("\n")
        return slack.send(config, first, rest, charts.get("equity"))

    return deliver(_senders(config, summary, {"email": by_email, "slack": by_slack}))


def send_alerts(config: AnalyticsSettings, breaches: list[Breach], zone) -> list[Outcome]:
    """New threshold breaches, as one short message, to the channels chosen for alerts."""
    title = f"NovAlgo alert: {len(breaches)} threshold(s) crossed"
    body = "\n".join(f"• {b.message}" for b in breaches)

    def by_email() -> str:
        from analytics.channels import email

        return email.send(config, text_mail(config.notify.email_from, config.notify.email_to, title, body))

    def by_slack() -> str:
        from analytics.channels import slack

        return slack.send(config, title, body)

    senders = _senders(config, f"{title}\n{body}", {"email": by_email, "slack": by_slack})
    return deliver({name: send for name, send in senders.items() if name in config.alert_channels})


def _senders(config: AnalyticsSettings, text: str, richer: dict[str, Sender]) -> dict[str, Sender]:
    """A sender per configured channel (the one registry, shared with the live notices): the
    richer form where a channel has one (HTML mail, Slack blocks and chart), else the text."""
    return {channel.name: richer.get(channel.name, functools.partial(channel.send, text))
            for channel in sorted(configured_channels(config.notify), key=lambda c: CHANNELS.index(c.name))}
