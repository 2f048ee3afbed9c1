"""The account's whole fill history, kept in the journal and read from the broker only where new.

The Performance tab matches FIFO over every fill the account ever made, so a position opened
long before the shown window is closed against its real entry. The first run reads the
broker's history back to its first fill (Alpaca: pages of 100); later runs ask only for the
fills after the newest one stored. The history is kept per broker account, so other keys (a
live account after a paper one) start their own.
"""

from __future__ import annotations

from novalgo.broker.base import Broker, Fill


class FillHistory:
    def __init__(self, broker: Broker, journal):
        self.broker = broker
        self.journal = journal  # anything with add_fills, last_fill_id and fills (the Journal)

    def update(self) -> str:
        """Store the fills the broker has after the newest stored one; returns the account's key."""
        account = self.broker.account().account_id or self.broker.kind
        new = self.broker.fills_after(self.journal.last_fill_id(account))
        if new:
            self.journal.add_fills(account, new)
        return account

    def fills(self, account: str) -> list[Fill]:
        """Every stored fill of the account, oldest first."""
        return self.journal.fills(account)
