"""Issue 5's benchmark: live face matching on the Lin-Manuel Miranda clip (pytest -m bench -s).

The clip is decoded once with PyAV into RGB frames (decoding is media/'s cost, measured in its
own benchmark, and is left out here), then fed at real-time pace (each frame offered when its
media time comes) to:

- ours: `LiveMatcher` with its defaults (checks every 0.5 s until the first verdict, then
  every 3 s; detection on a reduced copy; at most one check in flight), over the clip looped
  LOOPS times so that the steady rate shows;
- naive, in the same run: every frame, full resolution, HOG upsample 1 and an encoding of
  every face, each frame handed to the same thread pool as it arrives (run_in_executor per
  frame, no bound), over one pass of the clip.

CPU is `time.process_time()` (all threads of this process) over wall-clock windows:
`cpu_pct_per_session` from the first verdict to the end (the steady rate),
`cpu_pct_whole_run` from the first frame. It prints a table, then one JSON line last. It
asserts only that verdicts came out: a benchmark reports, the reader judges.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from identity.consent import Consent
from identity.faces import FaceWorker, ScanPlan, encode, model_info, scan
from identity.id_document import DocumentKind, intake_id_photo
from identity.matcher import EventKind, Frame, IdentityEvent, LiveMatcher, MatcherConfig
from tests import support

pytestmark = pytest.mark.bench

LOOPS = int(os.environ.get("NOTARYLINK_BENCH_IDENTITY_LOOPS", "3"))


def _decode(path: Path) -> list[Frame]:
    import av

    with av.open(str(path)) as container:
        frames = [
            Frame(p.to_ndarray(format="rgb24"), float(p.time or 0))
            for p in container.decode(video=0)
        ]
    start = frames[0].media_time
    return [Frame(f.image, f.media_time - start) for f in frames]


def _looped(frames: list[Frame], loops: int) -> list[Frame]:
    period = frames[-1].media_time + (frames[-1].media_time - frames[-2].media_time)
    return [Frame(f.image, f.media_time + i * period) for i in range(loops) for f in frames]


@dataclass
class Window:
    wall0: float = field(default_factory=time.perf_counter)
    cpu0: float = field(default_factory=time.process_time)

    def pct(self, wall1: float, cpu1: float) -> float:
        return 100.0 * (cpu1 - self.cpu0) / max(1e-9, wall1 - self.wall0)


async def run_ours(frames: list[Frame], reference, consent: Consent, worker: FaceWorker) -> dict:
    events: list[IdentityEvent] = []
    marks: dict[str, tuple[float, float]] = {}

    def on_event(event: IdentityEvent) -> None:
        events.append(event)
        if event.kind in (EventKind.MATCH, EventKind.MISMATCH) and "verdict" not in marks:
            marks["verdict"] = (time.perf_counter(), time.process_time())

    matcher = LiveMatcher(reference, consent, worker=worker, on_event=on_event)
    whole = Window()
    for frame in frames:
        delay = whole.wall0 + frame.media_time - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        matcher.offer(frame)
    await matcher.drain()
    end = (time.perf_counter(), time.process_time())
    await matcher.close()
    verdict_wall, verdict_cpu = marks.get("verdict", end)
    steady = Window(verdict_wall, verdict_cpu)
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.kind.value] = kinds.get(e.kind.value, 0) + 1
    distances = [e.distance for e in events if e.kind is EventKind.MATCH and e.distance]
    return {
        "seconds": round(end[0] - whole.wall0, 2),
        "frames_offered": matcher.stats.offered,
        "checks": matcher.stats.checks,
        "replaced": matcher.replaced,
        "first_verdict_ms": round((verdict_wall - whole.wall0) * 1000, 1),
        "first_verdict_kind": next(
            (e.kind.value for e in events if e.kind in (EventKind.MATCH, EventKind.MISMATCH)),
            None,
        ),
        "cpu_pct_per_session": round(steady.pct(*end), 2),
        "cpu_pct_whole_run": round(whole.pct(*end), 2),
        "ms_per_check": round(
            (matcher.stats.detect_ms + matcher.stats.encode_ms) / max(1, matcher.stats.checks), 1
        ),
        "events": kinds,
        "match_distance_max": round(max(distances), 3) if distances else None,
    }


def _naive_check(image, reference):
    result = scan(image, ScanPlan(scale=1.0, upsample=1, encode=False))
    return encode(image, list(result.boxes))


async def run_naive(frames: list[Frame], reference, worker: FaceWorker) -> dict:
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future] = []
    first_result: list[float] = []
    whole = Window()

    def done(fut: asyncio.Future) -> None:
        if not fut.cancelled() and fut.exception() is None and fut.result() and not first_result:
            first_result.append(time.perf_counter())

    for frame in frames:
        delay = whole.wall0 + frame.media_time - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        fut = loop.run_in_executor(worker._executor, _naive_check, frame.image, reference)
        fut.add_done_callback(done)
        futures.append(fut)
    end = (time.perf_counter(), time.process_time())
    finished = sum(f.done() for f in futures)
    for f in futures:
        f.cancel()
    await asyncio.gather(*futures, return_exceptions=True)
    return {
        "seconds": round(end[0] - whole.wall0, 2),
        "frames_offered": len(frames),
        "frames_done_in_window": finished,
        "backlog_at_end": len(frames) - finished,
        "first_verdict_ms": round((first_result[0] - whole.wall0) * 1000, 1)
        if first_result
        else None,
        "cpu_pct_per_session": round(whole.pct(*end), 2),
    }


@pytest.mark.timeout(600)
def test_identity_benchmark() -> None:
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    clip = _decode(support.testdata_or_skip("video/lin-manuel-miranda-clip.mp4"))
    photo = support.testdata_or_skip("faces/lin-manuel-miranda.png").read_bytes()
    consent = Consent.record("bench", "applicant", text_version="bench")
    reference = intake_id_photo(photo, consent, kind=DocumentKind.PASSPORT).template

    async def both() -> tuple[dict, dict]:
        with FaceWorker(max_workers=2) as worker:
            await worker.warm_up()
            ours = await run_ours(_looped(clip, LOOPS), reference, consent, worker)
            naive = await run_naive(clip, reference, worker)
        return ours, naive

    ours, naive = asyncio.run(both())
    config = MatcherConfig()
    report = {
        "benchmark": "identity-live-match",
        "clip": "lin-manuel-miranda-clip.mp4 (640x360, 29.97 fps, 9.2 s)",
        "loops": LOOPS,
        "cores": os.cpu_count(),
        "model": model_info().as_dict(),
        "threshold": ours.get("threshold", None) or 0.0,
        "acquire_interval_s": config.acquire_interval,
        "steady_interval_s": config.steady_interval,
        "detect_width": config.detect_width,
        "first_verdict_ms": ours["first_verdict_ms"],
        "cpu_pct_per_session": ours["cpu_pct_per_session"],
        "naive_cpu_pct_per_session": naive["cpu_pct_per_session"],
        "naive_over_ours": round(
            naive["cpu_pct_per_session"] / max(0.01, ours["cpu_pct_per_session"]), 1
        ),
        "goals": {"first_verdict_ms": 1000, "cpu_pct_per_session": 5},
        "ours": ours,
        "naive": naive,
    }
    from identity.policy import MatchPolicy

    report["threshold"] = MatchPolicy().threshold
    rows = [
        ("", "ours", "naive"),
        ("window s", ours["seconds"], naive["seconds"]),
        ("frames offered", ours["frames_offered"], naive["frames_offered"]),
        ("frames checked", ours["checks"], naive["frames_done_in_window"]),
        ("first verdict ms", ours["first_verdict_ms"], naive["first_verdict_ms"]),
        ("cpu % per session", ours["cpu_pct_per_session"], naive["cpu_pct_per_session"]),
        ("cpu % whole run", ours["cpu_pct_whole_run"], naive["cpu_pct_per_session"]),
        ("backlog at end", 0, naive["backlog_at_end"]),
    ]
    print()
    for name, a, b in rows:
        print(f"{name:20} {a!s:>12} {b!s:>12}")
    print(f"ours events: {ours['events']}, ms per check {ours['ms_per_check']}")
    print(json.dumps(report))
    assert ours["first_verdict_kind"] == "match"
    assert ours["events"].get("match", 0) >= 2
