"""Whether an Alpaca account can sell short, in sentences a trader reads before the first SELL.

Alpaca's "Margin and Short Selling" (docs.alpaca.markets/docs/margin-and-short-selling): "In
order to trade on margin or sell short, you must have $2,000 or more account equity. Accounts
with less than $2,000 will not have access to these features and will be restricted to 1x
buying power." A margin account shows a multiplier above 1 (Account: 1 cash, 2 or 4 margin),
and the account's shorting_enabled must be true. Without all three, the executor's SELL only
closes a long.
"""

from __future__ import annotations

from decimal import Decimal

from novalgo.broker.base import Account

MARGIN_MIN_EQUITY = Decimal(2000)  # "you must have $2,000 or more account equity"
ONLY_CLOSES = "SELL alerts will only close longs"


def shorting_sentences(account: Account) -> list[str]:
    """One sentence if the account can short, else one per reason it cannot."""
    if account.equity < MARGIN_MIN_EQUITY:
        # The cause of the rest: under $2,000 Alpaca also drops the account to 1x.
        return [f"shorting: not possible — equity ${account.equity:,.2f} is under Alpaca's $2,000 minimum for "
                f"short selling: {ONLY_CLOSES}"]
    reasons = []
    if account.multiplier is not None and account.multiplier <= 1:
        reasons.append(f"shorting: not possible — this is a cash account (multiplier {account.multiplier:f}), "
                       f"not a margin account: {ONLY_CLOSES}")
    if not account.shorting_enabled:
        reasons.append("shorting: not possible — shorting is disabled on the Alpaca account (shorting_enabled is "
                       f"false; the account configuration's no_shorting makes it long-only): {ONLY_CLOSES}")
    if reasons:
        return reasons
    margin = f"margin account (multiplier {account.multiplier:f})" if account.multiplier is not None else "margin"
    return [f"shorting: possible — {margin}, shorting enabled, equity ${account.equity:,.2f} at or above Alpaca's "
            "$2,000 minimum: SELL alerts may open shorts (of easy-to-borrow stocks, whole shares)"]
