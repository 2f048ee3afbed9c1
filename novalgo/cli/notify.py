"""``novalgo notify test``: one message to every configured channel, and which ones worked.

Sent directly, not through the outbox, so it works with the service stopped and tells at once
why a channel refuses (a wrong webhook, a bot not in the chat, an SMTP login). Exit 1 if any
channel failed or none is configured.
"""

from __future__ import annotations

import socket
import sys

import click

from novalgo.cli.load import load_settings


@click.group()
def notify() -> None:
    """Live notifications: Slack, Discord, Telegram, email."""


@notify.command("test")
def send_test() -> None:
    """Send one test message to every configured channel; exit 1 if any failed."""
    from novalgo.channels import ChannelError, configured_channels
    from novalgo.domain.notify_messages import scrub
    from novalgo.settings import secret_values

    settings = load_settings()
    channels = configured_channels(settings.notify)
    if not channels:
        click.echo("No notification channel is configured: set NOVALGO_NOTIFY_SLACK_WEBHOOK, "
                   "NOVALGO_NOTIFY_DISCORD_WEBHOOK, NOVALGO_NOTIFY_TELEGRAM_TOKEN with NOVALGO_NOTIFY_TELEGRAM_CHAT, "
                   "or NOVALGO_NOTIFY_EMAIL (with the SMTP settings).", err=True)
        sys.exit(1)
    text = (f"NovAlgo: test message\nNotifications from {socket.gethostname()} ({settings.mode} trading) reach "
            f"this channel.")
    failed = 0
    for channel in channels:
        try:
            detail = channel.send(text)
        except ChannelError as e:
            failed += 1
            detail = f"FAILED: {e}"
        except Exception as e:  # report it like the others; one channel must not hide the rest
            failed += 1
            detail = f"FAILED: unexpected {type(e).__name__}: {e}"
        ok = not detail.startswith("FAILED")
        click.echo(f"  {'ok  ' if ok else 'FAIL'} {channel.name} (level {channel.level}): "
                   f"{scrub(detail, secret_values(settings))}")
    if failed:
        click.echo(f"{failed} of {len(channels)} channel(s) failed.", err=True)
        sys.exit(1)
    click.echo(f"All {len(channels)} channel(s) work.")
