"""The upload spool: closed segments wait on local disk until the object store confirms them.

Layout of one session's spool directory (the segmenters write into it):

    SPOOL/<participant_id>/000012.webm          closed segment, not yet confirmed
    SPOOL/<participant_id>/000012.json          its sidecar (written after the media: the mark)
    SPOOL/<participant_id>/000013.webm.part     being written, or left by a crash
    SPOOL/<participant_id>/000013.webm.incomplete   a `.part` found on recovery, kept as evidence
    SPOOL/<participant_id>/confirmed/000012.json    receipt: keys, version ids, hashes

Objects: `cases/{case_ref}/sessions/{session_id}/{participant_id}/000012.webm` and `.json`,
under COMPLIANCE retention (or legal hold) by retention class. A local file is deleted only after
the store holds an object with its SHA-256 and size, and the receipt is on disk. A key that
exists with the same SHA-256 is a retry after a lost answer (confirmed); with another SHA-256 it
is a conflict: logged, kept locally, never overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from minio.error import S3Error

from recorder.retention import RetentionClass
from recorder.segmenter import (
    MEDIA_SUFFIXES,
    PART_SUFFIX,
    SIDECAR_SUFFIX,
    SegmentInfo,
    check_id,
    fsync_dir,
    sequence_of,
    sidecar_name,
    write_atomic,
)
from recorder.store import SHA256_METADATA, ObjectExists, ObjectStore

logger = logging.getLogger(__name__)

INCOMPLETE_SUFFIX = ".incomplete"
CONFIRMED_DIR = "confirmed"
DEFAULT_MAX_SPOOL_BYTES = 2 * 1024**3
CONTENT_TYPES = {".webm": "video/webm", ".mkv": "video/x-matroska", ".json": "application/json"}


class Conflict(Exception):
    """The key holds other bytes than ours: never overwritten, kept locally for a person."""


class InvalidSpoolEntry(Exception):
    """A sidecar that cannot be read or names a file it should not: kept, not retried."""


@dataclass(frozen=True)
class IncompleteSegment:
    """A segment whose writing a crash interrupted (found as `.part`, kept as `.incomplete`)."""

    participant_id: str
    sequence: int
    path: Path
    size: int


@dataclass(frozen=True)
class Recovery:
    incomplete: list[IncompleteSegment]  # for the caller to record as gap events
    resumed: int  # closed segments queued again for upload
    without_sidecar: list[Path]  # closed media whose sidecar a crash prevented (one was made)


@dataclass(frozen=True)
class Receipt:
    participant_id: str
    sequence: int
    bucket: str
    key: str
    version_id: str | None
    sha256: str
    size: int
    sidecar_key: str
    sidecar_version_id: str | None
    sidecar_sha256: str
    retention: str
    confirmed_at: str
    segment: dict[str, Any] = field(default_factory=dict)  # the sidecar's content


@dataclass(frozen=True)
class KeyLayout:
    """Where a session's objects go in the bucket."""

    case_ref: str
    session_id: str

    def __post_init__(self) -> None:
        check_id(self.case_ref, "case reference")
        check_id(self.session_id, "session id")

    def prefix(self, participant_id: str) -> str:
        check_id(participant_id, "participant id")
        return f"cases/{self.case_ref}/sessions/{self.session_id}/{participant_id}/"


class Backoff:
    """Exponential delays with jitter (so that many recorders do not retry in step)."""

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._rng = rng or random.Random()
        self._attempt = 0

    def next(self) -> float:
        ceiling = min(self.maximum, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return ceiling * (0.5 + self._rng.random() / 2)

    def reset(self) -> None:
        self._attempt = 0


class Uploader:
    """Uploads one session's spooled segments, in order, until the store confirms each."""

    def __init__(
        self,
        store: ObjectStore,
        bucket: str,
        spool_dir: Path,
        *,
        layout: KeyLayout,
        retention: RetentionClass,
        max_spool_bytes: int = DEFAULT_MAX_SPOOL_BYTES,
        backoff: Backoff | None = None,
    ) -> None:
        self.store = store
        self.bucket = bucket
        self.spool_dir = spool_dir
        self.layout = layout
        self.retention = retention
        self.max_spool_bytes = max_spool_bytes
        self._backoff = backoff or Backoff()
        spool_dir.mkdir(parents=True, exist_ok=True)
        self._queue: deque[Path] = deque()  # sidecar paths, oldest first
        self._sizes: dict[Path, int] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # Metrics.
        self.queued_bytes = 0
        self.uploaded = 0
        self.failures = 0  # attempts that failed and will be retried
        self.capacity_warnings = 0  # times the spool went over max_spool_bytes
        self.last_error: str | None = None
        self.conflicts: list[Path] = []
        self.invalid: list[Path] = []
        self.receipts: list[Receipt] = []  # confirmed in this run (for the caller and tests)

    def participant_dir(self, participant_id: str) -> Path:
        """Where the Segmenter of that participant writes."""
        return self.spool_dir / check_id(participant_id, "participant id")

    @property
    def pending(self) -> int:
        return len(self._queue)

    @property
    def over_capacity(self) -> bool:
        return self.queued_bytes > self.max_spool_bytes

    # -- queueing ------------------------------------------------------------------------------

    def submit(self, segment: SegmentInfo | Path) -> None:
        """Queue a closed segment (its SegmentInfo, or its sidecar path) for upload."""
        if isinstance(segment, SegmentInfo):
            # Its media's size is known: no file read on the event loop for every segment
            # (the sidecar's ~1 KB beside ~400 KB of media is left out of the metric).
            sidecar, size = segment.sidecar_path, segment.size
        else:
            sidecar, size = segment, -1
        if sidecar in self._sizes:
            return
        if size < 0:
            size = _local_size(sidecar)
        self._queue.append(sidecar)
        self._sizes[sidecar] = size
        was_over = self.over_capacity
        self.queued_bytes += size
        if self.over_capacity and not was_over:
            self.capacity_warnings += 1
            logger.warning(
                "upload spool %s holds %d bytes, over its %d-byte cap: the object store is "
                "not keeping up or is down; nothing is dropped, but the disk is filling",
                self.spool_dir,
                self.queued_bytes,
                self.max_spool_bytes,
            )
        self._idle.clear()
        self._wake.set()

    def recover(self) -> Recovery:
        """Rescan the spool after a start: queue unconfirmed segments, report interrupted ones.

        Call it before any Segmenter writes into the spool: a `.part` found here is by
        definition one that a crash interrupted.
        """
        incomplete: list[IncompleteSegment] = []
        without_sidecar: list[Path] = []
        resumed = 0
        for folder in sorted(p for p in self.spool_dir.iterdir() if p.is_dir()):
            participant_id = folder.name
            for path in sorted(folder.iterdir(), key=lambda p: (sequence_of(p.name) or 0, p.name)):
                sequence = sequence_of(path.name)
                if sequence is None or not path.is_file():
                    continue
                if path.name.endswith(PART_SUFFIX):
                    kept = path.with_name(path.name[: -len(PART_SUFFIX)] + INCOMPLETE_SUFFIX)
                    path.rename(kept)
                    fsync_dir(folder)
                    logger.warning("%s: incomplete segment kept as %s", participant_id, kept)
                    incomplete.append(
                        IncompleteSegment(participant_id, sequence, kept, kept.stat().st_size)
                    )
                elif (
                    path.suffix in MEDIA_SUFFIXES and not (folder / sidecar_name(sequence)).exists()
                ):
                    self._write_recovered_sidecar(participant_id, sequence, path)
                    without_sidecar.append(path)
            for sidecar in sorted(folder.glob(f"[0-9]*{SIDECAR_SUFFIX}")):
                if sequence_of(sidecar.name) is not None and sidecar not in self._sizes:
                    self.submit(sidecar)
                    resumed += 1
        return Recovery(incomplete, resumed, without_sidecar)

    def _write_recovered_sidecar(self, participant_id: str, sequence: int, media: Path) -> None:
        # The file was closed and renamed, so it is complete; only its timing is lost.
        data = media.read_bytes()
        sidecar = {
            "participant_id": participant_id,
            "sequence": sequence,
            "file_name": media.name,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "recovered": True,
        }
        write_atomic(media.parent / sidecar_name(sequence), json.dumps(sidecar, indent=1).encode())
        logger.warning(
            "%s: segment %s had no sidecar; a minimal one was made", participant_id, media
        )

    # -- the upload loop -----------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run the upload loop in a task (or await `run()` yourself)."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run())
        return self._task

    async def stop(self) -> None:
        """Stop after the attempt in flight; what is unconfirmed stays in the spool."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            await task

    async def drain(self, timeout: float | None = None) -> None:
        """Wait until everything queued is confirmed (or set aside as a conflict)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def run(self) -> None:
        while not self._stopping:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            sidecar = self._queue[0]
            try:
                receipt = await asyncio.to_thread(self._upload_one, sidecar)
            except (Conflict, InvalidSpoolEntry) as exc:
                logger.error("segment %s kept locally, not uploaded: %s", sidecar, exc)
                (self.conflicts if isinstance(exc, Conflict) else self.invalid).append(sidecar)
            except Exception as exc:  # store down, network, server error: retry, never drop
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = self._backoff.next()
                logger.warning("upload of %s failed (%s); retry in %.1fs", sidecar, exc, delay)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)  # stop() cuts it short
                continue
            else:
                self.uploaded += 1
                self.receipts.append(receipt)
            self._backoff.reset()
            self._queue.popleft()
            self.queued_bytes -= self._sizes.pop(sidecar)
        if not self._queue:
            self._idle.set()

    # -- one segment (in a thread) -------------------------------------------------------------

    def _upload_one(self, sidecar: Path) -> Receipt:
        segment = _read_sidecar(sidecar)
        participant_id, sequence = segment["participant_id"], segment["sequence"]
        prefix = self.layout.prefix(participant_id)
        media = sidecar.parent / segment["file_name"]
        key = prefix + media.name
        receipt_path = sidecar.parent / CONFIRMED_DIR / sidecar.name
        if media.exists():
            data = media.read_bytes()
            if hashlib.sha256(data).hexdigest() != segment["sha256"]:
                raise Conflict(f"{media} no longer matches the SHA-256 in its sidecar")
            media_version = self._put_confirmed(key, data, segment["sha256"])
        elif receipt_path.exists():
            # A crash came after the receipt and the media deletion: just check the store.
            media_version = self._confirmed(key, segment["sha256"], segment["size"])
        else:
            raise InvalidSpoolEntry(f"{media} is missing and was never confirmed")
        side_data = sidecar.read_bytes()
        side_sha = hashlib.sha256(side_data).hexdigest()
        side_version = self._put_confirmed(prefix + sidecar.name, side_data, side_sha)
        receipt = Receipt(
            participant_id=participant_id,
            sequence=sequence,
            bucket=self.bucket,
            key=key,
            version_id=media_version,
            sha256=segment["sha256"],
            size=segment["size"],
            sidecar_key=prefix + sidecar.name,
            sidecar_version_id=side_version,
            sidecar_sha256=side_sha,
            retention=self.retention.spec,
            confirmed_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
            segment=segment,
        )
        # Receipt first: from here on the store's copy is the record; then free the disk.
        (sidecar.parent / CONFIRMED_DIR).mkdir(exist_ok=True)
        write_atomic(receipt_path, json.dumps(asdict(receipt), indent=1).encode())
        media.unlink(missing_ok=True)
        sidecar.unlink()
        fsync_dir(sidecar.parent)
        return receipt

    def _put_confirmed(self, key: str, data: bytes, sha256: str) -> str | None:
        """Write `key` once; return its version id once the store holds our bytes there.

        A 200 to our PUT is the confirmation: reading back would only show the sha256
        metadata and size that PUT sent. Only a refused PUT, the key being taken, is read
        back: a retry after a lost answer (same hash: confirmed), or a conflict.
        """
        content_type = CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")
        try:
            stored = self.store.put_locked(
                self.bucket, key, data, self.retention, content_type, sha256=sha256
            )
        except ObjectExists:
            return self._confirmed(key, sha256, len(data))
        return stored.version_id

    def _confirmed(self, key: str, sha256: str, size: int) -> str | None:
        try:
            stat = self.store.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                raise RuntimeError(
                    f"{key} is not in the store, yet was refused or confirmed"
                ) from exc
            raise
        stored = (stat.metadata or {}).get(f"x-amz-meta-{SHA256_METADATA}")
        if stored != sha256 or stat.size != size:
            raise Conflict(
                f"{self.bucket}/{key} already holds other bytes (sha256 {stored}, "
                f"{stat.size} bytes; ours {sha256}, {size} bytes)"
            )
        version: str | None = stat.version_id
        return version


def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        segment = json.loads(path.read_bytes())
        sequence = int(segment["sequence"])
        check_id(str(segment["participant_id"]), "participant id")
        file_name = str(segment["file_name"])
        if file_name not in {f"{sequence:06d}{suffix}" for suffix in MEDIA_SUFFIXES}:
            raise ValueError(f"file name {file_name!r} does not match sequence {sequence}")
        if path.name != sidecar_name(sequence):
            raise ValueError(f"sidecar name does not match sequence {sequence}")
        if path.parent.name != segment["participant_id"]:
            raise ValueError("sidecar lies in another participant's folder")
        int(segment["size"])
        str(segment["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidSpoolEntry(f"{path}: {exc}") from exc
    return dict(segment)


def _local_size(sidecar: Path) -> int:
    """Bytes this segment holds in the spool (media and sidecar), for the capacity metric."""
    total = 0
    with contextlib.suppress(OSError):
        total += sidecar.stat().st_size
        total += int(json.loads(sidecar.read_bytes()).get("size", 0))
    return total
