"""CPU per packet of the receive-side bandwidth estimator: aiortc's against media/fast_remb.py.

`python -m tests.bench.remb_costs`. The same packets through each estimator, CPU time
(`time.process_time_ns`), the fastest of `--repeat` rounds, the estimators taking turns in each
round so that a change in the machine's load moves all alike:

    aiortc           aiortc 1.16.0's RemoteBitrateEstimator as shipped
    aiortc+fast_rate the same with media/fast_rate.py's two loops (what the server ran before)
    fast             media/fast_remb.FastRemoteBitrateEstimator
    (throttled)      the same two, behind media/remb_throttle.py's rule, as receivers call them

on three traces of a 30 fps VP8 publisher (about 4 packets a frame, abs-send-time 6.18 fixed
point, 24 bits): "paced" (a browser's pacer, 1 ms between packets, jitter), "frames" (the
packets of a frame share send and arrival time, as tests/bench/packet_costs.py builds them),
"congested" (a bottleneck queue: the detector overuses and the estimate is recomputed on every
packet). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from aiortc.rate import OveruseEstimator, RateCounter, RemoteBitrateEstimator

from media import fast_rate, fast_remb, remb_throttle

Trace = list[tuple[int, int, int]]  # arrival ms, abs-send-time, payload size
SSRC = 4242


def abs_send_time(ms: float) -> int:
    return int(ms * (1 << 18) / 1000) & 0xFFFFFF


def vp8(seconds: float, paced: bool, seed: int = 1, kbps: int = 1200) -> Trace:
    rng = random.Random(seed)
    trace = []
    for frame in range(int(seconds * 30)):
        frame_ms = 20_000 + frame * 1000 / 30
        size = kbps * 1000 / 8 / 30 * (6 if frame % 90 == 0 else rng.uniform(0.6, 1.3))
        count = max(1, round(size / 1200))
        for part in range(count):
            if paced:
                send_ms = frame_ms + part + rng.uniform(0, 0.3)
                arrival = round(send_ms + 20 + rng.expovariate(1.0))
            else:
                send_ms, arrival = frame_ms, round(frame_ms)
            trace.append((arrival, abs_send_time(send_ms), round(size / count)))
    trace.sort(key=lambda p: p[0])
    return trace


def congested(seconds: float) -> Trace:
    """The paced trace through a 900 kbit/s FIFO link from 3 s to 8 s (2 Mbit/s sent)."""
    out, free_at = [], 0.0
    for arrival, send, size in vp8(seconds, paced=True, seed=2, kbps=2000):
        kbps = 900 if 23_000 <= arrival < 28_000 else 20_000
        free_at = max(float(arrival), free_at) + size * 8 / kbps
        out.append((round(free_at), send, size))
    return out


@contextmanager
def aiortc_as_shipped() -> Iterator[None]:
    installed = RateCounter._erase_old, OveruseEstimator.update_min_frame_period
    RateCounter._erase_old = fast_rate.ORIGINAL_ERASE_OLD  # type: ignore[method-assign]
    OveruseEstimator.update_min_frame_period = fast_rate.ORIGINAL_UPDATE_MIN_FRAME_PERIOD  # type: ignore[method-assign]
    try:
        yield
    finally:
        RateCounter._erase_old, OveruseEstimator.update_min_frame_period = installed  # type: ignore[method-assign]


@contextmanager
def with_fast_rate() -> Iterator[None]:
    installed = RateCounter._erase_old, OveruseEstimator.update_min_frame_period
    fast_rate.install()
    try:
        yield
    finally:
        RateCounter._erase_old, OveruseEstimator.update_min_frame_period = installed  # type: ignore[method-assign]


def _aiortc_add(throttled: bool) -> Callable[[], Any]:
    add = remb_throttle.add if throttled else remb_throttle.ORIGINAL_ADD

    def make() -> Any:
        return add.__get__(RemoteBitrateEstimator())

    return make


def _fast_add(throttled: bool) -> Callable[[], Any]:
    cls = (
        fast_remb.ThrottledRemoteBitrateEstimator
        if throttled
        else fast_remb.FastRemoteBitrateEstimator
    )
    return lambda: cls().add


CONTENDERS: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
    "aiortc": (aiortc_as_shipped, _aiortc_add(False)),
    "aiortc+fast_rate": (with_fast_rate, _aiortc_add(False)),
    "fast": (with_fast_rate, _fast_add(False)),
    "aiortc+fast_rate throttled": (with_fast_rate, _aiortc_add(True)),
    "fast throttled": (with_fast_rate, _fast_add(True)),
}


def _ns(make: Callable[[], Any], trace: Trace) -> int:
    add = make()
    started = time.process_time_ns()
    for arrival, send, size in trace:
        add(arrival, send, size, SSRC)
    return time.process_time_ns() - started


def measure(traces: dict[str, Trace], repeat: int) -> dict[str, dict[str, float]]:
    """µs per packet: {trace: {contender: µs}}."""
    best: dict[str, dict[str, float]] = {name: {} for name in traces}
    for _ in range(repeat):
        for trace_name, trace in traces.items():
            for label, (context, make) in CONTENDERS.items():
                with context():
                    ns = _ns(make, trace)
                row = best[trace_name]
                row[label] = min(row.get(label, float("inf")), ns / len(trace) / 1000)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="of stream per trace")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    traces = {
        "paced": vp8(args.seconds, paced=True),
        "frames": vp8(args.seconds, paced=False),
        "congested": congested(args.seconds),
    }
    results = measure(traces, args.repeat)
    print(f"{'trace':10} {'packets':>8} " + " ".join(f"{c:>28}" for c in CONTENDERS))
    for name, row in results.items():
        cells = " ".join(f"{row[c]:25.3f} µs" for c in CONTENDERS)
        print(f"{name:10} {len(traces[name]):8d} {cells}")
    summary: dict[str, Any] = {
        "us_per_packet": results,
        "packets": {n: len(t) for n, t in traces.items()},
    }
    summary["aiortc_over_fast"] = {n: round(r["aiortc"] / r["fast"], 2) for n, r in results.items()}
    summary["aiortc_fast_rate_over_fast"] = {
        n: round(r["aiortc+fast_rate"] / r["fast"], 2) for n, r in results.items()
    }
    for name, ratio in summary["aiortc_over_fast"].items():
        print(
            f"{name}: aiortc / fast = {ratio}, "
            f"aiortc+fast_rate / fast = {summary['aiortc_fast_rate_over_fast'][name]}"
        )
    summary["us_per_packet"] = {
        n: {c: round(v, 3) for c, v in r.items()} for n, r in results.items()
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
