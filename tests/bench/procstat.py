"""CPU time and memory of a process from /proc (Linux), all of its threads included; `tree_cpu`
adds the processes it started (the server's face encoder processes are the server's CPU);
`udp_rx_queued` what its UDP sockets received and it has not read yet."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class CpuSample:
    user_s: float
    system_s: float

    @property
    def total_s(self) -> float:
        return self.user_s + self.system_s


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may contain spaces: split after it.
    # fields[0] is the state (field 3 of proc(5)): fields[i] is proc(5)'s field i + 3.
    return raw[raw.rindex(")") + 2 :].split()


def cpu(pid: int) -> CpuSample:
    """utime + stime of `pid` so far (children not included)."""
    fields = _stat_fields(pid)
    # utime and stime are fields 14 and 15.
    return CpuSample(int(fields[11]) / TICKS, int(fields[12]) / TICKS)


def children(pid: int) -> dict[int, list[int]]:
    """Parent pid -> child pids of every process now in /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])  # ppid: field 4
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, their children, ...)."""
    tree = children(pid)
    found: list[int] = []
    todo = list(tree.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(tree.get(child, []))
    return found


def tree_cpu(pid: int) -> CpuSample:
    """CPU of `pid` and of the processes it started, so far: utime + stime of `pid` and of
    every live descendant (read while they live), plus cutime + cstime of each, which holds
    the CPU of their children that ended and were waited for (nothing is counted twice: a
    child's time moves to its parent's cutime when it is reaped). A descendant that ends
    between two readings without being reaped by one of them is lost (rare: the server's
    workers live as long as it does)."""
    user = system = 0.0
    for member in [pid, *descendants(pid)]:
        try:
            fields = _stat_fields(member)
        except OSError:
            if member == pid:
                raise
            continue  # ended since the listing
        # utime, stime, cutime, cstime are fields 14-17.
        user += (int(fields[11]) + int(fields[13])) / TICKS
        system += (int(fields[12]) + int(fields[14])) / TICKS
    return CpuSample(user, system)


def rss_bytes(pid: int) -> int:
    fields = Path(f"/proc/{pid}/statm").read_text().split()
    return int(fields[1]) * PAGE


def cpu_pct(before: CpuSample, after: CpuSample, seconds: float) -> float:
    """Percent of one core over `seconds` (100 = one core busy all the time)."""
    return 100.0 * (after.total_s - before.total_s) / seconds


@dataclass(frozen=True)
class MachineSample:
    busy_s: float
    total_s: float


def machine() -> MachineSample:
    """All CPUs together, from the first line of /proc/stat (busy = not idle, not iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])  # guest time is already counted in user
    return MachineSample((total - idle) / TICKS, total / TICKS)


def machine_busy_pct(before: MachineSample, after: MachineSample) -> float:
    """Percent of the whole machine (100 = every core busy)."""
    total = after.total_s - before.total_s
    return 100.0 * (after.busy_s - before.busy_s) / total if total > 0 else 0.0


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets `pid` holds open (its /proc/PID/fd links to socket:[N])."""
    found: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:[") and target.endswith("]"):
            found.add(int(target[8:-1]))
    return found


def udp_rx_queued(inodes: set[int]) -> int:
    """Bytes the kernel holds, received and not yet read, in the UDP sockets among `inodes`
    (rx_queue of /proc/net/udp and udp6: the memory the queued datagrams take, a little more
    than their payload). A process that falls behind reading its sockets shows here first."""
    total = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6
        for line in lines:
            fields = line.split()
            # fields: sl, local, remote, st, tx_queue:rx_queue, tr:when, retrnsmt, uid,
            # timeout, inode, ...
            if len(fields) > 9 and int(fields[9]) in inodes:
                total += int(fields[4].split(":")[1], 16)
    return total
