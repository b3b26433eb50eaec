"""CPU per uploaded segment: the spool's upload now (two PUTs) against how it was (six requests).

`python -m tests.bench.upload_requests [--segments 200] [--size 400000]` (also `make bench`).
One process, one SeaweedFS (`weed mini`, started here), the real `Uploader` loop over spooled
segments of random bytes (~3 s of video each) with their sidecars. Side by side, in rounds that
alternate so that a busy machine moves both alike:

    now:    PUT with If-None-Match (refused when the key exists), no read-back; the sidecar's
            SHA-256 is handed to the store instead of being computed again
    before: HEAD to refuse an existing key, PUT, HEAD to read back hash and version id, for
            media and sidecar alike: the same Uploader with the store told not to use
            conditional writes and the read-back put back (`ThreeRequestUploader`)

CPU is `time.process_time()` of this process (all threads: the upload threads and the loop);
the S3 server's own CPU is not in it. Requests per segment are counted from minio's trace in an
untimed round. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recorder.local_s3 import LocalS3Server
from recorder.retention import parse_retention_classes
from recorder.spool import CONTENT_TYPES, KeyLayout, Uploader
from recorder.store import ObjectExists, ObjectStore, connect
from signaling.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY
from tests.recorder.s3_trace import traced

RETENTION = parse_retention_classes("short=20y")[0]
PARTICIPANT = "alice"


class ThreeRequestUploader(Uploader):
    """The upload as it was: put_locked's HEAD first (store without conditional writes), its own
    SHA-256 of the body, then a HEAD to read the hash and version id back."""

    def _put_confirmed(self, key: str, data: bytes, sha256: str) -> str | None:
        content_type = CONTENT_TYPES.get(Path(key).suffix, "application/octet-stream")
        with contextlib.suppress(ObjectExists):
            self.store.put_locked(self.bucket, key, data, self.retention, content_type)
        return self._confirmed(key, sha256, len(data))


def spool_segments(folder: Path, first: int, count: int, size: int) -> list[Path]:
    """Closed segments with their sidecars, as a Segmenter leaves them; returns the sidecars."""
    folder.mkdir(parents=True, exist_ok=True)
    sidecars = []
    for sequence in range(first, first + count):
        media = os.urandom(size)
        name = f"{sequence:06d}.webm"
        (folder / name).write_bytes(media)
        sidecar = {
            "participant_id": PARTICIPANT,
            "sequence": sequence,
            "file_name": name,
            "sha256": hashlib.sha256(media).hexdigest(),
            "size": size,
            "start_pts_ms": sequence * 3000,
            "end_pts_ms": sequence * 3000 + 2980,
            "wallclock_start": "2026-11-22T10:00:00.000+00:00",
            "tracks": [
                {"kind": "video", "codec": "VP8", "frames": 90, "keyframes": 1},
                {"kind": "audio", "codec": "opus", "frames": 150, "keyframes": 150},
            ],
        }
        path = folder / f"{sequence:06d}.json"
        path.write_text(json.dumps(sidecar, indent=1))
        sidecars.append(path)
    return sidecars


async def upload_all(up: Uploader, sidecars: list[Path]) -> None:
    for sidecar in sidecars:
        up.submit(sidecar)
    up.start()
    await up.drain(timeout=600)
    await up.stop()
    if up.uploaded != len(sidecars) or up.failures or up.conflicts:
        raise RuntimeError(f"upload incomplete: {up.uploaded}, failures {up.failures}")


def run(segments: int = 200, size: int = 400_000, rounds: int = 4) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
        root = Path(tmp)
        server = LocalS3Server(root / "s3", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY).start()
        try:
            return asyncio.run(_compare(server.endpoint, root, segments, size, rounds))
        finally:
            server.stop()


async def _compare(
    endpoint: str, root: Path, segments: int, size: int, rounds: int
) -> dict[str, Any]:
    client = connect(endpoint, DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, "us-east-1")
    bucket = "upload-bench"
    stores = {"now": ObjectStore(client), "before": ObjectStore(client, conditional_writes=False)}
    stores["now"].bootstrap([bucket])  # creates the bucket and probes it (not timed)
    kinds: dict[str, Callable[..., Uploader]] = {"now": Uploader, "before": ThreeRequestUploader}
    sequence = iter(range(1, 1_000_000))

    def make(mode: str, count: int) -> tuple[Uploader, list[Path]]:
        session = f"{mode}-{next(sequence)}"
        spool = root / "spool" / session
        up = kinds[mode](
            stores[mode],
            bucket,
            spool,
            layout=KeyLayout(case_ref="bench", session_id=session),
            retention=RETENTION,
        )
        first = next(sequence)
        return up, spool_segments(up.participant_dir(PARTICIPANT), first, count, size)

    requests: dict[str, float] = {}
    for mode in kinds:  # untimed: what each way asks of the server
        up, sidecars = make(mode, 4)
        with traced(client) as trace:
            await upload_all(up, sidecars)
        requests[mode] = len(trace.requests()) / len(sidecars)

    cpu = dict.fromkeys(kinds, 0.0)
    wall = dict.fromkeys(kinds, 0.0)
    per_round = max(1, segments // rounds)
    for _ in range(rounds):
        for mode in kinds:
            up, sidecars = make(mode, per_round)
            started_cpu, started_wall = time.process_time(), time.perf_counter()
            await upload_all(up, sidecars)
            cpu[mode] += time.process_time() - started_cpu
            wall[mode] += time.perf_counter() - started_wall
    done = per_round * rounds
    return {
        "segments": done,
        "segment_bytes": size,
        "requests_per_segment": requests,
        "cpu_ms_per_segment": {m: round(1000 * cpu[m] / done, 3) for m in kinds},
        "wall_ms_per_segment": {m: round(1000 * wall[m] / done, 3) for m in kinds},
        "cpu_ratio_before_over_now": round(cpu["before"] / cpu["now"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=200)
    parser.add_argument("--size", type=int, default=400_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    result = run(args.segments, args.size, args.rounds)
    for mode in ("before", "now"):
        print(
            f"{mode:>7}: {result['requests_per_segment'][mode]:.0f} requests/segment, "
            f"{result['cpu_ms_per_segment'][mode]:.2f} ms CPU/segment, "
            f"{result['wall_ms_per_segment'][mode]:.2f} ms wall/segment"
        )
    print(f"CPU before/now: {result['cpu_ratio_before_over_now']:.2f}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
