"""Issue 4's benchmark: how fast evidence is sealed into the store, and how fast it is verified.

- Seal latency: N concurrent recordings (one participant each, real encoded VP8/Opus frames fed
  in real time) against the real local S3 server; for every segment, the time from its close to
  its confirmation in the store under COMPLIANCE retention.
- Verification speed: an evidence package of SEGMENTS x SEGMENT_MB checked by the verifier,
  against raw SHA-256 of the same bytes in the same run.

`python -m tests.bench.evidence [--sessions 1,5,10]`: a table, then one JSON object on the last
line with seal_p50_ms, seal_p95_ms, verify_mb_s, sha256_mb_s, verify_over_sha256.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.chain import Chain, sha256_hex
from recorder.keys import public_key_pem
from recorder.local_s3 import LocalS3Server
from recorder.manifest import SessionInfo, build_manifest, seal
from recorder.package import ZipSource, write_package
from recorder.retention import parse_retention_classes
from recorder.segmenter import Segmenter, SegmentInfo
from recorder.spool import KeyLayout, Uploader
from recorder.store import ObjectStore, connect
from recorder.verify import MANIFEST, PUBLIC_KEY, SIGNATURE, verify
from signaling.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY
from tests.media.harness import make_webm
from tests.recorder.media_source import demux_frames

SEGMENT_SECONDS = 2.0
RECORD_SECONDS = 8


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(q * (len(ordered) - 1)))
    return ordered[index]


async def _record_one(
    name: str, store: ObjectStore, bucket: str, spool: Path, source: Path
) -> list[float]:
    """One participant recorded in real time; returns each segment's close→locked latency."""
    (short,) = parse_retention_classes("short=20y")
    uploader = Uploader(
        store, bucket, spool / name, layout=KeyLayout("bench", name), retention=short
    )
    uploader.recover()
    closed_at: dict[int, float] = {}

    def closed(info: SegmentInfo) -> None:
        closed_at[info.sequence] = time.time()
        uploader.submit(info)

    segmenter = Segmenter(
        "p-1", uploader.participant_dir("p-1"), target_duration=SEGMENT_SECONDS, on_segment=closed
    )
    uploader.start()
    base = time.time() + 0.1
    frames = []
    for loop in range(RECORD_SECONDS // 4):  # the 4 s source, played back to back
        for frame in demux_frames(source, base + 4 * loop):
            frames.append(replace(frame, pts=frame.pts + loop * 4 * frame.codec.clock_rate))
    for frame in frames:
        delay = frame.arrival - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await segmenter.feed(frame)
    await segmenter.close()
    await uploader.drain(60)
    await uploader.stop()
    latencies = []
    for receipt in uploader.receipts:
        confirmed = datetime.fromisoformat(receipt.confirmed_at).timestamp()
        latencies.append((confirmed - closed_at[receipt.sequence]) * 1000)
    return latencies


async def seal_latency(
    sessions: int, store: ObjectStore, bucket: str, work: Path
) -> dict[str, Any]:
    source = work / "source.webm"
    if not source.exists():
        make_webm(source, seconds=4)
    started = time.process_time()
    results = await asyncio.gather(
        *(
            _record_one(f"s{sessions}-{i}", store, bucket, work / "spool", source)
            for i in range(sessions)
        )
    )
    cpu = time.process_time() - started
    latencies = [value for per in results for value in per]
    return {
        "sessions": sessions,
        "segments": len(latencies),
        "seal_p50_ms": round(statistics.median(latencies), 1),
        "seal_p95_ms": round(_percentile(latencies, 0.95), 1),
        "seal_max_ms": round(max(latencies), 1),
        "cpu_s": round(cpu, 2),
    }


def verify_speed(work: Path, segments: int, segment_mb: int) -> dict[str, Any]:
    key = Ed25519PrivateKey.generate()
    chain = Chain()
    files: list[tuple[str, bytes | Path]] = []
    blobs = []
    for seq in range(segments):
        data = os.urandom(segment_mb * 1024 * 1024)
        blobs.append(data)
        name = f"p-1/{seq:06d}.webm"
        files.append((name, data))
        chain.append(
            "segment",
            "2026-11-22T00:00:00.000Z",
            {
                "participant": "p-1",
                "seq": seq,
                "file": name,
                "sha256": sha256_hex(data),
                "size": len(data),
            },
        )
    info = SessionInfo("bench", "bench", "bench", "short", "x", "y")
    sealed = seal(build_manifest(info, [], chain, key), key)
    files += [
        (MANIFEST, sealed.manifest),
        (SIGNATURE, sealed.signature.encode()),
        (PUBLIC_KEY, public_key_pem(key)),
    ]
    package = work / "package.zip"
    write_package(package, files)
    total_mb = segments * segment_mb

    started = time.perf_counter()
    for data in blobs:
        hashlib.sha256(data).hexdigest()
    sha_s = time.perf_counter() - started
    del blobs

    started = time.perf_counter()
    report = verify(ZipSource(package), trusted_key=key.public_key())
    verify_s = time.perf_counter() - started
    assert report.ok, report.as_dict()
    return {
        "package_mb": total_mb,
        "verify_mb_s": round(total_mb / verify_s, 1),
        "sha256_mb_s": round(total_mb / sha_s, 1),
        "verify_over_sha256": round(sha_s / verify_s, 3),
    }


async def run(sessions: list[int], segments: int = 48, segment_mb: int = 4) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="notarylink-bench-") as tmp:
        work = Path(tmp)
        server = LocalS3Server(work / "s3", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY).start()
        try:
            store = ObjectStore(
                connect(server.endpoint, DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, "us-east-1")
            )
            store.bootstrap(["bench-evidence"])
            rows = [await seal_latency(n, store, "bench-evidence", work) for n in sessions]
        finally:
            server.stop()
        speed = verify_speed(work, segments, segment_mb)
    print(f"{'sessions':>8} {'segments':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu s':>6}")
    for row in rows:
        print(
            f"{row['sessions']:>8} {row['segments']:>8} {row['seal_p50_ms']:>8} "
            f"{row['seal_p95_ms']:>8} {row['seal_max_ms']:>8} {row['cpu_s']:>6}"
        )
    print(
        f"verify {speed['verify_mb_s']} MB/s, raw sha256 {speed['sha256_mb_s']} MB/s "
        f"on {speed['package_mb']} MB: verify/sha256 = {speed['verify_over_sha256']}"
    )
    worst = max(rows, key=lambda row: row["sessions"])
    result = {
        "seal_p50_ms": worst["seal_p50_ms"],
        "seal_p95_ms": worst["seal_p95_ms"],
        "seal_sessions": worst["sessions"],
        **speed,
        "per_n": rows,
        "goal": {
            "seal_p95_ms_le_1000": worst["seal_p95_ms"] <= 1000,
            "verify_over_sha256_ge_0_5": speed["verify_over_sha256"] >= 0.5,
        },
    }
    print(json.dumps(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", default="1,5,10")
    args = parser.parse_args()
    asyncio.run(run([int(n) for n in args.sessions.split(",")]))


if __name__ == "__main__":
    main()
