"""The errors NovAlgo raises, each named for what the caller should do about it.

Vendor errors (gspread, alpaca-py, requests) are converted at the adapter edge with
``raise ... from e`` so the layers above only ever see these.
"""


class NovalgoError(Exception):
    """Base of every error NovAlgo raises on purpose."""


class SettingsError(NovalgoError):
    """A setting is missing or malformed: refuse to start and say which."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class AlertError(NovalgoError):
    """The alert body cannot be read: answer 400 with this reason, change nothing.

    ``str(e)`` is the plain reason. ``read`` is what could be read before giving up (action,
    symbol, timeframe, price, quantity; None where missing) and ``hint`` one sentence on how to
    fix the alert, so the trader sees how far the body got instead of guessing.
    """

    def __init__(self, reason: str, read: dict[str, str | None] | None = None, hint: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.read = read
        self.hint = hint


class RetryableError(NovalgoError):
    """An outside system failed in a way that is safe to retry (timeout, 429, 5xx)."""


class NotPlaced(RetryableError):
    """The broker said for certain that it placed nothing (429 rate limit): retry later, and since
    nothing is at the broker the retry is a new send, judged on the alert's age again."""


class CredentialsRejected(RetryableError):
    """The outside system refused our keys (401/403): not the order's fault; the operator fixes the keys."""

    def __init__(self, message: str, status: int | None = None):
        self.status = status
        super().__init__(message)


class AmbiguousOrderError(RetryableError):
    """We do not know whether the broker placed the order: look it up by client_order_id."""


class OrderRejected(NovalgoError):
    """The broker refused the order: mark it FAILED with this readable reason."""


class BlockedByOpenOrders(OrderRejected):
    """Refused because other open orders on the symbol hold its shares or would wash-trade with
    it: cancel those (NOVALGO_CANCEL_OTHER_ORDERS) and send again, or fail naming them."""


class SheetUnavailable(RetryableError):
    """The sheet could not be read or written right now."""
