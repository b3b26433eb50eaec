"""Segments of real encoded media: closed, decodable, keyframe-first, placed on the wall clock.

Frames come from demuxing a VP8/Opus WebM made by tests.media.harness.make_webm (what a browser
sends, bytes for bytes), wrapped as media.EncodedFrame, and from a live in-process aiortc call.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import aioice.ice
import av
import pytest

from media import CodecInfo, EncodedFrame
from recorder import segmenter as segmenter_module
from recorder.frames import Frame, picture_size
from recorder.segmenter import Segmenter, SegmentInfo, next_free_sequence
from tests.media.harness import PatternTrack, Session, wait_for
from tests.recorder.media_source import SECONDS, demux_frames, read_segment
from tests.support import REPO

pytestmark = pytest.mark.unit


# media.EncodedFrame must satisfy the recorder's protocol (mypy checks this line).
_PROTOCOL_CHECK: type[Frame] = EncodedFrame


async def record(
    frames: list[EncodedFrame], directory: Path, **options: Any
) -> tuple[Segmenter, list[SegmentInfo]]:
    closed: list[SegmentInfo] = []
    segmenter = Segmenter("alice", directory, on_segment=closed.append, **options)
    for frame in frames:
        await segmenter.feed(frame)
    await segmenter.close()
    return segmenter, closed


def check_segment_files(info: SegmentInfo) -> dict[str, Any]:
    """The closed file matches its sidecar and decodes fully; returns read_segment()."""
    assert info.path.exists() and not info.path.with_name(info.file_name + ".part").exists()
    data = info.path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == info.sha256 and len(data) == info.size
    assert json.loads(info.sidecar_path.read_text()) == info.as_dict()
    content = read_segment(info.path)
    for track in info.tracks:
        got = content[track.kind]
        assert len(got["packets"]) == track.frames
        assert got["decoded"] == track.frames, f"{info.file_name} {track.kind}: not all decoded"
        if track.frames:
            assert track.duration == pytest.approx(got["end"] - got["first"], abs=0.002)
    assert content["duration"] == pytest.approx(info.duration, abs=0.002)
    video = content.get("video")
    if video and video["packets"]:
        assert video["packets"][0][1], f"{info.file_name} does not start on a keyframe"
    return content


async def test_segments_are_closed_decodable_keyframe_first_and_add_up(
    source_webm: Path, tmp_path: Path
) -> None:
    frames = demux_frames(source_webm, base=time.time() - 60)
    requests: list[float] = []
    segmenter, closed = await record(
        frames, tmp_path, target_duration=1.0, request_keyframe=lambda: requests.append(1)
    )

    assert [info.sequence for info in closed] == [0, 1, 2]
    assert [info.ended_by for info in closed] == ["keyframe", "keyframe", "close"]
    assert {info.container for info in closed} == {"webm"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "000000.json", "000000.webm", "000001.json", "000001.webm", "000002.json", "000002.webm"
    ]  # fmt: skip
    totals = {"audio": 0.0, "video": 0.0}
    counts = {"audio": 0, "video": 0}
    for info in closed:
        content = check_segment_files(info)
        for track in info.tracks:
            got = content[track.kind]
            totals[track.kind] += got["end"] - got["first"]
            counts[track.kind] += track.frames
            assert (track.width, track.height) == (
                (320, 240) if track.kind == "video" else (None,) * 2
            )
    # Every frame is in exactly one segment, and the durations add up to the source's.
    assert counts == {
        "audio": sum(f.kind == "audio" for f in frames),
        "video": sum(f.kind == "video" for f in frames),
    }
    assert totals["video"] == pytest.approx(SECONDS, abs=0.003)
    assert totals["audio"] == pytest.approx(SECONDS, abs=0.021 * 2)
    # Segments follow each other without gap or overlap on the wall clock.
    for before, after in itertools.pairwise(closed):
        assert after.start_time - before.end_time == pytest.approx(0, abs=0.021)
    assert sum(info.duration for info in closed) == pytest.approx(SECONDS, abs=0.05)
    assert segmenter.frames_written == len(frames)
    # Asked for at most one keyframe per boundary (the source sends one a second anyway).
    assert len(requests) <= 2


async def test_audio_lost_before_a_boundary_does_not_stretch_the_segment(
    source_webm: Path, tmp_path: Path
) -> None:
    # A track's last frame in a segment has no successor there to measure its duration by;
    # after a loss its last spacing is the gap, which must not become that frame's duration
    # (the segment would end after the next one began: seen as a 167 ms overlap live).
    frames = demux_frames(source_webm, base=time.time() - 60)
    clock = {f.kind: f.codec.clock_rate for f in frames}
    boundary = next(
        f.pts / clock["video"] for f in frames if f.kind == "video" and f.keyframe and f.pts
    )
    # Audio lost for 160 ms, then one frame 20 ms before the keyframe that closes the segment
    # (and none at the keyframe's very time, which could fall on either side).
    lost = ((boundary - 0.2, boundary - 0.03), (boundary - 0.01, boundary + 0.01))
    kept = [
        f
        for f in frames
        if not (f.kind == "audio" and any(a < f.pts / clock["audio"] < b for a, b in lost))
    ]
    assert len(kept) < len(frames)
    _, closed = await record(kept, tmp_path, target_duration=boundary - 0.5)
    assert closed[0].ended_by == "keyframe"
    for before, after in itertools.pairwise(closed):
        assert after.start_time - before.end_time == pytest.approx(0, abs=0.021)
    audio = next(t for t in closed[0].tracks if t.kind == "audio")
    video = next(t for t in closed[0].tracks if t.kind == "video")
    assert audio.duration <= video.duration + 0.021


async def test_video_lagging_audio_widens_the_reorder_window(
    source_webm: Path, tmp_path: Path
) -> None:
    # A live video track can fall behind its audio by more than the reorder window (an
    # encoder catching up, retransmissions an RTT late): frames then reach the segmenter
    # after audio that is later in media time. Placed as they come, a segment's audio would
    # run past the keyframe that starts the next one. The window widens to the lag seen.
    frames = demux_frames(source_webm, base=time.time() - 60)
    clock = {f.kind: f.codec.clock_rate for f in frames}

    def arrival_order(f: EncodedFrame) -> float:
        t = f.pts / clock[f.kind]
        return t + (0.35 if f.kind == "video" and t >= 0.4 else 0.0)

    lagging = sorted(frames, key=arrival_order)
    segmenter, closed = await record(lagging, tmp_path, target_duration=0.5)
    assert segmenter.reorder_window == pytest.approx(0.35 + 0.05, abs=0.04)
    assert [info.ended_by for info in closed][:-1] == ["keyframe"] * (len(closed) - 1)
    assert len(closed) >= 2
    for before, after in itertools.pairwise(closed):
        assert after.start_time - before.end_time == pytest.approx(0, abs=0.021)
    assert sum(t.frames for info in closed for t in info.tracks) == len(frames)


async def test_a_keyframe_later_than_the_reorder_window_does_not_start_a_segment(
    source_webm: Path, tmp_path: Path
) -> None:
    # The keyframe a boundary waits for is big (a PLI's answer: slow to encode, many packets)
    # and can come later than the reorder window behind its audio (seen live under load as a
    # 120 ms overlap). Audio later than it is then already in the segment: cut there, the two
    # segments would overlap. It stays in the segment; the next keyframe starts the next one.
    frames = demux_frames(source_webm, base=time.time() - 60)
    clock = {f.kind: f.codec.clock_rate for f in frames}
    keyframes = [f.pts / clock["video"] for f in frames if f.kind == "video" and f.keyframe]
    boundary = keyframes[1]  # the first keyframe past the target duration

    def arrival_order(f: EncodedFrame) -> float:
        t = f.pts / clock[f.kind]
        return t + (0.35 if f.kind == "video" and t >= boundary else 0.0)

    late = sorted(frames, key=arrival_order)
    segmenter, closed = await record(late, tmp_path, target_duration=boundary - 0.5)
    assert segmenter.late_keyframes == 1
    assert [info.ended_by for info in closed][:-1] == ["keyframe"] * (len(closed) - 1)
    assert closed[0].duration == pytest.approx(keyframes[2], abs=0.021)  # the next keyframe
    for before, after in itertools.pairwise(closed):
        assert after.start_time - before.end_time == pytest.approx(0, abs=0.021)
    assert sum(t.frames for info in closed for t in info.tracks) == len(frames)


async def test_no_encoder_is_ever_created(
    source_webm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams: list[Any] = []
    original = segmenter_module._SegmentWriter._add_stream

    def capture(self: Any, track: Any) -> Any:
        stream = original(self, track)
        streams.append(stream)
        return stream

    monkeypatch.setattr(segmenter_module._SegmentWriter, "_add_stream", capture)
    await record(demux_frames(source_webm, base=time.time()), tmp_path, target_duration=1.0)

    assert len(streams) == 6  # audio and video in each of three segments
    assert [name for stream in streams if (name := _encoder_of(stream))] == []
    # The check itself sees an encoder when there is one.
    with av.open(str(tmp_path / "control.webm"), "w", format="webm") as control:
        stream = control.add_stream("libvpx", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        frame = av.VideoFrame(64, 64, "yuv420p")
        frame.pts = 0
        control.mux(stream.encode(frame))
        assert _encoder_of(stream) == "libvpx"


def _encoder_of(stream: Any) -> str | None:
    context = stream.codec_context
    if context is None:
        return None
    return str(context.name) if context.is_encoder or context.is_open else None


async def test_timestamp_mapping_places_every_frame_on_the_wall_clock(
    source_webm: Path, tmp_path: Path
) -> None:
    base = time.time() - 60
    frames = demux_frames(source_webm, base=base, jitter=0.03)
    _, closed = await record(frames, tmp_path, target_duration=1.0)
    sent_at = {  # true media time of each frame on the wall clock
        (f.kind, f.pts): base + f.pts / f.codec.clock_rate for f in frames
    }
    placed = 0
    for info in closed:
        with av.open(str(info.path)) as container:
            for packet in container.demux():
                if not packet.size:
                    continue
                track = next(t for t in info.tracks if t.kind == packet.stream.type)
                file_time = float((packet.pts or 0) * packet.time_base)
                # The sidecar's mapping gives the source pts back (within Matroska's 1 ms) ...
                source_pts = track.origin_pts + file_time * track.clock_rate
                key = min(
                    (k for k in sent_at if k[0] == track.kind),
                    key=lambda k: abs(k[1] - source_pts),
                )
                assert abs(key[1] - source_pts) <= track.clock_rate * 0.001
                # ... and the wall clock, within the arrival jitter of the tracks' first frames.
                wall = info.start_time + file_time
                assert wall == pytest.approx(sent_at[key], abs=0.035)
                placed += 1
    assert placed == len(frames)
    first = closed[0]
    assert first.start.endswith("Z") and len(first.start) == len("2024-01-01T00:00:00.000Z")


async def test_boundary_without_keyframe_closes_and_next_video_starts_on_a_keyframe(
    source_webm: Path, tmp_path: Path
) -> None:
    # The publisher ignores keyframe requests: only the frames at 0 s and 2 s are keyframes.
    frames = [
        replace(f, keyframe=f.keyframe and f.pts in (0, 180000)) if f.kind == "video" else f
        for f in demux_frames(source_webm, base=time.time())
    ]
    requests: list[int] = []
    segmenter, closed = await record(
        frames,
        tmp_path,
        target_duration=0.5,
        keyframe_wait=0.5,
        request_keyframe=lambda: requests.append(1),
    )

    first, second = closed[0], closed[1]
    assert first.ended_by == "no_keyframe"
    assert first.duration == pytest.approx(1.0, abs=0.05)  # target + wait
    # Asked at the target (0.5 s), then at the forced cut (1 s) and a second later (2 s):
    # at most one request a second while the video waits.
    assert len(requests) == 3
    # The next segment keeps the audio and waits for the video's next keyframe (the gap).
    assert second.skipped_video_frames > 0
    assert {t.kind: t.frames for t in second.tracks}["audio"] > 0
    assert {t.kind: t.frames for t in second.tracks}["video"] == 0
    video_starts = []
    for info in closed:
        content = check_segment_files(info)
        if content["video"]["packets"]:
            video_starts.append(info.start_time + content["video"]["first"] - frames[0].arrival)
    assert video_starts[0] == pytest.approx(0, abs=0.01)
    assert video_starts[1] == pytest.approx(2.0, abs=0.01)
    skipped = sum(info.skipped_video_frames for info in closed)
    assert segmenter.frames_written + skipped == len(frames)


@pytest.mark.parametrize("restart", ["pts_reset", "pts_jump"])
async def test_a_track_that_restarts_its_clock_is_anchored_again(
    source_webm: Path, tmp_path: Path, restart: str
) -> None:
    # The same stream twice in a row, the same codec objects: the second time its pts start
    # over (a publisher that restarted its encoder) or jump 10 s ahead of the arrivals.
    base = time.time() - 60
    first = demux_frames(source_webm, base=base)
    shift = 0 if restart == "pts_reset" else 10
    resumed = max(f.arrival for f in first) + 0.02
    second = [
        replace(f, pts=f.pts + shift * f.codec.clock_rate, arrival=f.arrival - base + resumed)
        for f in first
    ]
    segmenter, closed = await record(first + second, tmp_path, target_duration=1.0)

    # The first run's last segment keeps its own frames; the restart costs at most one more
    # boundary (audio and video start over a few ms apart), not a segment per waiting frame.
    assert 1 <= [info.ended_by for info in closed].count("track_change") <= 2
    skipped = sum(info.skipped_video_frames for info in closed)
    assert segmenter.frames_written + skipped == 2 * len(first)
    last = closed[-1]
    for track in last.tracks:  # anchored at its first frame after coming back
        again = next(f for f in second if f.kind == track.kind)
        assert track.anchor_pts == again.pts
        anchored_at = datetime.fromisoformat(track.anchor_arrival).timestamp()
        assert anchored_at == pytest.approx(again.arrival, abs=0.001)
    # On the wall clock where it arrived, not 10 s later nor where the first run was.
    assert last.end_time == pytest.approx(max(f.arrival for f in second), abs=0.1)
    for info in closed:
        check_segment_files(info)


async def test_audio_only_participant_cuts_at_the_target(source_webm: Path, tmp_path: Path) -> None:
    frames = [f for f in demux_frames(source_webm, base=time.time()) if f.kind == "audio"]
    _, closed = await record(frames, tmp_path, target_duration=1.0)
    # 151 frames of 20 ms: three full seconds and the last frame.
    assert [info.ended_by for info in closed] == ["duration", "duration", "duration", "close"]
    assert [info.duration for info in closed[:3]] == pytest.approx([1.0] * 3, abs=0.001)
    for info in closed:
        check_segment_files(info)
        assert [t.kind for t in info.tracks] == ["audio"]
    assert sum(t.frames for info in closed for t in info.tracks) == len(frames)


async def test_a_pause_in_every_track_still_closes_the_segment(
    source_webm: Path, tmp_path: Path
) -> None:
    frames = [
        f for f in demux_frames(source_webm, base=time.time()) if f.pts < f.codec.clock_rate * 0.3
    ]
    closed: list[SegmentInfo] = []

    async def then_silence() -> AsyncIterator[EncodedFrame]:
        for frame in frames:
            yield frame
        await wait_for(lambda: bool(closed), timeout=3, what="the idle segment closed")

    segmenter = Segmenter("alice", tmp_path, target_duration=0.5, on_segment=closed.append)
    await segmenter.run(then_silence())

    assert [info.ended_by for info in closed] == ["idle"]
    check_segment_files(closed[0])


def test_h264_goes_to_matroska_and_decodes(tmp_path: Path) -> None:
    frames = _h264_frames(seconds=2)
    assert picture_size("H264", frames[0].data) == (320, 240)
    _, closed = asyncio.run(record(frames, tmp_path, target_duration=1.0))
    assert [info.file_name for info in closed] == ["000000.mkv", "000001.mkv"]
    for info in closed:
        assert info.container == "matroska"
        check_segment_files(info)
        assert (info.tracks[0].width, info.tracks[0].height) == (320, 240)


def _h264_frames(seconds: int) -> list[EncodedFrame]:
    """Annex-B H.264 (as aiortc depayloads it), keyframe every second; made with libx264."""
    import numpy as np

    codec = CodecInfo("video/H264", 90000)
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 320, 240, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.gop_size = 30
    encoder.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline"}
    base = time.time()
    frames = []
    for index in range(seconds * 30 + 1):
        picture = av.VideoFrame.from_ndarray(
            np.full((240, 320, 3), index * 8 % 256, np.uint8), format="rgb24"
        ).reformat(format="yuv420p")
        picture.pts = index
        for packet in encoder.encode(picture if index < seconds * 30 else None):
            pts = (packet.pts or 0) * 3000
            frames.append(
                EncodedFrame(
                    "video", codec, bytes(packet), pts, packet.is_keyframe, base + pts / 9e4
                )
            )
    return frames


CRASH_SCRIPT = """
import asyncio, os, signal, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from recorder.segmenter import Segmenter
from tests.recorder.test_segmenter import demux_frames

async def main():
    seg = Segmenter("alice", Path(sys.argv[3]), target_duration=1.0)
    fed_after = 0
    for frame in demux_frames(Path(sys.argv[2]), base=time.time()):
        await seg.feed(frame)
        await asyncio.sleep(0.001)  # let the closing thread finish
        if seg.segments_closed >= 2:
            fed_after += 1
            if fed_after == 20:  # in the middle of the third segment
                os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_a_crash_loses_only_the_segment_being_written(source_webm: Path, tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(REPO), str(source_webm), str(tmp_path)],
        capture_output=True,
        timeout=60,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["000000.json", "000000.webm", "000001.json", "000001.webm", "000002.webm.part"]
    for sequence in (0, 1):
        sidecar = json.loads((tmp_path / f"{sequence:06d}.json").read_text())
        media = tmp_path / sidecar["file_name"]
        assert hashlib.sha256(media.read_bytes()).hexdigest() == sidecar["sha256"]
        content = read_segment(media)
        assert content["video"]["packets"][0][1]
        assert content["video"]["decoded"] == 30
    # A recorder started again never reuses the interrupted segment's name.
    assert next_free_sequence(tmp_path) == 3
    assert os.path.getsize(tmp_path / "000002.webm.part") >= 0


# --- a live call ----------------------------------------------------------------------------


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 by default, and this machine has no other network."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda **_: ["127.0.0.1"])


@pytest.fixture
async def session(loopback_ice: None) -> AsyncIterator[Session]:
    session = Session()
    yield session
    await session.close()


async def test_records_a_live_participant_asking_for_keyframes(
    session: Session, source_webm: Path, tmp_path: Path
) -> None:
    # PatternTrack goes through aiortc's own VP8 encoder, which sends a keyframe only when
    # asked (3000-frame GOP): every boundary after the first needs our request to arrive.
    player = session.player(source_webm)
    assert player.audio is not None
    client = await session.join("alice", [player.audio, PatternTrack()], decode=False)
    assert client.peer is not None
    stream = client.peer.subscribe_encoded()
    closed: list[SegmentInfo] = []
    segmenter = Segmenter(
        "alice",
        tmp_path,
        target_duration=1.0,
        # Generous: on a loaded machine the client's encoder answers the PLI late, and this
        # test is about segments ending at the requested keyframes, not about giving up.
        keyframe_wait=8.0,
        request_keyframe=stream.request_keyframe,
        on_segment=closed.append,
    )
    task = asyncio.create_task(segmenter.run(stream))
    await wait_for(lambda: len(closed) >= 2, timeout=30, what="two segments")
    stream.close()
    await asyncio.wait_for(task, 5)

    assert len(closed) >= 3
    assert all(info.ended_by == "keyframe" for info in closed[:-1])
    assert segmenter.keyframe_requests >= 2
    for info in closed:
        content = check_segment_files(info)
        assert {t.kind for t in info.tracks} == {"audio", "video"}
        assert content["video"]["decoded"] > 0
    # Wall-clock placement of a live recording: contiguous and near now.
    for before, after in itertools.pairwise(closed):
        assert after.start_time - before.end_time == pytest.approx(0, abs=0.05)
    assert abs(closed[-1].end_time - time.time()) < 5


async def test_a_push_source_records_the_same_segments_without_a_task_per_frame(
    source_webm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from media import Publication, Subscription

    frames = demux_frames(source_webm, base=time.time() - 60)
    _, fed = await record(frames, tmp_path / "fed", target_duration=1.0)

    video = Publication("alice", "video", "v")
    audio = Publication("alice", "audio", "a")
    stream = Subscription(end_with_sources=False)
    video.subscribe(stream)
    audio.subscribe(stream)
    closed: list[SegmentInfo] = []
    segmenter = Segmenter(
        "alice", tmp_path / "pushed", target_duration=1.0, on_segment=closed.append
    )
    # A writer bug on one frame costs that frame, never the publisher's packet handling.
    original = segmenter_module._SegmentWriter.write
    failures = iter([True])

    def flaky(self: Any, frame: Frame) -> bool:
        if frame.kind == "audio" and next(failures, False):
            raise OSError("disk hiccup")
        return original(self, frame)

    monkeypatch.setattr(segmenter_module._SegmentWriter, "write", flaky)
    task = asyncio.create_task(segmenter.run(stream))
    await asyncio.sleep(0)  # run() attaches to the stream
    for frame in frames:
        (video if frame.kind == "video" else audio).publish(frame)  # never raises
    assert stream.queued_frames == 0 and stream.dropped == 0
    stream.close()
    await asyncio.wait_for(task, 10)

    assert segmenter.failed_frames == 1
    assert segmenter.frames_written == len(frames) - 1
    assert [(i.sequence, i.ended_by) for i in closed] == [(i.sequence, i.ended_by) for i in fed]
    for pushed, before in zip(closed, fed, strict=True):
        check_segment_files(pushed)
        assert [t.frames for t in pushed.tracks] == [
            t.frames - (t.kind == "audio" and pushed.sequence == 0) for t in before.tracks
        ]
