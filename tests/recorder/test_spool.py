"""The upload spool against a real S3 server with object lock: nothing lost, nothing freed early.

Segments are real recordings (tests.recorder.test_segmenter feeds demuxed VP8/Opus frames).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import urllib3
from minio.commonconfig import COMPLIANCE

from media import EncodedFrame
from recorder.local_s3 import LocalS3Server
from recorder.retention import parse_retention_classes
from recorder.segmenter import Segmenter, SegmentInfo
from recorder.spool import Backoff, KeyLayout, Uploader
from recorder.store import ObjectStore, StoredObject, connect
from signaling.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY
from tests.recorder.media_source import demux_frames
from tests.recorder.s3_trace import traced
from tests.support import unique_bucket

pytestmark = pytest.mark.integration


SHORT = parse_retention_classes("short=20y,permanent=hold")[0]
LAYOUT = KeyLayout(case_ref="2024-GZ-0042", session_id="s-7f3a")
PREFIX = "cases/2024-GZ-0042/sessions/s-7f3a/alice/"


def quick_store(endpoint: str) -> ObjectStore:
    """A client that fails fast when the server is down (the uploader does the retrying)."""
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=1.0, read=5.0), retries=urllib3.Retry(total=0)
    )
    return ObjectStore(connect(endpoint, DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, "us-east-1", http))


@pytest.fixture
def bucket(object_store: ObjectStore) -> str:
    name = unique_bucket("nl-spool")
    object_store.bootstrap([name])
    return name


def uploader(
    store: ObjectStore, bucket: str, spool: Path, max_spool_bytes: int = 1 << 30
) -> Uploader:
    return Uploader(
        store,
        bucket,
        spool,
        layout=LAYOUT,
        retention=SHORT,
        backoff=Backoff(initial=0.05, maximum=0.4),
        max_spool_bytes=max_spool_bytes,
    )


async def record_into(
    up: Uploader, frames: list[EncodedFrame], closed: list[SegmentInfo]
) -> Segmenter:
    segmenter = Segmenter(
        "alice", up.participant_dir("alice"), target_duration=1.0, on_segment=_both(up, closed)
    )
    for frame in frames:
        await segmenter.feed(frame)
    return segmenter


def _both(up: Uploader, closed: list[SegmentInfo]) -> Callable[[SegmentInfo], None]:
    def on_segment(info: SegmentInfo) -> None:
        closed.append(info)
        up.submit(info)

    return on_segment


def assert_in_store(store: ObjectStore, bucket: str, closed: list[SegmentInfo]) -> None:
    for info in closed:
        key = PREFIX + info.file_name
        data = store.read(bucket, key)
        assert hashlib.sha256(data).hexdigest() == info.sha256 and len(data) == info.size
        retention = store.client.get_object_retention(bucket, key)
        assert retention is not None and retention.mode == COMPLIANCE
        sidecar = json.loads(store.read(bucket, PREFIX + f"{info.sequence:06d}.json"))
        assert sidecar == info.as_dict()
        receipt = json.loads(
            (info.directory / "confirmed" / f"{info.sequence:06d}.json").read_text()
        )
        assert receipt["key"] == key and receipt["sha256"] == info.sha256
        assert receipt["version_id"] == store.client.stat_object(bucket, key).version_id
        # Confirmed, so the local copies are gone (the receipt stays).
        assert not info.path.exists() and not info.sidecar_path.exists()


async def test_uploads_every_segment_locked_then_frees_the_disk(
    object_store: ObjectStore, bucket: str, source_webm: Path, tmp_path: Path
) -> None:
    up = uploader(object_store, bucket, tmp_path)
    seen_on_disk: list[bool] = []
    put = object_store.put_locked

    def watching(bucket: str, key: str, *args: Any, **kwargs: Any) -> StoredObject:
        stored = put(bucket, key, *args, **kwargs)
        # Every confirmation (the PUT's answer) comes while the local file is still there.
        seen_on_disk.append((up.participant_dir("alice") / Path(key).name).exists())
        return stored

    object_store.put_locked = watching  # type: ignore[method-assign]
    closed: list[SegmentInfo] = []
    assert object_store.conditional_writes(bucket)  # decided (the first write would probe)
    with traced(object_store.client) as trace:
        up.start()
        segmenter = await record_into(up, demux_frames(source_webm, base=time.time()), closed)
        await segmenter.close()
        await up.drain(timeout=20)
        await up.stop()

    assert len(closed) == 3 and up.uploaded == 3 and up.failures == 0
    assert seen_on_disk == [True] * 6  # media and sidecar of each
    assert_in_store(object_store, bucket, closed)
    assert up.pending == 0 and up.queued_bytes == 0
    # Two requests a segment: one PUT each for media and sidecar, no HEAD before, no read-back.
    requests = trace.requests()
    assert [(r.method, r.status) for r in requests] == [("PUT", 200)] * 6
    assert [r.key for r in requests] == [
        PREFIX + name for i in closed for name in (i.file_name, f"{i.sequence:06d}.json")
    ]


async def test_existing_key_same_bytes_is_confirmed_other_bytes_are_kept(
    object_store: ObjectStore, bucket: str, source_webm: Path, tmp_path: Path
) -> None:
    up = uploader(object_store, bucket, tmp_path)
    closed: list[SegmentInfo] = []
    segmenter = await record_into(up, demux_frames(source_webm, base=time.time()), closed)
    await segmenter.close()
    first, second = closed[0], closed[1]
    # The first was stored before a lost answer; the second's key holds something else.
    object_store.put_locked(bucket, PREFIX + first.file_name, first.path.read_bytes(), SHORT)
    object_store.put_locked(bucket, PREFIX + second.file_name, b"not this segment", SHORT)

    with traced(object_store.client) as trace:
        up.start()
        await up.drain(timeout=20)
        await up.stop()

    assert up.uploaded == 2 and up.conflicts == [second.sidecar_path]
    assert_in_store(object_store, bucket, [first, closed[2]])
    # Never overwritten, never deleted.
    assert object_store.read(bucket, PREFIX + second.file_name) == b"not this segment"
    assert second.path.exists() and second.sidecar_path.exists()
    # Read back only where the PUT was refused: the retry (then its sidecar), the conflict.
    assert [(r.method, r.status) for r in trace.requests()] == [
        ("PUT", 412),
        ("HEAD", 200),
        ("PUT", 200),
        ("PUT", 412),
        ("HEAD", 200),
        ("PUT", 200),
        ("PUT", 200),
    ]


async def test_store_stopped_mid_session_then_started_again_nothing_lost(
    source_webm: Path, tmp_path: Path
) -> None:
    server = LocalS3Server(tmp_path / "s3", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY).start()
    try:
        store = quick_store(server.endpoint)
        name = unique_bucket("nl-spool")
        store.bootstrap([name])
        up = uploader(
            store, name, tmp_path / "spool", max_spool_bytes=80_000
        )  # one segment: ~50 kB
        up.start()
        frames = demux_frames(source_webm, base=time.time())
        closed: list[SegmentInfo] = []
        half = len(frames) // 2
        segmenter = await record_into(up, frames[:half], closed)
        await _until(lambda: len(closed) == 1, 5)  # closing runs in a thread
        await up.drain(timeout=20)
        assert up.uploaded == len(closed) >= 1 and up.failures == 0

        server.stop()
        for frame in frames[half:]:
            await segmenter.feed(frame)
        await segmenter.close()
        await _until(lambda: up.failures >= 2, 10)
        # Down: everything unconfirmed is still on disk, and the spool says it is over its cap.
        waiting = closed[up.uploaded :]
        assert waiting and all(i.path.exists() and i.sidecar_path.exists() for i in waiting)
        assert up.over_capacity and up.capacity_warnings == 1
        assert up.last_error

        server.start()
        await up.drain(timeout=30)
        await up.stop()
        assert up.uploaded == len(closed) == 3
        assert_in_store(store, name, closed)
        assert not up.over_capacity
    finally:
        server.stop()


async def test_a_new_uploader_resumes_and_keeps_interrupted_segments(
    object_store: ObjectStore, bucket: str, source_webm: Path, tmp_path: Path
) -> None:
    # First run: the store cannot be reached; the process ends with everything spooled.
    down = uploader(quick_store("http://127.0.0.1:9"), bucket, tmp_path)
    down.start()
    closed: list[SegmentInfo] = []
    segmenter = await record_into(down, demux_frames(source_webm, base=time.time()), closed)
    await segmenter.close()
    await _until(lambda: down.failures >= 1, 10)
    await down.stop()
    assert down.uploaded == 0
    # A crash had also interrupted a segment, and one closed file lost its sidecar.
    folder = tmp_path / "alice"
    (folder / "000007.webm.part").write_bytes(closed[0].path.read_bytes()[:5000])
    orphan = folder / "000008.webm"
    orphan.write_bytes(closed[1].path.read_bytes())

    restarted = uploader(object_store, bucket, tmp_path)
    recovery = restarted.recover()
    assert [(s.participant_id, s.sequence, s.path.name) for s in recovery.incomplete] == [
        ("alice", 7, "000007.webm.incomplete")
    ]
    assert recovery.without_sidecar == [orphan]
    assert recovery.resumed == 4
    restarted.start()
    await restarted.drain(timeout=20)
    await restarted.stop()

    assert restarted.uploaded == 4
    assert_in_store(object_store, bucket, closed)
    orphan_sidecar = json.loads(object_store.read(bucket, PREFIX + "000008.json"))
    assert orphan_sidecar["recovered"] and orphan_sidecar["sha256"] == closed[1].sha256
    # The interrupted segment is evidence too: kept, under its new name.
    assert (folder / "000007.webm.incomplete").stat().st_size == 5000
    assert not (folder / "000007.webm.part").exists()
    # A recovery run finds nothing new.
    assert uploader(object_store, bucket, tmp_path).recover().incomplete == []


async def _until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
