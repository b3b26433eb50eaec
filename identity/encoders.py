"""Where face encodings are computed: in the caller's thread, or in worker processes.

The encoder is dlib's ResNet (face_recognition_models' dlib_face_recognition_resnet_model_v1),
run as a numpy forward pass (`identity.resnet`, the same numbers as dlib's
`compute_face_descriptor` to ~1e-6, 13-15 ms a chip instead of dlib's ~95 ms here: the dlib
wheel has no BLAS). numpy releases the GIL inside its matrix products, so by default the
encoding runs in the face worker's threads (`FaceWorker(encoder_processes=0)`, the server's
default) and the event loop keeps its pace meanwhile.

dlib's own encoder held the GIL for its whole ~95 ms, which is why encodings ran in one or two
worker processes of a `ProcessPoolExecutor` started with "spawn" (a fresh interpreter: the
server has threads and an event loop that fork would copy mid-flight). They remain an option
(`NOTARYLINK_FACE_ENCODER_PROCESSES=1|2`): an encoder that runs apart from the server, at the
price of ~140 MB of memory a process and a hand-over per job. Each process loads the model
once, at its start, from face_recognition_models' files (nothing is downloaded). A job is a
list of aligned 150x150 face chips (`dlib.get_face_chip`, cut in the caller's thread: 67.5 KB
each); the answer is one 128-d encoding per chip.

This module is what the worker processes import: it needs numpy (and identity.resnet) only
(no OpenCV, no face_recognition with its ~100 MB of module-level models), to keep each
process small.

A process that dies (or does not answer within `timeout`) fails the jobs it had as
`EncoderUnavailable` and the pool is replaced at once (models loading in the background);
the caller's check fails cleanly and the next one runs on the new processes. `close()` stops
them (killed after a grace period); a worker whose server died exits within a second.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from identity.resnet import Chip, Encoding, ResNetEncoder

log = logging.getLogger(__name__)

MAX_PROCESSES = 2


class EncoderUnavailable(RuntimeError):
    """The encoder process died or hung: this job failed; the processes were replaced."""


_shared: ResNetEncoder | None = None
_shared_lock = threading.Lock()


def load_encoder() -> ResNetEncoder:
    """The process's encoder (loaded once, ~0.2 s; read-only, so threads share it), from
    face_recognition_models' file (installed; no download)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ResNetEncoder()
        return _shared


def encode_chips_with(encoder: ResNetEncoder, chips: Sequence[Chip]) -> list[Encoding]:
    """One encoding per aligned chip (no jitter): what face_recognition.face_encodings gives."""
    if not chips:
        return []
    return encoder.encode([np.ascontiguousarray(c) for c in chips])


# -- inside a worker process ---------------------------------------------------------------

_process_encoder: ResNetEncoder | None = None


def _start_process(parent: int) -> None:
    """The pool's initializer: load the model once per process, before the first job."""
    global _process_encoder
    # Ctrl-C reaches the whole process group: the server stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The server's pid comes from the server: it may have died while this one started.
    threading.Thread(
        target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True
    ).start()
    _process_encoder = load_encoder()


def _exit_with_parent(parent: int) -> None:
    # A worker waits on its job queue forever, and that queue does not close when the server
    # is killed (the worker holds both ends): without this it would outlive a crashed server.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _encode_in_process(chips: Sequence[Chip]) -> list[Encoding]:
    assert _process_encoder is not None  # loaded by the pool's initializer
    return encode_chips_with(_process_encoder, chips)


def _ready() -> int:
    return os.getpid()


# -- in the server ------------------------------------------------------------------------


class EncoderProcesses:
    """One or two encoder processes; `encode` blocks its (worker) thread, not the GIL."""

    def __init__(
        self, processes: int = MAX_PROCESSES, *, timeout: float = 20.0, start_method: str = "spawn"
    ) -> None:
        if not 1 <= processes <= MAX_PROCESSES:
            raise ValueError(f"1 to {MAX_PROCESSES} encoder processes")
        if start_method == "fork":
            raise ValueError("fork would copy the server's threads mid-flight: spawn or forkserver")
        self.processes = processes
        self.timeout = timeout  # a job not answered by then (queueing included) fails
        self._context = multiprocessing.get_context(start_method)
        self._lock = threading.Lock()
        self._closed = False
        self.replaced = 0  # pools replaced after a process died or hung
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=self._context,
            initializer=_start_process,
            initargs=(os.getpid(),),
        )

    def encode(self, chips: Sequence[Chip]) -> list[Encoding]:
        """Encodings of `chips`, computed in a worker process. Blocking: call it from a worker
        thread (waiting on the answer releases the GIL). EncoderUnavailable when it failed."""
        if not chips:
            return []
        with self._lock:
            if self._closed:
                raise EncoderUnavailable("the face encoder is shut down")
            pool = self._pool
        try:
            future = pool.submit(_encode_in_process, list(chips))
        except (BrokenProcessPool, RuntimeError) as exc:  # broken, or shut down meanwhile
            self._replace(pool, "an encoder process had died")
            raise EncoderUnavailable("the face encoder process died; this check failed") from exc
        try:
            return future.result(timeout=self.timeout)
        except BrokenProcessPool as exc:
            self._replace(pool, "an encoder process died")
            raise EncoderUnavailable("the face encoder process died; this check failed") from exc
        except TimeoutError as exc:
            future.cancel()
            self._replace(pool, f"no answer from an encoder process in {self.timeout:g} s")
            raise EncoderUnavailable("the face encoder did not answer; this check failed") from exc

    def warm_up(self) -> list[int]:
        """Start every process and load its model now (blocking); their pids."""
        with self._lock:
            pool = self._pool
        futures = [pool.submit(_ready) for _ in range(self.processes)]
        return [f.result(timeout=self.timeout) for f in futures]

    def pids(self) -> list[int]:
        """The live worker processes (for tests and the operator)."""
        with self._lock:
            processes = getattr(self._pool, "_processes", None) or {}
            return [p.pid for p in list(processes.values()) if p.is_alive() and p.pid]

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor, reason: str) -> None:
        with self._lock:
            if self._closed or self._pool is not broken:
                return  # closed, or another thread's failure already replaced it
            self._pool = self._new_pool()
            self.replaced += 1
            fresh = self._pool
        log.warning(
            "face encoder process replaced", extra={"reason": reason, "replaced": self.replaced}
        )
        _stop(broken, grace=0.0)
        # Start the new processes now, so that the next check does not wait for the model.
        for _ in range(self.processes):
            try:
                fresh.submit(_ready)
            except (BrokenProcessPool, RuntimeError):
                break

    def close(self, grace: float = 5.0) -> None:
        """Stop the processes: asked to exit, killed after `grace` seconds."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool = self._pool
        _stop(pool, grace=grace)


def _stop(pool: concurrent.futures.ProcessPoolExecutor, *, grace: float) -> None:
    # Python 3.11's executor has no terminate_workers(): reach for its processes so that a
    # hung one cannot keep the server (or the replacement) waiting.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(2.0)


__all__ = [
    "MAX_PROCESSES",
    "EncoderProcesses",
    "EncoderUnavailable",
    "encode_chips_with",
    "load_encoder",
]
