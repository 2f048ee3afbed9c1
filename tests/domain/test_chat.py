"""Chat commands read and answered: tables of lines in, commands and phone-sized answers out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from novalgo.domain import chat
from novalgo.domain.chat import AlertLine, Command, Holding, PnlLine, RowLine, parse_command


@pytest.mark.parametrize("line, expected", [
    ("/status", Command("status")),
    ("status", Command("status")),  # Slack sends what follows /novalgo
    ("/status@NovAlgoBot", Command("status")),  # Telegram in a group names the bot
    ("  /POSITIONS  ", Command("positions")),
    ("/pnl", Command("pnl", number=1)),
    ("/pnl 7", Command("pnl", number=7)),
    ("/alerts", Command("alerts", number=5)),
    ("/alerts 12", Command("alerts", number=12)),
    ("/pause", Command("pause")),
    ("/pause aapl", Command("pause", symbol="AAPL")),
    ("pause NASDAQ:AAPL", Command("pause", symbol="AAPL")),
    ("/resume btcusd", Command("resume", symbol="BTC/USD")),
    ("/flatten", Command("flatten")),
    ("/flatten TSLA", Command("flatten", symbol="TSLA")),
    ("/flatten confirm", Command("flatten", confirm=True)),
    ("/flatten CONFIRM", Command("flatten", confirm=True)),
    ("/help", Command("help")),
    ("/start", Command("help")),  # what Telegram sends when a chat with the bot begins
    ("", Command("help")),
])
def test_lines_read_into_commands(line, expected):
    assert parse_command(line) == expected


@pytest.mark.parametrize("line, problem", [
    ("/buy AAPL", "I don't know '/buy'."),
    ("/pnl lots", "pnl takes a number of days, not 'lots'."),
    ("/pnl 0", "pnl takes 1 to 3650 days."),
    ("/alerts 500", "alerts takes 1 to 20 alerts."),
    ("/pause AAPL TSLA", "pause takes one symbol at most."),
    ("/pause confirm", "Only flatten asks to confirm."),
])
def test_a_line_not_understood_is_the_list_with_the_reason(line, problem):
    command = parse_command(line)
    assert command == Command("help", problem=problem)
    answer = chat.help_text("/", command.problem)
    assert answer.splitlines()[0] == problem
    assert all(f"/{verb}" in answer for verb in chat.VERBS)


def test_the_list_is_written_as_each_chat_types_it():
    assert chat.help_text("/novalgo ").splitlines()[0].startswith("/novalgo status – ")
    assert "/pnl [days]" in chat.help_text("/")


@pytest.mark.parametrize("value, text", [
    (Decimal("1250.5"), "+$1,250.50"), (Decimal("-12.304"), "-$12.30"), (Decimal(0), "$0.00"),
    (Decimal("0.005"), "+$0.01"),
])
def test_money_is_signed_to_the_cent(value, text):
    assert chat.signed_money(value) == text


def test_status_says_trading_each_row_and_today():
    rows = [RowLine("AAPL 15 Min", True, "FILLED", Decimal(25), 0),
            RowLine("TSLA 30 Min", True, "ORDER SUBMITTED", Decimal(0), 1),
            RowLine("MSFT 5 Min", False, "INACTIVE", Decimal(-3), 2)]
    assert chat.status_text([], rows, Decimal("120.5"), 3).splitlines() == [
        "Trading: ON",
        "AAPL 15 Min: long 25, FILLED",
        "TSLA 30 Min: flat, 1 open order, ORDER SUBMITTED",
        "MSFT 5 Min: short 3, 2 open orders, INACTIVE, paused (not active)",
        "Today: +$120.50 realised (3 trades)",
    ]
    off = chat.status_text(["trading is off on the Settings tab"], [], Decimal(0), 1, "Positions as of 09:30:00")
    assert off.splitlines() == ["Trading: OFF – trading is off on the Settings tab", "No rows in the Config tab.",
                                "Today: $0.00 realised (1 trade)", "Positions as of 09:30:00"]


def test_positions_one_line_a_symbol():
    holdings = [Holding("TSLA", Decimal(-5), Decimal("250"), Decimal("-1300"), Decimal("-50.25")),
                Holding("AAPL", Decimal("2.5"), Decimal("190.1")), Holding("HOOD", Decimal(0), Decimal(0))]
    assert chat.positions_text(holdings).splitlines() == [
        "AAPL: long 2.5 @ $190.10",
        "TSLA: short 5 @ $250.00, worth $1,300.00, open P&L -$50.25",
    ]
    assert chat.positions_text([]) == "Nothing held."


def test_pnl_total_then_biggest_moves():
    lines = [PnlLine("AAPL", Decimal("100"), 2, 2), PnlLine("TSLA", Decimal("-150.5"), 1, 0)]
    assert chat.pnl_text(7, lines).splitlines() == [
        "Realised P&L the last 7 days: -$50.50 (3 trades, 2 won)", "TSLA: -$150.50 (1)", "AAPL: +$100.00 (2)"]
    assert chat.pnl_text(1, []) == "Realised P&L today: no closed trades."


def test_alerts_newest_first_with_reasons_cut_to_fit():
    at = datetime(2026, 5, 4, 9, 31)
    long_reason = "entries are paused: " + "x" * 200
    text = chat.alerts_text([AlertLine(at, "buy", "AAPL", "15 Min", "SKIPPED", long_reason),
                             AlertLine(at, "close", "TSLA", "30 Min", "FILLED", source="chat")])
    first, second = text.splitlines()
    assert first.startswith("05-04 09:31 BUY AAPL 15 Min: SKIPPED – entries are paused: xxx")
    assert len(first) < 140 and first.endswith("…")
    assert second == "05-04 09:31 CLOSE TSLA 30 Min (chat): FILLED"
    assert chat.alerts_text([]) == "No alerts yet."


@pytest.mark.parametrize("asked_at, now, answered", [
    (100.0, 100.0, True), (100.0, 160.0, True), (100.0, 160.5, False), (None, 100.0, False), (100.0, 99.0, False),
])
def test_a_confirmation_counts_for_sixty_seconds(asked_at, now, answered):
    assert chat.confirmed_in_time(asked_at, now) is answered


def test_the_flatten_question_says_what_would_close():
    assert chat.flatten_question(None, ["AAPL", "TSLA"], "/flatten confirm") == \
        "Close everything (held: AAPL, TSLA)? Send /flatten confirm within 60 s."
    assert chat.flatten_question("HOOD", [], "/novalgo flatten confirm") == \
        "Close HOOD (nothing is held now)? Send /novalgo flatten confirm within 60 s."
