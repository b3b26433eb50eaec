"""Detection/encoding at a given scale, the worker pool, one job in flight per session."""

from __future__ import annotations

import asyncio
import os
import threading

import numpy as np
import pytest

from identity.faces import (
    WORKER_NICENESS,
    FaceWorker,
    LatestOnly,
    ScanPlan,
    detect,
    face_distance,
    model_info,
    resize,
    scan,
)
from tests.identity.conftest import astronaut, grace_hopper

pytestmark = pytest.mark.unit


def test_boxes_come_back_in_full_image_coordinates() -> None:
    image = grace_hopper()
    full = detect(image, scale=1.0, upsample=0)
    half = detect(image, scale=0.5, upsample=1)
    assert len(full) == len(half) == 1
    a, b = full[0], half[0]
    assert abs((a.top + a.bottom) - (b.top + b.bottom)) / 2 < 0.15 * a.height
    assert abs((a.left + a.right) - (b.left + b.right)) / 2 < 0.15 * a.width


def test_astronaut_patch_false_positive_is_known() -> None:
    # HOG finds her face and, on this build, maybe the mission patch: never fewer than one,
    # and the top of the photo (her face only) gives exactly one.
    assert len(detect(astronaut(), upsample=1)) >= 1
    assert len(detect(np.ascontiguousarray(astronaut()[:300]), upsample=1)) == 1


def test_scan_encodes_a_single_face_and_times_it() -> None:
    result = scan(grace_hopper(), ScanPlan(scale=0.5, upsample=1, landmarks=True))
    assert result.count == 1
    assert result.encoding is not None and result.encoding.shape == (128,)
    assert result.landmarks is not None and len(result.landmarks["chin"]) == 17
    assert result.detect_ms > 0 and result.encode_ms > 0


def test_scan_falls_back_when_the_cheap_plan_misses() -> None:
    tiny = ScanPlan(scale=0.1, upsample=0, fallback=ScanPlan(scale=1.0, upsample=0))
    result = scan(grace_hopper(), tiny)
    assert result.count == 1
    assert result.plan.scale == 1.0


def test_resized_copy_encodes_close_to_the_original() -> None:
    image = grace_hopper()
    a = scan(image, ScanPlan()).encoding
    b = scan(resize(image, 0.6), ScanPlan()).encoding
    assert a is not None and b is not None
    assert face_distance(a, b) < 0.2


def test_model_info_names_model_and_versions() -> None:
    info = model_info()
    assert info.name == "dlib_face_recognition_resnet_model_v1"
    assert "face_recognition_models 0.3" in info.version
    assert "dlib" in info.version


async def test_worker_runs_off_the_event_loop(worker: FaceWorker) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    result = await worker.scan(grace_hopper(), ScanPlan(upsample=1))
    task.cancel()
    assert result.count == 1
    assert ticks >= 3, "the event loop was blocked while faces were detected"


async def test_face_threads_run_below_the_event_loop() -> None:
    # Under contention for the cores the kernel runs the event loop (media) first.
    if not hasattr(os, "setpriority"):
        pytest.skip("no per-thread priorities here")
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    worker = FaceWorker(max_workers=1)
    try:
        theirs = await worker.run(
            lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        )
    finally:
        worker.close()
    assert theirs == min(19, own + WORKER_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # only them


async def test_latest_only_keeps_one_in_flight_and_replaces_pending() -> None:
    started: list[int] = []
    release = asyncio.Event()
    in_flight = 0
    most = 0

    async def handler(job: int) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        started.append(job)
        await release.wait()
        in_flight -= 1

    runner: LatestOnly[int] = LatestOnly(handler)
    for job in range(5):
        runner.submit(job)
        await asyncio.sleep(0)
    release.set()
    await runner.drain()
    assert started == [0, 4]  # 1, 2, 3 were replaced by newer frames
    assert runner.counters.replaced == 3
    assert most == 1


async def test_a_failing_job_does_not_stop_the_next() -> None:
    seen: list[int] = []

    async def handler(job: int) -> None:
        if job == 0:
            raise RuntimeError("bad frame")
        seen.append(job)

    runner: LatestOnly[int] = LatestOnly(handler)
    runner.submit(0)
    runner.submit(1)
    await runner.drain()
    assert seen == [1]
    assert runner.counters.failed == 1


def test_threads_have_their_own_models_and_agree_on_results() -> None:
    """dlib's detector and encoder are not safe to share between threads (the matcher and a
    liveness check run side by side in the pool): each thread gets its own copies."""
    import concurrent.futures

    from identity.faces import _models, detect, encode

    image = grace_hopper()
    boxes = detect(image, upsample=0)
    reference = encode(image, boxes)[0]

    def work(_: int) -> tuple[int, float]:
        found = detect(image, upsample=0)
        distance = float(np.linalg.norm(encode(image, found)[0] - reference))
        return id(_models()), distance

    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(work, range(12)))
    assert len({model for model, _ in results}) > 1
    assert id(_models()) not in {model for model, _ in results}
    assert max(distance for _, distance in results) < 1e-6
