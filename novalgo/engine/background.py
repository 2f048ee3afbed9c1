"""The leader's work: the dispatcher, the order tracker, the sheet writer and the reports.

Every process starts a ``Background``; only the one that holds the leader lock does the
work. The dispatcher hands each symbol's oldest queued alert to a thread pool, one alert per
symbol at a time, so a symbol's alerts run in arrival order while symbols run in parallel.
It sleeps until woken (``wakeup.py``: an alert journalled by any worker, a symbol's alert
finished, a loop that put alerts back in the queue) or until an alert told to wait is due; the
poll every ``NOVALGO_DISPATCH_POLL`` seconds (default 1) is only a safety net for a wake that got lost.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from novalgo.domain import statuses
from novalgo.engine.leader import LeaderLock
from novalgo.engine.outages import ALPACA, SHEET, source_of
from novalgo.engine.services import LEADER_FILE, Services, leader_loops
from novalgo.errors import RetryableError

log = logging.getLogger(__name__)


BEAT_EVERY = 1.0
# An alert that keeps raising an error we did not foresee is given up after this many failed
# tries, a few seconds apart, so one bad alert holds its symbol's queue for seconds, not minutes.
# Only failed tries count (not retries after an outage, nor wakes by the tracker), and an alert
# whose order is live at the broker is left to the tracker, never failed.
MAX_ATTEMPTS = 5
BUG_RETRY_DELAY = 2.0
RESTORE_WINDOW = 86400.0  # statuses of the last day are rewritten when a new leader starts
# What a loop's success shows reachable again (the tracker reads Alpaca, the Activity loop writes the sheet).
LOOP_REACHES = {"novalgo-tracker": (ALPACA,), "novalgo-activity": (SHEET,)}


class Background:
    def __init__(self, services: Services, workers: int = 8):
        self.services = services
        self.lock = LeaderLock(services.settings.data_dir / LEADER_FILE)
        self.stop_event = threading.Event()
        self.workers = workers
        self._thread: threading.Thread | None = None
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self._config_seen = 0.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="novalgo-leader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking alerts; alerts in flight finish (or stay journalled for the next leader)."""
        self.stop_event.set()
        self.services.wakeup.interrupt()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            if self.lock.try_acquire():
                try:
                    self._lead()
                finally:
                    self.lock.release()
            else:
                self.stop_event.wait(1.0)

    def _lead(self) -> None:
        # Listen before the first pass, so no alert journalled from here on waits for the poll;
        # close before the lock is released, so the next leader's socket is never ours to remove.
        self.services.wakeup.listen()
        updates = self._follow_orders()
        try:
            self._lead_listening()
        finally:
            if updates is not None:
                updates.stop()
            self.services.executor.stream_live = lambda: False
            self.services.wakeup.close()

    def _follow_orders(self):
        """The broker's order events (Alpaca's trade stream) into the journal; REST only as the fallback."""
        executor = self.services.executor
        executor.on_requeue = self.services.wakeup.notify
        executor.reconcile_soon()
        try:
            updates = self.services.broker.listen(executor.on_order_update, executor.reconcile_soon)
        except Exception:
            log.exception("the broker's order stream could not start; orders are read over REST")
            return None
        if updates is not None:
            executor.stream_live = lambda: updates.live
        return updates

    def _lead_listening(self) -> None:
        s = self.services
        last_beat = s.work_journal.heartbeat()
        resumed = s.work_journal.resume_interrupted()
        log.info("leader started (pid lock %s); %d interrupted alerts resumed", self.lock.path, resumed)
        if last_beat is not None:  # not the first start of this data dir: the executor restarted
            s.outbox.add_event("restart", f"executor restarted (last heartbeat {s.clock() - last_beat:.0f}s ago); "
                                          f"{resumed} interrupted alert(s) resumed")
        self._restore_statuses()
        try:
            s.executor.learn_account()  # before any alert is decided: another account's orders block nothing
        except RetryableError as e:
            log.warning("could not read the broker account (%s); it is read again before the first order", e)
        threads = [threading.Thread(target=s.writer.run, args=(self.stop_event,), name="novalgo-sheet-writer", daemon=True)]
        threads += [self._loop(name, interval, fn) for name, interval, fn in leader_loops(s)]
        for thread in threads:
            thread.start()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="novalgo-executor") as pool:
            last_beat = 0.0
            next_pass = 0.0
            woken = True
            while not self.stop_event.is_set():
                if time.monotonic() - last_beat >= BEAT_EVERY:
                    s.work_journal.beat()
                    last_beat = time.monotonic()
                    self._sync_row_states()
                if woken or time.monotonic() >= next_pass:
                    due_in = self._dispatch(pool)
                    next_pass = time.monotonic() + min(self.services.settings.dispatch_poll, due_in)
                woken = s.wakeup.wait(min(next_pass, last_beat + BEAT_EVERY) - time.monotonic())
        for thread in threads:
            thread.join(timeout=5)

    def _dispatch(self, pool: ThreadPoolExecutor) -> float:
        """Hand out what can run now; returns seconds until an alert told to wait is due (or inf)."""
        seen: set[str] = set()
        now = self.services.clock()  # the journal's not_before is on the same clock
        due_in = float("inf")
        for row in self.services.work_journal.queued():
            symbol = row["symbol"]
            if symbol in seen:
                continue  # a symbol's alerts go strictly in arrival order
            seen.add(symbol)
            if row["not_before"] > now:
                due_in = min(due_in, row["not_before"] - now)
                continue
            with self._busy_lock:
                if symbol in self._busy:
                    continue
                if not self.services.work_journal.claim(row["id"]):
                    continue
                self._busy.add(symbol)
            pool.submit(self._process, row["id"], symbol)
        return due_in

    def _process(self, alert_id: str, symbol: str) -> None:
        try:
            self.services.executor.process(alert_id)
        except Exception as e:  # a bug must not stall the symbol: record it and retry, then give up
            log.exception("alert %s failed unexpectedly", alert_id)
            self._after_bug(alert_id, e)
        finally:
            with self._busy_lock:
                self._busy.discard(symbol)
            self.services.wakeup.notify()  # the symbol's next alert may go now

    def _after_bug(self, alert_id: str, error: Exception) -> None:
        journal = self.services.work_journal
        if journal.record_failure(alert_id) < MAX_ATTEMPTS:
            journal.requeue(alert_id, f"internal error, retrying: {error}", delay=BUG_RETRY_DELAY)
            return
        try:
            live = self.services.executor.live_at_broker(alert_id)
        except Exception as e:  # cannot tell whether its order is live: never fail it blind
            log.warning("alert %s: could not tell whether its order is live (%s); retrying", alert_id, e)
            journal.requeue(alert_id, f"internal error, retrying: {error}", delay=BUG_RETRY_DELAY)
            return
        if live:
            # The tracker follows the order and wakes the alert when it settles.
            journal.set_status(alert_id, statuses.ORDER_SUBMITTED, f"internal error after {MAX_ATTEMPTS} attempts: "
                               f"{error}; its order is live at the broker and is followed there")
        else:
            journal.finish(alert_id, statuses.FAILED, f"internal error after {MAX_ATTEMPTS} attempts: {error}")

    def _loop(self, name: str, interval: float, fn) -> threading.Thread:
        outages = self.services.executor.outages
        reaches = LOOP_REACHES.get(name, ())

        def run() -> None:
            while not self.stop_event.wait(interval):
                try:
                    fn()
                except Exception as e:
                    log.exception("%s failed; trying again in %.0fs", name, interval)
                    if outages is not None and source_of(e):
                        outages.failed(source_of(e), str(e))
                else:
                    for source in reaches if outages is not None else ():
                        outages.ok(source)
        return threading.Thread(target=run, name=name, daemon=True)

    def _restore_statuses(self) -> None:
        """A new leader rewrites recent row statuses, in case the old one died before its flush."""
        s = self.services
        now = s.clock()
        for symbol, minutes, status, when in s.work_journal.latest_row_statuses(now - RESTORE_WINDOW):
            s.writer.set((symbol, minutes), status, datetime.fromtimestamp(when or now, s.settings.timezone))

    def _sync_row_states(self) -> None:
        """READY for active rows with no status yet (or just re-activated), INACTIVE for inactive ones."""
        config = self.services.config
        snapshot = config.snapshot()
        if snapshot.read_at == self._config_seen:
            return
        self._config_seen = snapshot.read_at
        for row in snapshot.rows:
            if row.active and row.order_status in ("", statuses.INACTIVE):
                self.services.writer.set_if_idle(row.key, statuses.READY)
            elif not row.active and row.order_status != statuses.INACTIVE:
                self.services.writer.set_if_idle(row.key, statuses.INACTIVE)
