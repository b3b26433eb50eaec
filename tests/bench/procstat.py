"""CPU time and memory of a process from /proc (Linux), all of its threads included."""

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


def cpu(pid: int) -> CpuSample:
    """utime + stime of `pid` so far (children not included)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may contain spaces: split after it.
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is the state (field 3 of proc(5)); utime and stime are fields 14 and 15.
    return CpuSample(int(fields[11]) / TICKS, int(fields[12]) / TICKS)


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
