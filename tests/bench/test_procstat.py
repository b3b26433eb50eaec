"""procstat.tree_cpu counts a process's descendants: live ones as they run, ended ones once
reaped (the server's face encoder processes are the server's CPU); udp_rx_queued sees what a
process has not read from its sockets yet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.bench import procstat

pytestmark = pytest.mark.unit

BURN_S = 0.3
# Burns BURN_S of CPU, says so, then waits for its stdin to close.
BURN = (
    "import sys, time\n"
    f"end = time.process_time() + {BURN_S}\n"
    "while time.process_time() < end: pass\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)
# Starts a grandchild that burns too (sharing stdin and stdout), burns, waits, reaps it.
PARENT = (
    "import subprocess, sys\n"
    f"child = subprocess.Popen([sys.executable, '-c', {BURN!r}])\n"
    f"exec({BURN!r})\n"
    "child.wait()\n"
)


def _others(pid: int) -> float:
    """CPU seconds of pid's descendants: the tree minus its own."""
    return procstat.tree_cpu(pid).total_s - procstat.cpu(pid).total_s


def test_tree_cpu_counts_children_and_grandchildren_while_they_live_and_after() -> None:
    me = os.getpid()
    before = _others(me)
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert [proc.stdout.readline().strip() for _ in range(2)] == ["ready", "ready"]
        below = procstat.descendants(me)
        assert proc.pid in below and len(below) >= 2  # the child and the grandchild
        live = _others(me) - before
        # Two burns (plus two interpreters' start-up), read from the live processes.
        assert live >= 2 * BURN_S - 0.05
        assert procstat.cpu(me).total_s < procstat.tree_cpu(me).total_s
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        # Reaped: their time moved into cutime/cstime (the child's, then ours); not lost.
        assert _others(me) - before >= live - 0.02
        assert proc.pid not in procstat.descendants(me)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_tree_cpu_of_a_process_without_children_is_its_own() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", BURN], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        proc.stdout.readline()
        own, tree = procstat.cpu(proc.pid), procstat.tree_cpu(proc.pid)
        assert abs(tree.total_s - own.total_s) < 0.02
        proc.stdin.close()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_udp_rx_queued_counts_what_a_socket_has_not_read_yet() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender,
    ):
        receiver.bind(("127.0.0.1", 0))
        inode = os.fstat(receiver.fileno()).st_ino
        assert inode in procstat.socket_inodes(os.getpid())
        assert procstat.udp_rx_queued({inode}) == 0
        for _ in range(3):
            sender.sendto(b"x" * 1000, receiver.getsockname())
        assert procstat.udp_rx_queued({inode}) >= 3000
        assert procstat.udp_rx_queued(set()) == 0  # only the sockets asked about
        receiver.settimeout(1.0)
        for _ in range(3):
            receiver.recv(2048)
        assert procstat.udp_rx_queued({inode}) == 0
