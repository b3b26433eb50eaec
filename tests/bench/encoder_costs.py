"""What one face encoding costs: dlib's encoder vs identity.resnet's numpy pass.

    python -m tests.bench.encoder_costs [--rounds N]

Per chip (one chip a call, best and median of N calls; and a batch of 8), then how each one
treats the GIL: a pure-Python loop counts in the main thread for a while alone, then while
the encoder runs back to back in another thread; its rate and its longest stall (the gap
between two iterations: what an event loop would feel) tell how long the encoder keeps the
GIL. OpenBLAS threads: --blas-threads, else as the environment sets them. The last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from identity.encoders import Chip
from identity.resnet import ResNetEncoder, limit_blas_threads, model_path

Encode = Callable[[Sequence[Chip]], object]


def chips(count: int) -> list[Chip]:
    rng = np.random.default_rng(7)  # the cost does not depend on the content
    return [rng.integers(0, 256, (150, 150, 3), dtype=np.uint8) for _ in range(count)]


def per_chip_ms(encode: Encode, batch: Sequence[Chip], rounds: int) -> tuple[float, float]:
    """(best, median) milliseconds per chip."""
    encode(batch)  # warm: first-call allocations
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        encode(batch)
        times.append((time.perf_counter() - start) * 1000 / len(batch))
    return min(times), statistics.median(times)


def busy_loop(seconds: float) -> tuple[float, float]:
    """A CPU-bound Python loop: (iterations a millisecond, longest gap between two in ms)."""
    count = 0
    longest = 0.0
    start = last = time.perf_counter()
    while last - start < seconds:
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
        count += 1
    return count / ((last - start) * 1000), longest * 1000


def ticking_loop(seconds: float) -> tuple[float, float]:
    """An event loop's pattern: sleep 1 ms, then ~0.2 ms of Python work. (Median, worst)
    lateness of the wake-ups in ms: how long a ready socket would wait for the GIL."""
    late = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        asked = time.perf_counter()
        time.sleep(0.001)
        late.append((time.perf_counter() - asked) * 1000 - 1.0)
        busy = time.perf_counter() + 0.0002
        while time.perf_counter() < busy:
            pass
    return statistics.median(late), max(late)


def beside(encode: Encode, batch: Sequence[Chip], seconds: float) -> dict[str, float]:
    """The two loops alone, then each with `encode` running back to back in another thread."""
    alone_rate, alone_gap = busy_loop(seconds)
    alone_late, alone_worst = ticking_loop(seconds)
    stop = threading.Event()
    done: list[float] = []

    def work() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            encode(batch)
            done.append((time.perf_counter() - start) * 1000 / len(batch))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    time.sleep(0.05)
    rate, gap = busy_loop(seconds)
    beside_busy = statistics.median(done) if done else -1.0
    done.clear()
    late, worst = ticking_loop(seconds)
    beside_ticking = statistics.median(done) if done else -1.0
    stop.set()
    worker.join()
    return {
        "busy_loop_rate_share": round(rate / alone_rate, 3),  # 1.0: not slowed at all
        "busy_loop_longest_stall_ms": round(gap, 2),
        "busy_loop_longest_stall_alone_ms": round(alone_gap, 2),
        "encoder_ms_per_chip_beside_busy_loop": round(beside_busy, 2),
        "ticking_loop_median_late_ms": round(late, 2),
        "ticking_loop_worst_late_ms": round(worst, 2),
        "ticking_loop_median_late_alone_ms": round(alone_late, 2),
        "ticking_loop_worst_late_alone_ms": round(alone_worst, 2),
        "encoder_ms_per_chip_beside_ticking_loop": round(beside_ticking, 2),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=2.0, help="each GIL measurement")
    parser.add_argument("--blas-threads", type=int, default=1, help="0: OpenBLAS's default")
    args = parser.parse_args(argv)
    # The encoder pins OpenBLAS to 1 thread by default; 0 here measures OpenBLAS's own choice.
    before = limit_blas_threads(args.blas_threads) if args.blas_threads else None

    import dlib

    dlib_encoder = dlib.face_recognition_model_v1(str(model_path()))
    numpy_encoder = ResNetEncoder(blas_threads=None)

    def dlib_encode(batch: Sequence[Chip]) -> object:
        return dlib_encoder.compute_face_descriptor([np.ascontiguousarray(c) for c in batch], 0)

    one, eight = chips(1), chips(8)
    dlib_best, dlib_median = per_chip_ms(dlib_encode, one, max(3, args.rounds // 4))
    numpy_best, numpy_median = per_chip_ms(numpy_encoder.encode, one, args.rounds)
    batch_best, batch_median = per_chip_ms(numpy_encoder.encode, eight, max(3, args.rounds // 4))
    print(f"dlib   1 chip a call: {dlib_best:6.1f} ms/chip best, {dlib_median:6.1f} median")
    print(f"numpy  1 chip a call: {numpy_best:6.1f} ms/chip best, {numpy_median:6.1f} median")
    print(f"numpy  8 chips a call: {batch_best:5.1f} ms/chip best, {batch_median:6.1f} median")
    gil_numpy = beside(numpy_encoder.encode, one, args.seconds)
    gil_dlib = beside(dlib_encode, one, args.seconds)
    print(f"beside a Python loop, numpy: {gil_numpy}")
    print(f"beside a Python loop, dlib:  {gil_dlib}")
    result = {
        "openblas_threads": args.blas_threads or os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "openblas_threads_before": before,
        "dlib_ms_per_chip": round(dlib_median, 2),
        "numpy_ms_per_chip": round(numpy_median, 2),
        "numpy_batch8_ms_per_chip": round(batch_median, 2),
        "ratio": round(dlib_median / numpy_median, 2),
        "gil_numpy": gil_numpy,
        "gil_dlib": gil_dlib,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
