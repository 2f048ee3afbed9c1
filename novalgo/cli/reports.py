"""``novalgo report``, ``novalgo alerts``, ``novalgo export``: the analytics jobs cron runs.

The commands are the analytics suite's own (analytics/cli.py); here they join the one CLI.
``python -m analytics …`` runs the same commands, for cron lines written before.
"""

from __future__ import annotations

from analytics.cli import alerts, export, report

__all__ = ["alerts", "export", "report"]
