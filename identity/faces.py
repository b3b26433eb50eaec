"""Face detection, landmarks and encodings (face_recognition / dlib), off the event loop.

Detection runs on a reduced copy of the image (`scale`), with HOG's upsampling as asked;
boxes come back in the coordinates of the full image, and encodings and landmarks are
computed on the full image (the encoder works on a 150x150 chip aligned on 5 landmarks, so
its cost does not depend on the frame size and full resolution only helps it).

Where the work runs (`FaceWorker`): detection, landmarks, cutting the face chip and (by
default) encoding it run in a shared thread pool. dlib's HOG detector releases the GIL while
it works; the encoder is dlib's ResNet run by numpy (`identity.resnet`, 13-15 ms a chip,
the GIL released inside its matrix products), so the event loop keeps its pace. dlib's own
encoder (~95 ms a chip here, holding the GIL throughout) is not used; encodings can still be
computed in one or two worker processes (`identity.encoders`, `encoder_processes`): a worker
thread hands the chip over and waits for the 128 floats. `encode()` called in such a
FaceWorker's thread goes there; called anywhere else (a test, a CLI, a FaceWorker without
processes) it runs in the calling thread.

dlib's HOG detector keeps working buffers inside the model object and is not safe to call
from two threads at once (the matcher and a liveness check of one session run side by side:
sharing face_recognition's module-level models crashed the process with SIGABRT now and then).
So every worker thread has its own detector and 5-point predictor; the encoder holds read-only
weights and is shared by the process's threads; the 68-point predictor (~100 MB) is shared
behind a lock (its calls take a few ms).
`LatestOnly` keeps one session to at most one job in flight: a frame submitted while a job
runs waits in a single slot, and a newer frame replaces it.

face_recognition loads its models (~100 MB) when imported: it is imported on first use, so
that importing identity/ (the CLI, signaling) stays cheap.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import importlib.metadata
import os
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Generic, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from identity import hog
from identity.encoders import (
    Chip,
    EncoderProcesses,
    encode_chips_with,
    load_encoder,
)

Image = npt.NDArray[np.uint8]  # HxWx3 RGB
Encoding = npt.NDArray[np.float64]  # 128 floats
Landmarks = Mapping[str, Sequence[tuple[int, int]]]  # face_recognition's 68-point groups

ENCODER_NAME = "dlib_face_recognition_resnet_model_v1"
# How much lower the face threads run than the rest of the process (nice, Linux per thread).
# Face checks can wait a few milliseconds; the event loop's media cannot: when the cores are
# all busy (20 sessions on 2 cores), the kernel should run the loop first (docs/bench/README.md
# "Session 8").
WORKER_NICENESS = 10


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What produced a result: carried by every identity result and event."""

    name: str
    version: str
    detector: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "detector": self.detector}


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@functools.cache
def model_info() -> ModelInfo:
    dlib_version = _version("dlib-bin")
    if dlib_version == "unknown":
        dlib_version = _version("dlib")
    return ModelInfo(
        name=ENCODER_NAME,
        version=(
            f"face_recognition_models {_version('face_recognition_models')}; "
            f"face_recognition {_version('face_recognition')}; dlib {dlib_version}; "
            "encoder forward pass: identity/resnet.py (numpy, equal to dlib's)"
        ),
        detector="dlib HOG frontal face detector; 5-point landmarks for encodings, "
        "68-point for liveness",
    )


@functools.cache
def _fr() -> ModuleType:
    with warnings.catch_warnings():
        # face_recognition_models finds its files through pkg_resources (setuptools<82).
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import face_recognition

    return face_recognition


class _ThreadModels:
    """One thread's own copies of the models that are unsafe to share between threads."""

    def __init__(self) -> None:
        _fr()  # face_recognition_models' files need setuptools<82 (see _fr)
        import dlib
        import face_recognition_models as files  # type: ignore[import-untyped]

        self.detector = dlib.get_frontal_face_detector()
        self.limited: dict[int, Any] = {}  # the same detector on fewer pyramid levels
        self.pose5 = dlib.shape_predictor(files.pose_predictor_five_point_model_location())

    def detector_for(self, levels: int | None) -> Any:
        if levels is None:
            return self.detector
        found = self.limited.get(levels)
        if found is None:
            found = self.limited[levels] = hog.load(self.detector, levels)
        return found


_local = threading.local()
_landmarks68_lock = threading.Lock()


def _models() -> _ThreadModels:
    models: _ThreadModels | None = getattr(_local, "models", None)
    if models is None:
        models = _local.models = _ThreadModels()
    return models


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face in full-image pixels (face_recognition's order: top, right, bottom, left)."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def as_css(self) -> tuple[int, int, int, int]:
        return (self.top, self.right, self.bottom, self.left)

    def touches_edge(self, width: int, height: int, margin: int = 1) -> bool:
        return (
            self.top < margin
            or self.left < margin
            or self.bottom > height - margin
            or self.right > width - margin
        )

    def clipped(self, width: int, height: int) -> FaceBox:
        return FaceBox(
            max(0, self.top), min(width, self.right), min(height, self.bottom), max(0, self.left)
        )


def face_distance(a: Encoding, b: Encoding) -> float:
    """Euclidean distance between two encodings (the model's metric; lower is closer)."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, np.float64)))


def resize(image: Image, scale: float) -> Image:
    if scale >= 0.999:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


def detect(
    image: Image, *, scale: float = 1.0, upsample: int = 1, levels: int | None = None
) -> list[FaceBox]:
    """HOG detection on `image` reduced by `scale`; boxes in full-image coordinates.
    `levels`: scan only that many of the finest pyramid levels (`identity.hog`); each level
    finds faces 6/5 times larger than the one before (two: boxes of ~55-100 px at `scale`)."""
    small = resize(np.ascontiguousarray(image), scale)
    rects = _models().detector_for(levels)(small, upsample)
    height, width = image.shape[:2]
    factor = image.shape[1] / small.shape[1]
    return [
        FaceBox(
            round(r.top() * factor),
            round(r.right() * factor),
            round(r.bottom() * factor),
            round(r.left() * factor),
        ).clipped(width, height)
        for r in rects
    ]


def face_chips(image: Image, boxes: Sequence[FaceBox]) -> list[Chip]:
    """The 150x150 chip per box that the encoder sees: aligned on 5-point landmarks, with
    dlib's default padding (what `compute_face_descriptor(image, shape)` cuts itself)."""
    import dlib

    models = _models()
    image = np.ascontiguousarray(image)
    chips = []
    for b in boxes:
        shape = models.pose5(image, dlib.rectangle(b.left, b.top, b.right, b.bottom))
        chips.append(np.asarray(dlib.get_face_chip(image, shape, size=150, padding=0.25)))
    return chips


def encode(image: Image, boxes: Sequence[FaceBox]) -> list[Encoding]:
    """One 128-d encoding per box (5-point landmarks, no jitter): what
    face_recognition.face_encodings(model="small") gives. In the thread of a FaceWorker with
    encoder processes it runs in one of them; elsewhere in this thread."""
    if not boxes:
        return []
    chips = face_chips(image, boxes)
    remote: Callable[[Sequence[Chip]], list[Encoding]] | None = getattr(_local, "encoder", None)
    if remote is not None:
        return remote(chips)
    return encode_chips_with(load_encoder(), chips)


def landmarks68(image: Image, boxes: Sequence[FaceBox]) -> list[dict[str, list[tuple[int, int]]]]:
    """68-point landmarks per box, grouped (chin, left_eye, right_eye, nose_bridge, ...)."""
    if not boxes:
        return []
    with _landmarks68_lock:
        found: list[dict[str, list[tuple[int, int]]]] = _fr().face_landmarks(
            np.ascontiguousarray(image), [b.as_css() for b in boxes], model="large"
        )
    return found


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """How to look for faces in one frame."""

    scale: float = 1.0
    upsample: int = 1
    levels: int | None = None  # the finest pyramid levels only (None: all)
    fallback: ScanPlan | None = None  # tried when this plan finds no face
    encode: bool = True  # encode when exactly one face is found
    landmarks: bool = False  # 68-point landmarks when exactly one face is found


@dataclass(frozen=True, slots=True)
class FaceScan:
    """What one frame showed."""

    boxes: tuple[FaceBox, ...]
    encoding: Encoding | None  # of the single face, when exactly one was found and asked for
    landmarks: dict[str, list[tuple[int, int]]] | None
    width: int
    height: int
    detect_ms: float
    encode_ms: float
    plan: ScanPlan

    @property
    def count(self) -> int:
        return len(self.boxes)


def scan(image: Image, plan: ScanPlan) -> FaceScan:
    """Detect (with the plan's fallback), then encode/landmark a single face. CPU-bound."""
    started = time.perf_counter()
    used = plan
    boxes = detect(image, scale=plan.scale, upsample=plan.upsample, levels=plan.levels)
    while not boxes and used.fallback is not None:
        used = used.fallback
        boxes = detect(image, scale=used.scale, upsample=used.upsample, levels=used.levels)
    detected = time.perf_counter()
    encoding = None
    points = None
    if len(boxes) == 1:
        if plan.encode:
            encoding = encode(image, boxes)[0]
        if plan.landmarks:
            points = landmarks68(image, boxes)[0]
    height, width = image.shape[:2]
    return FaceScan(
        boxes=tuple(boxes),
        encoding=encoding,
        landmarks=points,
        width=width,
        height=height,
        detect_ms=(detected - started) * 1000,
        encode_ms=(time.perf_counter() - detected) * 1000,
        plan=used,
    )


def lower_priority(niceness: int) -> None:
    """Lower the calling thread's scheduling priority (Linux sets nice per thread); anywhere
    that cannot, the thread runs at the process's priority."""
    get_native_id = getattr(threading, "get_native_id", None)
    if get_native_id is None or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):
        thread = get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(19, current + niceness))


T = TypeVar("T")


class FaceWorker:
    """Runs face work off the event loop (one per server process): detection, landmarks,
    chips and encodings in a thread pool; with `encoder_processes` (1 or 2) the encodings in
    that many worker processes instead (an encoder apart from the server, ~140 MB each)."""

    def __init__(
        self,
        max_workers: int | None = None,
        *,
        encoder_processes: int = 0,
        encode_timeout: float = 20.0,
    ) -> None:
        workers = max_workers or max(1, min(4, os.cpu_count() or 1))
        self.encoders = (
            EncoderProcesses(encoder_processes, timeout=encode_timeout)
            if encoder_processes
            else None
        )
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="identity-faces", initializer=self._bind
        )
        self.max_workers = workers

    def _bind(self) -> None:
        # Each worker thread's encode() hands its chips to the encoder processes.
        if self.encoders is not None:
            _local.encoder = self.encoders.encode
        lower_priority(WORKER_NICENESS)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def warm_up(self) -> None:
        """Load the models (about half a second a thread or process) before the first
        session needs them: one job per thread, held at a barrier so that every thread gets
        one, and every encoder process started."""
        barrier = threading.Barrier(self.max_workers)

        def load() -> None:
            blank = np.zeros((120, 160, 3), dtype=np.uint8)
            scan(blank, ScanPlan(scale=1.0, upsample=0, encode=False))
            if self.encoders is None:
                encode(blank, [FaceBox(10, 110, 110, 10)])
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)

        jobs: list[Awaitable[object]] = [self.run(load) for _ in range(self.max_workers)]
        if self.encoders is not None:
            # Every process started now: starting one later (in a worker thread) costs the
            # server a fork of itself.
            jobs.append(asyncio.to_thread(self.encoders.warm_up))
        await asyncio.gather(*jobs)

    async def scan(self, image: Image, plan: ScanPlan) -> FaceScan:
        return await self.run(scan, image, plan)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self.encoders is not None:
            self.encoders.close()

    def __enter__(self) -> FaceWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


J = TypeVar("J")


@dataclass(slots=True)
class _Counters:
    started: int = 0
    completed: int = 0
    replaced: int = 0  # pending jobs dropped for a newer one
    failed: int = 0


class LatestOnly(Generic[J]):
    """At most one job in flight for one session; a newer submission replaces the pending one.

    `submit(job)` never blocks; `handler(job)` is awaited for each job that runs. A job that
    raises is counted (and kept in `errors`, the last ten) and the next one still runs: one
    bad frame must not stop a session's checks. `drain()` waits until nothing is in flight.
    """

    def __init__(self, handler: Callable[[J], Awaitable[None]]) -> None:
        self._handler = handler
        self._pending: list[J] = []  # zero or one job
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.counters = _Counters()
        self.errors: list[Exception] = []

    @property
    def busy(self) -> bool:
        return self._task is not None

    def submit(self, job: J) -> None:
        if self._task is None:
            self._start(job)
            return
        if self._pending:
            self.counters.replaced += 1
        self._pending[:] = [job]

    def _start(self, job: J) -> None:
        self.counters.started += 1
        self._idle.clear()
        self._task = asyncio.get_running_loop().create_task(self._run(job))

    async def _run(self, job: J) -> None:
        try:
            await self._handler(job)
            self.counters.completed += 1
        except Exception as exc:
            self.counters.failed += 1
            self.errors.append(exc)
            del self.errors[:-10]
        finally:
            self._task = None
            if self._pending:
                self._start(self._pending.pop())
            else:
                self._idle.set()

    def drop_pending(self) -> None:
        self._pending.clear()

    async def drain(self) -> None:
        await self._idle.wait()

    async def cancel(self) -> None:
        self._pending.clear()
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._idle.set()
