"""The journal: accepted alerts are kept, deduplicated, claimed once and found again after a restart."""

from __future__ import annotations

import json
import threading
from decimal import Decimal as D
from pathlib import Path

import pytest

from novalgo.domain import statuses as st
from novalgo.domain.alerts import parse_alert, read_delivery
from novalgo.domain.decision import OrderLeg
from novalgo.engine.journal import Journal, client_order_id
from tests.support.clock import Clock

T0 = 1_741_000_000.0
WINDOW = 20.0  # the default NOVALGO_DEDUPE_SECONDS


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "journal.sqlite3"


@pytest.fixture
def journal(path, clock):
    j = Journal(path, sync="normal", clock=clock)
    yield j
    j.close()


def accept(journal: Journal, body: str, ip: str = "52.89.214.238", window: float = WINDOW):
    """What the webhook does: read the body, parse it, journal it."""
    delivery = read_delivery(body.encode())
    return journal.add(parse_alert(delivery), delivery.stored_body, ip, window)


BUY = json.dumps({"action": "buy", "symbol": "NASDAQ:AAPL", "timeframe": "15", "price": "200.5",
                  "secret": "hunter2-xyz"})


def test_an_accepted_alert_is_queued_with_its_parsed_fields_and_no_secret(journal, clock):
    alert_id, status, duplicate_of = accept(journal, BUY)
    assert (status, duplicate_of) == (st.QUEUED, None)
    record = journal.get(alert_id)
    assert {k: record[k] for k in ("id", "received_at", "action", "symbol", "timeframe", "timeframe_minutes",
                                   "price", "status", "reason", "source_ip", "orders")} == {
        "id": alert_id, "received_at": T0, "action": "buy", "symbol": "AAPL", "timeframe": "15",
        "timeframe_minutes": 15, "price": "200.5", "status": st.QUEUED, "reason": "",
        "source_ip": "52.89.214.238", "orders": []}
    assert "hunter2-xyz" not in record["body"]
    assert json.loads(record["body"]) == {"action": "buy", "symbol": "NASDAQ:AAPL", "timeframe": "15", "price": "200.5"}
    assert journal.queue_depth() == 1
    assert [row["id"] for row in journal.queued()] == [alert_id]


def test_a_text_alert_is_stored_without_its_secret(journal):
    alert_id, _, _ = accept(journal, "SELL AAPL 15 secret=hunter2-xyz")
    assert journal.get(alert_id)["body"] == "SELL AAPL 15"


def test_alert_ids_are_distinct_and_recent_is_newest_first(journal, clock):
    ids = []
    for n in range(3):
        clock.now += 10
        ids.append(accept(journal, f"BUY AAPL {15 * (n + 1)}")[0])
    assert len(set(ids)) == 3
    assert [r["id"] for r in journal.recent(limit=2)] == [ids[2], ids[1]]


# -- duplicates: TradingView re-sends a delivery it thinks failed, 5 s apart, up to 3 times --------

SELL = BUY.replace('"buy"', '"sell"')


def test_re_deliveries_5_and_10_seconds_later_are_duplicates_of_the_first(journal, clock):
    first, _, _ = accept(journal, BUY)
    for _ in range(2):
        clock.now += 5
        again, status, duplicate_of = accept(journal, BUY)
        assert (status, duplicate_of) == (st.DUPLICATE, first)
        record = journal.get(again)
        assert first in record["reason"]
        assert record["finished_at"] == clock.now  # settled at once: it will never trade
    assert journal.queue_depth() == 1


def test_a_re_delivery_after_the_first_was_traded_is_still_a_duplicate(journal, clock):
    first, _, _ = accept(journal, BUY)
    journal.claim(first)
    journal.finish(first, st.FILLED)
    clock.now += 5
    assert accept(journal, BUY)[1:] == (st.DUPLICATE, first)


def test_buy_sell_buy_within_seconds_are_three_signals(journal, clock):
    statuses = []
    for body in (BUY, SELL, BUY):
        clock.now += 2
        statuses.append(accept(journal, body)[1])
    assert statuses == [st.QUEUED] * 3
    assert journal.queue_depth() == 3


def test_an_alert_for_another_symbol_in_between_does_not_hide_a_re_delivery(journal, clock):
    first, _, _ = accept(journal, BUY)
    clock.now += 2
    accept(journal, BUY.replace("NASDAQ:AAPL", "MSFT"))
    clock.now += 3
    assert accept(journal, BUY)[1:] == (st.DUPLICATE, first)


def test_the_same_body_after_the_window_is_a_new_signal(journal, clock):
    accept(journal, BUY)
    clock.now += WINDOW + 0.1
    assert accept(journal, BUY)[1:] == (st.QUEUED, None)


def test_the_window_counts_from_the_first_delivery_not_the_last_repeat(journal, clock):
    first, _, _ = accept(journal, BUY)
    clock.now += 15
    assert accept(journal, BUY)[1:] == (st.DUPLICATE, first)
    clock.now += 10  # 25 s after the first delivery: a new signal, though a repeat came 10 s ago
    assert accept(journal, BUY)[1:] == (st.QUEUED, None)


def test_a_different_body_is_never_a_duplicate(journal, clock):
    accept(journal, BUY)
    assert accept(journal, BUY.replace("200.5", "200.6"))[1] == st.QUEUED


def test_a_different_secret_alone_does_not_make_a_new_alert(journal):
    first, _, _ = accept(journal, BUY)
    assert accept(journal, BUY.replace("hunter2-xyz", "other"))[1:] == (st.DUPLICATE, first)


def test_a_zero_window_turns_dedupe_off(journal):
    accept(journal, BUY, window=0)
    assert accept(journal, BUY, window=0)[1] == st.QUEUED


# -- the executor's side -------------------------------------------------------------------------

def test_an_alert_is_claimed_only_once_across_two_workers(path, clock):
    """Two gunicorn workers, each with its own Journal on the same file."""
    one, two = Journal(path, sync="normal", clock=clock), Journal(path, sync="normal", clock=clock)
    try:
        alert_id, _, _ = accept(one, BUY)
        assert two.status_of(alert_id) == st.QUEUED  # the other worker sees it at once
        assert one.claim(alert_id) is True
        assert two.claim(alert_id) is False
        assert one.claim(alert_id) is False
        assert two.get(alert_id)["status"] == st.PROCESSING
        assert two.get(alert_id)["attempts"] == 1
    finally:
        one.close()
        two.close()


def test_racing_claims_from_many_threads_and_two_files_let_exactly_one_win(path, clock):
    one, two = Journal(path, sync="normal", clock=clock), Journal(path, sync="normal", clock=clock)
    ids = [accept(one, f"BUY AAPL {n + 1}")[0] for n in range(20)]
    wins: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def worker(journal: Journal) -> None:
        start.wait()
        for alert_id in ids:
            if journal.claim(alert_id):
                with lock:
                    wins.append(alert_id)
        journal.close()

    threads = [threading.Thread(target=worker, args=(j,)) for j in (one, one, two, two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(wins) == sorted(ids)  # every alert claimed, none twice


def test_alerts_left_processing_by_a_crash_are_resumed(path, clock):
    crashed = Journal(path, sync="normal", clock=clock)
    a, _, _ = accept(crashed, "BUY AAPL 15")
    b, _, _ = accept(crashed, "SELL TSLA 30")
    c, _, _ = accept(crashed, "CLOSE HOOD 45")
    crashed.claim(a)
    crashed.claim(b)
    crashed.finish(b, st.FILLED)
    crashed.close()  # the worker dies here with `a` half done

    leader = Journal(path, sync="normal", clock=clock)
    assert leader.resume_interrupted() == 1
    assert [row["id"] for row in leader.queued()] == [a, c]  # in arrival order
    assert leader.status_of(b) == st.FILLED
    assert leader.claim(a) is True
    assert leader.get(a)["attempts"] == 2
    assert leader.get(a)["started_at"] == T0  # first start kept, for the age check
    assert leader.resume_interrupted() == 1
    leader.close()


def test_requeue_waits_before_the_next_try(journal, clock):
    alert_id, _, _ = accept(journal, BUY)
    journal.claim(alert_id)
    journal.requeue(alert_id, "broker timed out", delay=30)
    [row] = journal.queued()
    assert (row["id"], row["not_before"]) == (alert_id, T0 + 30)
    assert journal.get(alert_id)["reason"] == "broker timed out"


def test_planned_orders_get_ids_derived_from_the_alert(journal, clock):
    alert_id, _, _ = accept(journal, BUY)
    journal.claim(alert_id)
    legs = [OrderLeg("close", "buy", qty=D("20")), OrderLeg("open", "buy", notional=D("5000.00"))]
    ids = journal.plan(alert_id, "AAPL", legs, D("200.5"), st.FILLED, "")
    assert ids == [client_order_id(alert_id, 0), client_order_id(alert_id, 1)] == [f"nva-{alert_id}-0", f"nva-{alert_id}-1"]
    orders = journal.orders_for(alert_id)
    assert [(o["leg"], o["purpose"], o["side"], o["qty"], o["notional"], o["state"], o["price_hint"]) for o in orders] == [
        (0, "close", "buy", "20", None, "planned", "200.5"),
        (1, "open", "buy", None, "5000", "planned", "200.5"),
    ]
    record = journal.get(alert_id)
    assert (record["plan_status"], record["plan_reason"]) == (st.FILLED, "")
    # Deciding again (after a cancel) adds legs after the old ones: an id is never reused.
    assert journal.plan(alert_id, "AAPL", [OrderLeg("open", "buy", notional=D("5000"))], None, st.FILLED, "") == [
        client_order_id(alert_id, 2)]


def test_open_orders_are_the_sent_ones_not_yet_final(journal, clock):
    aapl, _, _ = accept(journal, "BUY AAPL 15")
    tsla, _, _ = accept(journal, "BUY TSLA 30")
    [a0, a1] = journal.plan(aapl, "AAPL", [OrderLeg("close", "buy", qty=D(20)), OrderLeg("open", "buy", notional=D(5000))],
                            D(200), st.FILLED, "")
    [t0] = journal.plan(tsla, "TSLA", [OrderLeg("open", "buy", notional=D(30000))], None, st.FILLED, "")
    assert journal.open_orders() == []  # planned is not yet at the broker

    clock.now += 1
    journal.update_order(a0, state="sending")
    journal.update_order(a1, state="pending", broker_order_id="b-1")
    journal.update_order(t0, state="partially_filled", filled_qty=D("3.5"), filled_avg_price=D("250.10"))
    assert sorted(o["client_order_id"] for o in journal.open_orders()) == sorted([a0, a1, t0])
    assert sorted(o["client_order_id"] for o in journal.open_orders("AAPL")) == sorted([a0, a1])
    assert [o["client_order_id"] for o in journal.open_orders(exclude_alert=aapl)] == [t0]

    journal.update_order(a0, state="filled", filled_qty=D(20), filled_avg_price=D(200))
    journal.update_order(t0, state="canceled")
    assert [o["client_order_id"] for o in journal.open_orders()] == [a1]
    stored = {o["client_order_id"]: o for o in journal.orders_for(aapl)}
    assert (stored[a0]["filled_qty"], stored[a0]["filled_avg_price"], stored[a0]["updated_at"]) == ("20", "200", T0 + 1)
    assert stored[a1]["broker_order_id"] == "b-1"


def test_rows_for_orders_names_the_config_row_behind_each_fill(journal):
    aapl, _, _ = accept(journal, "BUY AAPL 15")
    loose, _, _ = accept(journal, "BUY TSLA")  # never matched to a row
    journal.set_row(aapl, "15 Min", 15, D(5000))
    [a0] = journal.plan(aapl, "AAPL", [OrderLeg("open", "buy", notional=D(5000))], None, st.FILLED, "")
    [t0] = journal.plan(loose, "TSLA", [OrderLeg("open", "buy", notional=D(1))], None, st.FILLED, "")
    assert journal.rows_for_orders([a0, t0, "someone-elses-order"]) == {a0: ("AAPL", "15 Min")}
    assert journal.get(aapl)["amount"] == "5000"


def test_rows_for_orders_handles_more_ids_than_sqlite_takes_at_once(journal):
    alert_id, _, _ = accept(journal, "BUY AAPL 15")
    journal.set_row(alert_id, "15 Min", 15, D(5000))
    legs = [OrderLeg("open", "buy", qty=D(1))] * 1200
    ids = journal.plan(alert_id, "AAPL", legs, None, st.FILLED, "")
    assert len(journal.rows_for_orders(ids)) == 1200


def test_the_journal_survives_reopening_the_file(path, clock):
    first = Journal(path, sync="full", clock=clock)
    alert_id, _, _ = accept(first, BUY)
    first.claim(alert_id)
    [cid] = first.plan(alert_id, "AAPL", [OrderLeg("open", "buy", notional=D(5000))], D("200.5"), st.FILLED, "")
    first.update_order(cid, state="sending")
    first.beat()
    first.close()

    clock.now += 60
    reopened = Journal(path, sync="full", clock=clock)
    record = reopened.get(alert_id)
    assert (record["status"], record["symbol"], record["price"]) == (st.PROCESSING, "AAPL", "200.5")
    assert [o["client_order_id"] for o in reopened.open_orders("AAPL")] == [cid]
    assert reopened.heartbeat() == T0
    # New alerts after a restart carry on, and the old one still dedupes nothing (window passed).
    assert accept(reopened, BUY)[1] == st.QUEUED
    reopened.close()


def test_meta_keeps_cursors_between_restarts(path, clock):
    one = Journal(path, clock=clock)
    one.set_meta("activity_cursor", "41")
    one.set_meta("activity_cursor", "42")
    one.close()
    assert Journal(path, clock=clock).get_meta("activity_cursor") == "42"


# -- the stored fill history ---------------------------------------------------------------


def stored_fill(n: int, side: str = "buy", qty: str = "1"):
    from datetime import datetime, timedelta, timezone

    from novalgo.domain.fifo import Fill

    return Fill(datetime(2025, 1, 2, 14, 30, tzinfo=timezone.utc) + timedelta(minutes=n), "AAPL", side, D(qty),
                D("100.25"), f"order-{n}", f"nva-{n}", f"2025010209{n:02d}00000::{n}")


def test_fills_are_kept_exactly_per_account_across_a_restart_and_stored_once(journal, path):
    fills = [stored_fill(0), stored_fill(1, "sell"), stored_fill(2, "sell_short", "0.5")]
    assert journal.add_fills("acct-paper", fills) == 3
    assert journal.add_fills("acct-paper", fills[1:]) == 0, "a page read twice is not stored twice"
    journal.close()

    reopened = Journal(path, sync="normal")
    assert reopened.fills("acct-paper") == fills
    assert reopened.last_fill_id("acct-paper") == fills[-1].activity_id
    assert reopened.fills("acct-live") == [] and reopened.last_fill_id("acct-live") is None
    reopened.close()


def test_a_broker_state_only_moves_an_order_forward(journal):
    from novalgo.broker.base import OrderState
    from novalgo.domain.alerts import Alert
    from novalgo.domain.decision import OrderLeg

    alert_id, _, _ = journal.add(Alert("buy", "AAPL", "15", 15, D(200)), "{}", "127.0.0.1", 0)
    [cid] = journal.plan(alert_id, "AAPL", [OrderLeg("open", "buy", qty=D(10))], D(200), "FILLED", "")

    def state(status, filled):
        return OrderState(cid, "b-1", "AAPL", "buy", status, qty=D(10), filled_qty=D(filled),
                          filled_avg_price=D(200) if filled else None)

    assert journal.record_broker_state(cid, state("partially_filled", 4))
    assert not journal.record_broker_state(cid, state("pending", 0)), "a late answer from before the fill"
    assert journal.record_broker_state(cid, state("filled", 10))
    assert not journal.record_broker_state(cid, state("partially_filled", 4)), "a filled order stays filled"
    order = journal.orders_for(alert_id)[0]
    assert (order["state"], order["filled_qty"], order["broker_order_id"]) == ("filled", "10", "b-1")


def test_a_brackets_exits_are_kept_once_even_after_one_moved_to_a_new_order(journal):
    """A late copy of the entry (with its legs as first made) must not bring back a take-profit that
    was replaced at a new price: the replaced order never fills, and would look open for ever."""
    from novalgo.broker.base import OrderState

    alert_id, _, _ = journal.add(parse_alert(read_delivery(b'{"action":"buy","symbol":"AAPL","timeframe":"15"}')),
                                 "{}", "127.0.0.1", 0)
    legs = (OrderState("leg-tp", "b-tp", "AAPL", "sell", "pending", qty=D(10), order_type="limit", limit_price=D(102)),
            OrderState("leg-sl", "b-sl", "AAPL", "sell", "pending", qty=D(10), order_type="stop", stop_price=D(99)))
    journal.record_exits(alert_id, "nva-a-0", legs)
    moved = OrderState("nva-a-0-tp", "b-tp2", "AAPL", "sell", "pending", qty=D(10), order_type="limit",
                       limit_price=D("103.02"))
    journal.moved_exit("leg-tp", moved)
    journal.record_exits(alert_id, "nva-a-0", legs)  # the entry read again, legs as first made
    exits = sorted((o["purpose"], o["client_order_id"]) for o in journal.open_exits("AAPL"))
    assert exits == [("stop_loss", "leg-sl"), ("take_profit", "nva-a-0-tp")]
