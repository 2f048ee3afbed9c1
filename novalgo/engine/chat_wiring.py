"""Commands from a phone, wired: the leader's desk (live reads, actions done at once) and its loops,
and a web worker's desk (stored reads only, actions queued for the leader)."""

from __future__ import annotations

import logging
from typing import Callable

from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.config_rows import ConfigSnapshot
from novalgo.domain.guards import AccountGuards
from novalgo.domain.notify_messages import TRADES
from novalgo.engine.commands import ActionQueue, Desk, LeaderPositions, Readings, Switchboard, stored_positions
from novalgo.engine.fill_history import FillHistory

log = logging.getLogger(__name__)

ACTIONS_EVERY = 1.0  # seconds between the leader's looks at actions a web worker queued
POSITIONS_EVERY = 15.0  # seconds between reads of the positions kept for Slack's answers
TELEGRAM_TICK = 0.2  # seconds between long polls (each one itself waits for a message)
LEADER_STALE = 15.0  # seconds without the executor's heartbeat before a queued action is said to wait


def telegram_on(settings) -> bool:
    notify = settings.notify
    return bool(settings.chat.telegram_commands and notify.telegram_token and notify.telegram_chat)


def web_commands_on(settings) -> bool:
    """Slack's or Discord's command endpoint is set up: web workers queue actions for the leader."""
    return bool(settings.chat.slack_signing_secret or settings.chat.discord_public_key)


def action_queue(services, clock: Callable[[], float] = SYSTEM_CLOCK) -> ActionQueue:
    """The queue of actions in the journal's file, shared by the web workers and the leader."""
    return ActionQueue(services.journal.path, clock)


def _settings_tab(services):
    return services.guards.tab if services.guards is not None else None


def _fills(services, queue: ActionQueue, history: FillHistory | None) -> Callable[[], list]:
    def read() -> list:
        account = None
        if history is not None:
            try:
                account = history.update()  # the fills since the Performance tab's last read
            except Exception as e:  # an answer from the stored fills beats none
                log.warning("chat: the broker's new fills could not be read (%s); answering from stored ones", e)
        account = account or queue.newest_fill_account()
        return services.work_journal.fills(account) if account else []
    return read


def leader_desk(services, clock: Callable[[], float] = SYSTEM_CLOCK) -> tuple[Desk, Switchboard, LeaderPositions, ActionQueue]:
    """The leader's desk: it reads the broker (every few seconds at most) and acts at once."""
    journal = services.work_journal
    tab = _settings_tab(services)
    positions = LeaderPositions(services.broker, journal, clock)
    queue = action_queue(services, clock)
    switchboard = Switchboard(journal, services.settings, services.sheet, services.config, tab, services.broker,
                              lambda text: services.outbox.add_event("chat", text, TRADES),
                              wake=services.wakeup.notify, clock=clock)
    readings = Readings(config=services.config.snapshot,
                        tab_guards=lambda: tab.guards()[0] if tab is not None else AccountGuards(),
                        positions=positions, fills=_fills(services, queue, FillHistory(services.broker, journal)))
    return Desk(journal, services.settings, readings, switchboard.perform, clock), switchboard, positions, queue


def web_desk(services, clock: Callable[[], float] = SYSTEM_CLOCK) -> Desk:
    """A web worker's desk: the journal and the tabs as the leader last read them; actions queued."""
    from novalgo.sheet.cache import saved_snapshot
    from novalgo.sheet.settings_tab import saved_settings

    local = services.sheet.kind == "local"  # CSV files cost nothing to read; Google is never asked here
    tab = _settings_tab(services)
    queue = action_queue(services, clock)

    def config() -> ConfigSnapshot:
        if local:
            return services.config.snapshot()
        saved = saved_snapshot(services.config.snapshot_path) if services.config.snapshot_path else None
        return saved or ConfigSnapshot(problems=("not read yet",))

    def tab_guards():
        if local and tab is not None:
            return tab.guards()[0]
        return saved_settings(tab.snapshot_path)[0] if tab is not None and tab.snapshot_path else AccountGuards()

    def act(action) -> str:
        answer = queue.add(action)
        beat = services.journal.heartbeat()
        if beat is None or clock() - beat > LEADER_STALE:
            answer += (f" But the bot's executor is not running now: it is done only if it is back within "
                       f"{queue.max_age / 60:.0f} minutes.")
        return answer

    readings = Readings(config=config, tab_guards=tab_guards, positions=lambda: stored_positions(services.journal),
                        fills=_fills(services, queue, None))
    return Desk(services.journal, services.settings, readings, act, clock)


def chat_loops(services) -> list[tuple[str, float, Callable[[], object]]]:
    """The leader's threads for commands: the Telegram poller; for Slack and Discord, the actions
    their web workers queued and the positions kept for their answers."""
    settings = services.settings
    if not (telegram_on(settings) or web_commands_on(settings)):
        return []
    from novalgo.engine.telegram_bot import TelegramBot

    desk, switchboard, positions, queue = leader_desk(services, services.clock)
    loops: list[tuple[str, float, Callable[[], object]]] = []
    if telegram_on(settings):
        bot = TelegramBot(services.work_journal, desk, settings, clock=services.clock)
        loops.append(("novalgo-telegram-commands", TELEGRAM_TICK, bot.run_once))
    if web_commands_on(settings):
        loops.append(("novalgo-chat-actions", ACTIONS_EVERY, lambda: queue.run_once(switchboard.perform)))
        loops.append(("novalgo-chat-positions", POSITIONS_EVERY, positions.refresh))
    return loops
