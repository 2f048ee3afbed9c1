"""Delivering reports and alerts to the registry's channels (``novalgo.channels``), each
failure isolated; the richer forms of a report for email and Slack live beside this file.

The exit code of a run adds one bit per channel that failed, so cron mail or a wrapper can
tell which: email 4, SMS 8, Slack 16, Discord 32, Telegram 64 (1 and 2 are left to click's
errors and usage).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

# One error for every channel, shared with the service's live notifications (novalgo.channels).
from novalgo.channels import ChannelError

__all__ = ["ChannelError", "Outcome", "deliver", "exit_code"]

log = logging.getLogger("analytics.channels")

EXIT_BITS = {"email": 4, "sms": 8, "slack": 16, "discord": 32, "telegram": 64}


@dataclass(frozen=True)
class Outcome:
    channel: str
    ok: bool
    detail: str


def deliver(senders: dict[str, Callable[[], str]]) -> list[Outcome]:
    """Call every sender; one failing never stops the others. Senders return a detail line."""
    outcomes = []
    for channel, send in senders.items():
        try:
            outcomes.append(Outcome(channel, True, send()))
        except ChannelError as e:
            outcomes.append(Outcome(channel, False, str(e)))
        except Exception as e:  # a library bug must not cost the trader the other channels
            log.exception("%s channel crashed", channel)
            outcomes.append(Outcome(channel, False, f"unexpected {type(e).__name__}: {e}"))
    return outcomes


def exit_code(outcomes: list[Outcome]) -> int:
    code = 0
    for o in outcomes:
        if not o.ok:
            code |= EXIT_BITS[o.channel]
    return code
