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


async def test_audio_only_first_segment_then_video_joins_without_crashing(
    source_webm: Path, tmp_path: Path
) -> None:
    """As in real calls: the microphone starts before the camera, so the first segment holds
    audio only and video appears from the second. (Adding the video stream mid-way used to
    crash libavformat with SIGFPE, taking the whole process down: run it in a child.)"""
    import subprocess
    import sys

    frames = demux_frames(source_webm, time.time())
    video_from = frames[0].arrival + 1.2
    late_video = [f for f in frames if f.kind == "audio" or f.arrival >= video_from]
    first_keyframe = next(i for i, f in enumerate(late_video) if f.kind == "video" and f.keyframe)
    late_video = [f for i, f in enumerate(late_video) if f.kind == "audio" or i >= first_keyframe]
    closed: list[SegmentInfo] = []
    segmenter = Segmenter(
        "p-1", tmp_path / "segments", target_duration=1.0, on_segment=closed.append
    )
    for frame in late_video:
        await segmenter.feed(frame)
    await segmenter.close()
    assert "video" not in read_segment(closed[0].path)
    assert any("video" in read_segment(info.path) for info in closed[1:])
    out = tmp_path / "joined.webm"
    script = (
        "import sys, json; from pathlib import Path; from recorder.join import Part, join_segments;"
        "parts = [Part(Path(p), s) for p, s in json.loads(sys.argv[1])];"
        "print(json.dumps(join_segments(parts, Path(sys.argv[2]))))"
    )
    import json

    result = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            json.dumps([[str(i.path), i.start_time] for i in closed]),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-500:])
    joined = read_segment(out)
    assert joined["video"]["decoded"] > 0 and joined["audio"]["decoded"] > 0
