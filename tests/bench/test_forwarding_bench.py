"""Issue 3's benchmark under pytest: `make bench` (pytest -m bench -s tests/bench).

It prints the figures (a table, then one JSON line); it asserts only that media flowed, never a
speed: a benchmark reports, the reader judges. NOTARYLINK_BENCH_SESSIONS and
NOTARYLINK_BENCH_NAIVE_SESSIONS (comma-separated N) override the default lists.
"""

from __future__ import annotations

import io
import os
import sys

import pytest

from tests.bench.forwarding import Config, run_benchmark

pytestmark = pytest.mark.bench


class _Tee(io.TextIOBase):
    """Print as it goes (pytest -s) and keep a copy."""

    def __init__(self) -> None:
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        sys.stdout.flush()
        return self.copy.write(text)


def _counts(name: str, default: list[int]) -> list[int]:
    raw = os.environ.get(name)
    return [int(x) for x in raw.split(",") if x.strip()] if raw is not None else default


@pytest.mark.timeout(900)
def test_forwarding_benchmark() -> None:
    defaults = Config()
    sessions = _counts("NOTARYLINK_BENCH_SESSIONS", defaults.sessions)
    if 1 not in sessions:
        sessions = [1, *sessions]  # the sanity check below needs N=1
    config = Config(
        sessions=sessions,
        naive_sessions=_counts("NOTARYLINK_BENCH_NAIVE_SESSIONS", defaults.naive_sessions),
    )
    out = _Tee()
    report = run_benchmark(config, out=out)

    ours_1 = next(r for r in report["runs"] if r["server"] == "ours" and r["sessions"] == 1)
    assert ours_1["delivered_fps_min"] > 0, "no video reached a subscriber through the server"
    assert ours_1["audio_fps_min"] > 0, "no audio reached a subscriber through the server"
    for key in (
        "sessions",
        "ours_cpu_pct_per_session",
        "naive_cpu_pct_per_session",
        "naive_over_ours",
        "delivered_fps_min",
    ):
        assert key in report
    last = out.copy.getvalue().strip().splitlines()[-1]
    assert last.startswith("{") and last.endswith("}"), "the last line is the JSON object"
