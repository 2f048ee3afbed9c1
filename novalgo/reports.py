"""The leader's reports: the Performance tab on its interval and Activity rows in batches."""

from __future__ import annotations

from novalgo.activity import activity_row
from novalgo.performance import PerformanceUpdater
from novalgo.services import Services

# Activity appends share the sheet's write budget with status flushes: a batch every few
# seconds locally, every 15 s on Google (4 writes a minute at most).
ACTIVITY_EVERY = {"local": 2.0, "google": 15.0}


class ActivityAppender:
    def __init__(self, services: Services):
        self.services = services

    def run_once(self) -> int:
        """Append settled alerts not yet in the tab; mark them only after the write succeeded."""
        journal = self.services.work_journal
        alerts = journal.not_in_activity()
        if not alerts:
            return 0
        rows = [activity_row(alert, self.services.settings.timezone) for alert in alerts]
        self.services.sheet.append_activity(rows, keep=self.services.settings.activity_rows)
        journal.mark_in_activity([alert["id"] for alert in alerts])
        return len(rows)


def performance_updater(services: Services) -> PerformanceUpdater:
    return PerformanceUpdater(services.broker, services.sheet, services.work_journal, services.settings)


def report_loops(services: Services, updater: PerformanceUpdater) -> list[tuple[str, float, object]]:
    """(name, seconds, callable) for the leader to run on a timer."""
    appender = ActivityAppender(services)
    return [
        ("novalgo-performance", services.settings.performance_interval, updater.run_once),
        ("novalgo-activity", ACTIVITY_EVERY.get(services.sheet.kind, 15.0), appender.run_once),
    ]
