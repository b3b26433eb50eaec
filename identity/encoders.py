"""dlib's face encoder in separate worker processes: it holds the GIL.

dlib's DNN encoder (`compute_face_descriptor`, ~90 ms a face) keeps Python's GIL for its whole
run; in a thread of the server it stops the event loop, and so the forwarding of every session
on the node, for that long. Here it runs in one or two worker processes of a
`ProcessPoolExecutor` started with "spawn" (a fresh interpreter: the server has threads and an
event loop that fork would copy mid-flight). Each process loads the encoder model once, at its
start, from face_recognition_models' files (nothing is downloaded). A job is a list of aligned
150x150 face chips (`dlib.get_face_chip`, cut in the caller's thread: 67.5 KB each); the answer
is one 128-d encoding per chip, the same numbers the encoder gives on the full image.

This module is what the worker processes import: it needs numpy and dlib only (no OpenCV, no
face_recognition with its ~100 MB of module-level models), to keep each process small.

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
import warnings
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Chip = npt.NDArray[np.uint8]  # 150x150x3 RGB, aligned as dlib.get_face_chip does
Encoding = npt.NDArray[np.float64]

MAX_PROCESSES = 2


class EncoderUnavailable(RuntimeError):
    """The encoder process died or hung: this job failed; the processes were replaced."""


def load_encoder() -> Any:
    """dlib's ResNet encoder from face_recognition_models' file (installed; no download)."""
    import dlib

    with warnings.catch_warnings():
        # face_recognition_models finds its files through pkg_resources (setuptools<82).
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import face_recognition_models as files  # type: ignore[import-untyped]

    return dlib.face_recognition_model_v1(files.face_recognition_model_location())


def encode_chips_with(encoder: Any, chips: Sequence[Chip]) -> list[Encoding]:
    """One encoding per aligned chip (no jitter): what face_recognition.face_encodings gives."""
    if not chips:
        return []
    found = encoder.compute_face_descriptor([np.ascontiguousarray(c) for c in chips], 0)
    return [np.asarray(e, dtype=np.float64) for e in found]


# -- inside a worker process ---------------------------------------------------------------

_process_encoder: Any = None


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
