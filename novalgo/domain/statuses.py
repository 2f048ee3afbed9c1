"""The words a trader sees in the sheet's Order Status column and in /alerts."""

# Written to the Config tab (the original bot's vocabulary, kept as users know it).
READY = "READY"
ORDER_SUBMITTED = "ORDER SUBMITTED"
FILLED = "FILLED"
FAILED = "FAILED"
WAITING = "WAITING"
INACTIVE = "INACTIVE"
ALREADY_LONG = "ALREADY LONG"
ALREADY_SHORT = "ALREADY SHORT"
# The entry ended (expired at the close, cancelled) with only part of it filled: the reason says how much.
PARTIAL = "PARTIAL"
# An exit order at the broker closed the row's position.
TAKE_PROFIT = "TAKE PROFIT"
STOP_LOSS = "STOP LOSS"
TRAILING_STOP = "TRAILING STOP"
EXITS = (TAKE_PROFIT, STOP_LOSS, TRAILING_STOP)

# Alert-only states, never written to a row.
QUEUED = "QUEUED"
PROCESSING = "PROCESSING"
EXPIRED = "EXPIRED"
DUPLICATE = "DUPLICATE"
SKIPPED = "SKIPPED"

SHEET_STATUSES = (READY, ORDER_SUBMITTED, FILLED, PARTIAL, FAILED, WAITING, INACTIVE, ALREADY_LONG,
                  ALREADY_SHORT) + EXITS
# An alert in one of these will not change again on its own.
FINAL = frozenset({FILLED, PARTIAL, FAILED, WAITING, INACTIVE, ALREADY_LONG, ALREADY_SHORT, EXPIRED, DUPLICATE, SKIPPED,
                   *EXITS})
# ORDER SUBMITTED is settled for the request (the order is at the broker) but still tracked.
SETTLED = FINAL | {ORDER_SUBMITTED}
