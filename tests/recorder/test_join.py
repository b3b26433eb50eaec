"""Segments joined into one file: every packet copied, in time, decodable, no encoder."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest

from recorder.join import Part, join_segments
from recorder.segmenter import Segmenter, SegmentInfo
from tests.recorder.media_source import SECONDS, demux_frames, read_segment

pytestmark = pytest.mark.unit


async def _segments(source_webm: Path, directory: Path) -> list[SegmentInfo]:
    closed: list[SegmentInfo] = []
    segmenter = Segmenter("p-1", directory, target_duration=1.0, on_segment=closed.append)
    for frame in demux_frames(source_webm, time.time()):
        await segmenter.feed(frame)
    await segmenter.close()
    return closed


async def test_joined_file_holds_every_packet_and_plays_the_whole_session(
    source_webm: Path, tmp_path: Path
) -> None:
    closed = await _segments(source_webm, tmp_path / "segments")
    assert len(closed) >= 3
    out = tmp_path / "p-1.webm"
    progress: list[int] = []
    copied = join_segments(
        [Part(info.path, info.start_time) for info in closed], out, lambda i, n: progress.append(i)
    )
    assert progress == list(range(1, len(closed) + 1))
    per_segment = [read_segment(info.path) for info in closed]
    assert copied["video"] == sum(len(s["video"]["packets"]) for s in per_segment)
    assert copied["audio"] == sum(len(s["audio"]["packets"]) for s in per_segment)
    joined = read_segment(out)
    assert joined["video"]["decoded"] == sum(s["video"]["decoded"] for s in per_segment)
    assert joined["video"]["end"] == pytest.approx(SECONDS, abs=0.1)
    times = [t for t, _ in joined["video"]["packets"]]
    assert times == sorted(times)
    with av.open(str(out)) as container:  # copied, not encoded: the codec is still VP8
        assert container.streams.video[0].codec_context.name == "vp8"


def test_nothing_to_join(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        join_segments([], tmp_path / "x.webm")
