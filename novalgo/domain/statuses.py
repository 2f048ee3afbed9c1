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

# Alert-only states, never written to a row.
QUEUED = "QUEUED"
PROCESSING = "PROCESSING"
EXPIRED = "EXPIRED"
DUPLICATE = "DUPLICATE"
SKIPPED = "SKIPPED"

SHEET_STATUSES = (READY, ORDER_SUBMITTED, FILLED, FAILED, WAITING, INACTIVE, ALREADY_LONG, ALREADY_SHORT)
# An alert in one of these will not change again on its own.
FINAL = frozenset({FILLED, FAILED, WAITING, INACTIVE, ALREADY_LONG, ALREADY_SHORT, EXPIRED, DUPLICATE, SKIPPED})
# ORDER SUBMITTED is settled for the request (the order is at the broker) but still tracked.
SETTLED = FINAL | {ORDER_SUBMITTED}
