"""Where the face encoder runs: in the face worker's threads by default (numpy releases the
GIL, dlib's own encoder would stall the event loop), or in worker processes: the event loop
keeps running while it works, the numbers are the encoder's own (face_recognition's), a dead
or hung process is replaced and its check fails cleanly, and shutdown stops the processes."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from identity.encoders import EncoderProcesses, EncoderUnavailable
from identity.faces import FaceBox, FaceWorker, Image, ScanPlan, detect, encode, face_distance
from identity.id_document import IdFace
from identity.matcher import Frame, IdentityEvent, LiveMatcher
from tests.identity.conftest import astronaut, grace_hopper, make_consent

pytestmark = pytest.mark.unit

TICK_S = 0.005
MAX_LATE_S = 0.030  # the brief's bound for the loop while an encoding runs elsewhere


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def faces() -> list[tuple[Image, list[FaceBox]]]:
    found = []
    for image in (grace_hopper(), np.ascontiguousarray(astronaut()[:300])):
        boxes = detect(image, upsample=1)
        assert len(boxes) == 1
        found.append((image, boxes))
    return found


@pytest.fixture
def fresh_worker() -> Iterator[FaceWorker]:
    worker = FaceWorker(max_workers=1, encoder_processes=1, encode_timeout=20.0)
    try:
        yield worker
    finally:
        worker.close()


async def _max_lateness(work: asyncio.Future[object] | asyncio.Task[object]) -> float:
    """Tick every 5 ms on the event loop until `work` is done; the worst lateness seen."""
    worst = 0.0
    while not work.done():
        expected = time.perf_counter() + TICK_S
        await asyncio.sleep(TICK_S)
        worst = max(worst, time.perf_counter() - expected)
    await work
    return worst


async def _probe_encodings(
    worker: FaceWorker, faces: list[tuple[Image, list[FaceBox]]]
) -> list[float]:
    """The loop's worst lateness during each of 8 encodings, one after the other."""
    lates = []
    for _ in range(4):
        for image, boxes in faces:
            lates.append(
                await _max_lateness(asyncio.ensure_future(worker.run(encode, image, boxes)))
            )
    return sorted(lates)


def test_chips_give_the_encoders_own_numbers(faces: list[tuple[Image, list[FaceBox]]]) -> None:
    """Chips cut in the thread, encoded by numpy: face_recognition's (dlib's) result, to float
    rounding (a match decision moves at 0.01; these differ by a few millionths)."""
    from identity.faces import _fr

    for image, boxes in faces:
        ours = encode(image, boxes)[0]
        theirs = _fr().face_encodings(image, [b.as_css() for b in boxes], model="small")[0]
        assert face_distance(ours, theirs) < 1e-5


async def test_encodings_from_the_process_equal_the_threads(
    fresh_worker: FaceWorker, faces: list[tuple[Image, list[FaceBox]]]
) -> None:
    encoders = fresh_worker.encoders
    assert encoders is not None
    for image, boxes in faces:
        remote = (await fresh_worker.run(encode, image, boxes))[0]
        assert face_distance(remote, encode(image, boxes)[0]) < 1e-6
    assert encoders.pids(), "the encoding ran in a worker process"
    assert os.getpid() not in encoders.pids()


def test_the_server_encodes_in_its_threads_by_default(worker: FaceWorker) -> None:
    assert worker.encoders is None
    assert FaceWorker.__init__.__kwdefaults__["encoder_processes"] == 0


async def test_the_event_loop_keeps_ticking_while_a_face_is_encoded(
    worker: FaceWorker, faces: list[tuple[Image, list[FaceBox]]]
) -> None:
    await worker.warm_up()  # as the server does at start: every process started, models loaded
    lates = await _probe_encodings(worker, faces)
    # Every encoding but at most one (a shared machine may deschedule this process once;
    # the GIL would stall the loop during every encoding):
    assert lates[-2] < MAX_LATE_S, f"the loop was late by {[round(x * 1000) for x in lates]} ms"


async def test_the_event_loop_keeps_ticking_with_encoder_processes(
    fresh_worker: FaceWorker, faces: list[tuple[Image, list[FaceBox]]]
) -> None:
    await fresh_worker.warm_up()
    lates = await _probe_encodings(fresh_worker, faces)
    assert lates[-2] < MAX_LATE_S, f"the loop was late by {[round(x * 1000) for x in lates]} ms"


async def test_dlibs_own_encoder_in_a_thread_would_stall_the_loop(
    faces: list[tuple[Image, list[FaceBox]]],
) -> None:
    """The same probe with dlib's compute_face_descriptor in a thread (why it is not used):
    it holds the GIL for its whole ~95 ms."""
    import dlib

    from identity.faces import face_chips
    from identity.resnet import model_path

    dlib_encoder = dlib.face_recognition_model_v1(str(model_path()))
    chips = [face_chips(image, boxes)[0] for image, boxes in faces]
    lates = []
    for _ in range(3):
        for chip in chips:
            work = asyncio.ensure_future(
                asyncio.to_thread(dlib_encoder.compute_face_descriptor, chip, 0)
            )
            lates.append(await _max_lateness(work))
    lates.sort()
    assert lates[1] > 0.050, f"expected ~90 ms stalls, saw {[round(x * 1000) for x in lates]} ms"


async def test_a_scan_with_a_face_keeps_the_loop_running(worker: FaceWorker) -> None:
    """The whole check (detection and encoding in a thread)."""
    image = grace_hopper()
    await worker.warm_up()
    lates = []
    for _ in range(3):
        scan = asyncio.ensure_future(worker.scan(image, ScanPlan(upsample=0)))
        lates.append(await _max_lateness(scan))
        assert scan.result().encoding is not None
    assert sorted(lates)[1] < MAX_LATE_S, f"the loop was late by {lates} s during checks"


async def test_a_killed_encoder_process_is_replaced_and_its_check_fails_cleanly(
    fresh_worker: FaceWorker, faces: list[tuple[Image, list[FaceBox]]]
) -> None:
    encoders = fresh_worker.encoders
    assert encoders is not None
    image, boxes = faces[0]
    reference = (await fresh_worker.run(encode, image, boxes))[0]
    (victim,) = encoders.pids()
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(EncoderUnavailable, match="died"):
        await asyncio.wait_for(fresh_worker.run(encode, image, boxes), 30)
    assert encoders.replaced == 1
    # The replacement is already starting; the next check runs on it.
    again = (await asyncio.wait_for(fresh_worker.run(encode, image, boxes), 30))[0]
    assert face_distance(again, reference) < 1e-6
    assert victim not in encoders.pids() and len(encoders.pids()) == 1


async def test_a_killed_encoder_fails_one_live_check_and_the_matcher_goes_on(
    fresh_worker: FaceWorker, installed_faces: dict[str, IdFace]
) -> None:
    events: list[IdentityEvent] = []
    matcher = LiveMatcher(
        installed_faces["grace_hopper"].template,
        make_consent(),
        worker=fresh_worker,
        on_event=events.append,
    )
    frame = Frame(grace_hopper(), 0.0)
    assert [e.kind.value for e in await matcher.check_now(frame)] == ["match"]
    assert fresh_worker.encoders is not None
    for pid in fresh_worker.encoders.pids():
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(EncoderUnavailable):
        await asyncio.wait_for(matcher.check_now(Frame(grace_hopper(), 3.0)), 30)
    assert matcher.stats.failed == 1 and len(events) == 1  # no verdict from a failed check
    later = await asyncio.wait_for(matcher.check_now(Frame(grace_hopper(), 3.5)), 30)
    assert [e.kind.value for e in later] == ["match"]
    await matcher.close()


async def test_a_hung_encoder_process_is_killed_replaced_and_its_check_fails(
    faces: list[tuple[Image, list[FaceBox]]],
) -> None:
    image, boxes = faces[0]
    with FaceWorker(max_workers=1, encoder_processes=1, encode_timeout=3.0) as worker:
        encoders = worker.encoders
        assert encoders is not None
        await worker.run(encode, image, boxes)
        (stuck,) = encoders.pids()
        os.kill(stuck, signal.SIGSTOP)
        try:
            started = time.monotonic()
            with pytest.raises(EncoderUnavailable, match="did not answer"):
                await asyncio.wait_for(worker.run(encode, image, boxes), 30)
            assert time.monotonic() - started < 10
            assert not _alive(stuck)
            assert len(await worker.run(encode, image, boxes)) == 1
        finally:
            if _alive(stuck):
                os.kill(stuck, signal.SIGKILL)


def test_close_stops_the_encoder_processes(faces: list[tuple[Image, list[FaceBox]]]) -> None:
    encoders = EncoderProcesses(2)
    pids = encoders.warm_up()
    assert pids and all(_alive(p) for p in pids)
    encoders.close(grace=5.0)
    assert not any(_alive(p) for p in pids)
    with pytest.raises(EncoderUnavailable):
        encoders.encode([np.zeros((150, 150, 3), np.uint8)])


def test_fork_is_refused() -> None:
    with pytest.raises(ValueError, match="fork"):
        EncoderProcesses(1, start_method="fork")
    with pytest.raises(ValueError):
        EncoderProcesses(3)


def test_workers_exit_when_their_server_is_killed() -> None:
    """A crashed server (SIGKILL: no shutdown) leaves no encoder process behind."""
    import subprocess
    import sys

    script = (
        "import os, signal\n"
        "from identity.encoders import EncoderProcesses\n"
        "pids = EncoderProcesses(2).warm_up()\n"
        "print(' '.join(map(str, sorted(set(pids)))), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=repo,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    pids = [int(p) for p in proc.stdout.split()]
    assert pids
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)
