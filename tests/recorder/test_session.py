"""A recorded session end to end on a real S3 server: sealed, timestamped, verifiable from the
store; and a recorder killed with SIGKILL whose evidence is sealed at the next start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from media import EncodedFrame
from recorder.export import export_session
from recorder.keys import load_private_key, write_new_key
from recorder.package import ZipSource
from recorder.retention import parse_retention_classes
from recorder.session import RecorderConfig, SessionRecorder, recover_orphans
from recorder.store import ObjectStore
from recorder.store_source import StoreSource
from recorder.verify import verify
from tests.recorder.media_source import SECONDS, demux_frames, read_segment
from tests.support import REPO, unique_bucket

pytestmark = pytest.mark.integration

CLASSES = {c.name: c for c in parse_retention_classes("short=20y,permanent=hold")}


async def _stream(frames: list[EncodedFrame]) -> AsyncIterator[EncodedFrame]:
    for frame in frames:
        yield frame


@pytest.fixture
def bucket(object_store: ObjectStore) -> str:
    name = unique_bucket("nl-evidence")
    object_store.bootstrap([name])
    return name


async def test_recorded_session_is_sealed_timestamped_and_verifies_from_the_store(
    object_store: ObjectStore,
    bucket: str,
    tmp_path: Path,
    source_webm: Path,
    tsa: tuple[str, bytes],
) -> None:
    tsa_url, tsa_root = tsa
    key = Ed25519PrivateKey.generate()
    config = RecorderConfig(
        object_store, bucket, tmp_path / "spool", key, tsa_url=tsa_url, tsa_roots=(tsa_root,)
    )
    recorder = SessionRecorder(config, "r-test1", "2026-GZ-0001", "委托书公证", CLASSES["short"])
    await recorder.start()
    base = time.time()
    await recorder.add_participant(
        "p-notary", "notary", "李", _stream(demux_frames(source_webm, base))
    )
    await recorder.add_participant(
        "p-app", "applicant", "张三", _stream(demux_frames(source_webm, base + 0.01, jitter=0.02))
    )
    recorder.event("participant_joined", participant="p-app")
    manifest = await recorder.finish()

    source = StoreSource.for_session(object_store, bucket, "r-test1")
    report = verify(source, trusted_key=key.public_key(), tsa_roots=[tsa_root])
    assert report.ok, report.as_dict()
    segments = [e["body"] for e in manifest["entries"] if e["kind"] == "segment"]
    for participant in ("p-notary", "p-app"):
        mine = [s for s in segments if s["participant"] == participant]
        assert [s["seq"] for s in mine] == list(range(len(mine)))
        assert sum(s["duration"] for s in mine) == pytest.approx(SECONDS, abs=0.1)
        for segment in mine:  # every segment, as stored, decodes
            path = tmp_path / "check.webm"
            path.write_bytes(source.read(segment["file"]) or b"")
            content = read_segment(path)
            assert content["video"]["decoded"] > 0 and content["audio"]["decoded"] > 0
    events = [e["body"]["type"] for e in manifest["entries"] if e["kind"] == "event"]
    assert events[0] == "recording_started" and events[-1] == "recording_stopped"
    assert {p["name"] for p in manifest["participants"]} == {"李", "张三"}
    # Locked: the store refuses to delete the manifest's version.
    stat = object_store.client.stat_object(bucket, source.prefix + "manifest.json")
    with pytest.raises(Exception, match="AccessDenied"):
        object_store.client.remove_object(bucket, source.prefix + "manifest.json", stat.version_id)
    # Nothing is left to upload in the spool.
    assert not list((tmp_path / "spool" / "r-test1").glob("*/[0-9]*.webm"))

    # The exported package verifies offline, and its playback files play the whole session.
    package = export_session(source, tmp_path / "evidence.zip")
    zipped = ZipSource(package)
    assert verify(zipped, trusted_key=key.public_key(), tsa_roots=[tsa_root]).ok
    names = set(zipped.names())
    assert {"README.txt", "playback/p-notary.webm", "playback/p-app.webm"} <= names
    assert "可脱离平台独立核验" in (zipped.read("README.txt") or b"").decode()
    for participant in ("p-notary", "p-app"):
        playback = tmp_path / f"{participant}.webm"
        playback.write_bytes(zipped.read(f"playback/{participant}.webm") or b"")
        content = read_segment(playback)
        assert content["video"]["end"] == pytest.approx(SECONDS, abs=0.15)
        assert content["audio"]["decoded"] > 100


CRASHING_RECORDER = """
import asyncio, sys, time
from pathlib import Path
from recorder.keys import load_private_key
from recorder.retention import parse_retention_classes
from recorder.session import RecorderConfig, SessionRecorder
from recorder.store import ObjectStore, connect
from tests.recorder.media_source import demux_frames

endpoint, bucket, spool, key_path, source = sys.argv[1:6]

async def paced(frames):
    for frame in frames:  # as they would arrive: in real time
        delay = frame.arrival - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield frame

async def main():
    client = connect(endpoint, "notarylink-dev", "notarylink-dev-secret-key", "us-east-1")
    store = ObjectStore(client)
    config = RecorderConfig(store, bucket, Path(spool), load_private_key(Path(key_path)),
                            segment_seconds=1.0)
    (short,) = parse_retention_classes("short=20y")
    recorder = SessionRecorder(config, "r-crash", "2026-GZ-0002", "crash", short)
    await recorder.start()
    base = time.time() + 0.2
    frames = demux_frames(Path(source), base)
    await recorder.add_participant("p-app", "applicant", "张三", paced(frames))
    while recorder.uploader.uploaded < 1:
        await asyncio.sleep(0.05)
    print("READY", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_kill_9_mid_recording_then_restart_seals_what_was_closed(
    object_store: ObjectStore, bucket: str, tmp_path: Path, source_webm: Path, s3_server
) -> None:
    key_path = tmp_path / "key.pem"
    write_new_key(key_path)
    spool = tmp_path / "spool"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CRASHING_RECORDER,
            s3_server.endpoint,
            bucket,
            str(spool),
            str(key_path),
            str(source_webm),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "READY", process.stderr.read() if process.stderr else ""
        time.sleep(0.4)  # mid-way through the next segment
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    config = RecorderConfig(object_store, bucket, spool, load_private_key(key_path))
    recovered = await recover_orphans(config, CLASSES)
    assert recovered == ["r-crash"]
    assert await recover_orphans(config, CLASSES) == []  # sealed once

    source = StoreSource.for_session(object_store, bucket, "r-crash")
    report = verify(source)
    assert report.ok, report.as_dict()
    manifest = json.loads(source.read("manifest.json") or b"{}")
    segments = [e["body"] for e in manifest["entries"] if e["kind"] == "segment"]
    assert len(segments) >= 1
    gaps = [e["body"] for e in manifest["entries"] if e["body"].get("type") == "gap"]
    assert any("stopped during the session" in g["reason"] for g in gaps)
    assert manifest["participants"] == [{"id": "p-app", "role": "applicant", "name": "张三"}]
    # The segment being written was kept aside, not deleted.
    assert list((spool / "r-crash" / "p-app").glob("*.incomplete"))
