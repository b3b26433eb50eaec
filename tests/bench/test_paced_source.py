"""The in-memory replay feeds the server what MediaPlayer(decode=False) would, at the same pace."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest

from tests.bench.paced_source import EncodedFile
from tests.bench.source import media_duration


def _demuxed(path: Path, kind: str) -> list[tuple[bytes, int]]:
    with av.open(str(path)) as container:
        stream = next(s for s in container.streams if s.type == kind)
        return [(bytes(p), p.pts) for p in container.demux(stream) if p.size and p.pts is not None]


@pytest.mark.parametrize("kind", ["video", "audio"])
async def test_replays_the_files_packets_with_rising_timestamps(webm: Path, kind: str) -> None:
    original = _demuxed(webm, kind)
    source = EncodedFile(webm, media_duration(webm))
    participant = source.participant()
    # Skip the pacing: the first pass is judged on bytes and timestamps, not on time.
    participant.started_at = time.monotonic() - 3 * source.duration
    track = getattr(participant, kind)
    first_pass = [await track.recv() for _ in original]
    second = await track.recv()

    assert [bytes(p) for p in first_pass] == [data for data, _ in original]
    origin = original[0][1]
    assert [p.pts for p in first_pass] == [pts - origin for _, pts in original]
    # The second pass goes on from where the first ended: timestamps never go back.
    assert bytes(second) == original[0][0]
    assert second.pts == round(source.duration / second.time_base)
    assert second.time_base == first_pass[0].time_base


async def test_paces_packets_by_their_timestamps(webm: Path) -> None:
    participant = EncodedFile(webm, media_duration(webm)).participant()
    started = time.monotonic()
    packet = None
    for _ in range(10):  # ten video frames at 30 fps: the tenth is due at 0.3 s
        packet = await participant.video.recv()
    assert packet is not None and packet.time_base is not None and packet.pts is not None
    due = float(packet.pts * packet.time_base)
    # Never early (a lower bound only: how late a busy machine is, is not asserted).
    assert time.monotonic() - started >= due - 0.005
    assert due == pytest.approx(9 / 30, abs=0.01)
