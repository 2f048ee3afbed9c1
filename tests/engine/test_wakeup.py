"""The dispatcher's wake: a datagram from any process, never an error on the request path."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from novalgo.engine.wakeup import WAKE_FILE, Wakeup

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def leader(data_dir):
    wakeup = Wakeup(data_dir)
    assert wakeup.listen()
    yield wakeup
    wakeup.close()


def test_wake_with_nobody_listening_does_not_raise(data_dir):
    worker = Wakeup(data_dir)
    worker.wake()  # no socket file at all
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(data_dir / WAKE_FILE))
    dead.close()  # a leader killed with -9 leaves its file behind
    worker.wake()
    Wakeup(data_dir / "gone").wake()  # not even a directory


def test_wake_never_blocks_when_the_leader_does_not_read(data_dir, leader):
    worker = Wakeup(data_dir)
    for _ in range(10_000):  # far beyond the socket's queue: the extra wakes are dropped, not waited on
        worker.wake()
    assert leader.wait(5)


def test_a_wake_from_another_process_ends_the_wait(data_dir, leader):
    code = f"from novalgo.engine.wakeup import Wakeup; Wakeup({str(data_dir)!r}).wake()"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert leader.wait(30)


def test_a_burst_of_wakes_is_drained_by_one_wait(data_dir, leader):
    worker = Wakeup(data_dir)
    for _ in range(50):
        worker.wake()
    assert leader.wait(5)
    assert not leader.wait(0)  # nothing left over to spin on


def test_without_a_wake_the_wait_is_the_poll(leader):
    assert not leader.wait(0.05)


def test_the_socket_is_private_to_the_user(data_dir, leader):
    mode = os.stat(data_dir / WAKE_FILE).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600


def test_a_new_leader_replaces_the_old_socket_and_is_woken(data_dir):
    old = Wakeup(data_dir)
    assert old.listen()  # then killed: its file stays, nobody closes it
    new = Wakeup(data_dir)
    assert new.listen()
    try:
        Wakeup(data_dir).wake()
        assert new.wait(5)
        assert not old.wait(0)
    finally:
        new.close()
    assert not (data_dir / WAKE_FILE).exists()  # a graceful stop takes its file along


def test_closing_leaves_a_successors_socket_alone(data_dir):
    old, new = Wakeup(data_dir), Wakeup(data_dir)
    assert old.listen() and new.listen()
    old.close()
    try:
        Wakeup(data_dir).wake()
        assert new.wait(5)
    finally:
        new.close()


def test_a_data_dir_too_long_for_a_socket_address_still_wakes(tmp_path):
    deep = tmp_path / ("d" * 100) / ("e" * 100)
    deep.mkdir(parents=True)
    assert len(str(deep / WAKE_FILE)) > 108
    leader = Wakeup(deep)
    assert leader.listen()
    try:
        assert (deep / WAKE_FILE).exists()
        Wakeup(deep).wake()
        assert leader.wait(5)
    finally:
        leader.close()


def test_without_an_address_the_leader_polls_and_says_so(data_dir, monkeypatch, caplog):
    monkeypatch.setattr(Wakeup, "_address", lambda self: None)
    leader = Wakeup(data_dir)
    with caplog.at_level(logging.WARNING, logger="novalgo.engine.wakeup"):
        assert not leader.listen()
    assert "poll only" in caplog.text
    try:
        Wakeup(data_dir).wake()  # goes nowhere, raises nothing
        assert not leader.wait(0.05)
        leader.wake()  # the leader's own requests still wake it
        assert leader.wait(5)
    finally:
        leader.close()


def test_switched_off_only_a_stop_ends_the_wait(data_dir):
    leader = Wakeup(data_dir, enabled=False)
    assert not leader.listen()
    try:
        Wakeup(data_dir).wake()
        leader.wake()
        leader.notify()
        assert not leader.wait(0.05)
        leader.interrupt()
        assert leader.wait(5)
    finally:
        leader.close()
