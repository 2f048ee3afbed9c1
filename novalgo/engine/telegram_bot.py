"""The Telegram bot takes commands: getUpdates long polling, in the leader, on a thread of its own.

Long polling needs no public address (it works behind a home router). The offset of the next
update is kept in the journal (``meta``) and stored as each update is answered: asking Telegram
with a higher offset confirms the ones below, so a command is answered once, and not again
after a restart. Only the chats and users listed (``NOVALGO_TELEGRAM_ALLOWED``, plus the
notification chat) are obeyed; anyone else gets no answer at all (which would tell them the bot
exists), only a line in the log. A failure (a 429 with ``retry_after``, the network down) makes
this thread wait and try again, doubling the wait up to five minutes; nothing else waits for it.
"""

from __future__ import annotations

import logging
from typing import Callable

from novalgo import channels as wire
from novalgo.clock import SYSTEM_CLOCK
from novalgo.domain.chat import ACTIONS, parse_command
from novalgo.domain.notify_messages import scrub
from novalgo.engine.commands import Desk
from novalgo.engine.journal import Journal
from novalgo.settings import Settings, secret_values

log = logging.getLogger(__name__)

OFFSET_KEY = "telegram:update_offset"
BACKOFF = (2.0, 300.0)  # seconds: the first wait after a failure, doubling up to the second
# Telegram keeps messages for a day: a pause or flatten typed while the bot was down longer than
# this ago is not done when it comes back (the trader may have acted otherwise since).
STALE_ACTION = 300.0


class TelegramBot:
    def __init__(self, journal: Journal, desk: Desk, settings: Settings, *, clock: Callable[[], float] = SYSTEM_CLOCK,
                 backoff: tuple[float, float] = BACKOFF,
                 get_updates: Callable[[int], list[dict]] | None = None,
                 send: Callable[[str, str], str] | None = None):
        notify = settings.notify
        self.journal = journal
        self.desk = desk
        self.clock = clock
        self.backoff = backoff
        self.allowed = {str(notify.telegram_chat), *settings.chat.telegram_allowed} - {"None", ""}
        self.secrets = secret_values(settings)
        self._get = get_updates or (lambda offset: wire.telegram_updates(
            notify.telegram_api_url, notify.telegram_token, offset, poll=settings.chat.telegram_poll,
            timeout=notify.timeout))
        self._send = send or (lambda chat_id, text: wire.post_telegram(
            notify.telegram_api_url, notify.telegram_token, chat_id, text, timeout=notify.timeout))
        self._replies: list[tuple[str, str]] = []  # (chat id, text) answered, not yet sent
        self.next_try = 0.0
        self.failures = 0

    def run_once(self) -> int:
        """Send what waits, poll once, answer each new command; returns how many were answered."""
        if self.clock() < self.next_try:
            return 0
        try:
            self._flush()
            offset = int(self.journal.get_meta(OFFSET_KEY) or 0)
            updates = self._get(offset)
        except wire.ChannelError as e:
            self._failed(e)
            return 0
        self.failures = 0  # Telegram answered: a later failure starts the backoff afresh
        answered = 0
        for update in sorted(updates, key=lambda u: int(u.get("update_id", 0))):
            update_id = int(update.get("update_id", 0))
            if update_id < offset:
                continue  # confirmed before: never answered twice
            reply = self._answer(update_id, update.get("message") or {})
            # Stored before the answer goes: a restart asks from here, so this one is not seen again.
            self.journal.set_meta(OFFSET_KEY, str(update_id + 1))
            if reply is not None:
                self._replies.append(reply)
                answered += 1
        try:
            self._flush()
        except wire.ChannelError as e:
            self._failed(e)
        return answered

    def _answer(self, update_id: int, message: dict) -> tuple[str, str] | None:
        text = message.get("text") or ""
        chat_id = str((message.get("chat") or {}).get("id", ""))
        user_id = str((message.get("from") or {}).get("id", ""))
        if not text.startswith("/") or not chat_id:
            return None  # chatter in a group, a photo, a join: not a command
        if chat_id not in self.allowed and user_id not in self.allowed:
            log.warning("telegram: ignored %s from chat %s, user %s: not in NOVALGO_TELEGRAM_ALLOWED",
                        text.split()[0][:40], chat_id, user_id or "?")
            return None
        command = parse_command(text)
        log.info("telegram: %s from chat %s, user %s", command.verb, chat_id, user_id or "?")
        age = self.clock() - float(message.get("date") or self.clock())
        if command.verb in ACTIONS and age > STALE_ACTION:
            return chat_id, (f"Not done: that {text.split()[0]} was sent {age / 60:.0f} min ago, while the bot was "
                             f"away. Send it again if you still want it.")
        answer = self.desk.handle(command, who=f"telegram:{chat_id}", key=f"telegram:{update_id}", prefix="/")
        return chat_id, scrub(answer, self.secrets)

    def _flush(self) -> None:
        while self._replies:
            chat_id, text = self._replies[0]
            self._send(chat_id, text)
            self._replies.pop(0)

    def _failed(self, error: wire.ChannelError) -> None:
        self.failures += 1
        wait = error.retry_after if error.retry_after is not None else \
            min(self.backoff[1], self.backoff[0] * 2 ** (self.failures - 1))
        self.next_try = self.clock() + wait
        log.warning("telegram commands: %s; trying again in %.1fs", scrub(str(error), self.secrets), wait)
