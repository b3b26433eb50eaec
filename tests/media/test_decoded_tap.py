"""Decoded pictures of one publication, at the rate identity asks for."""

from __future__ import annotations

import asyncio
import itertools
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from media import CodecInfo, DecodedFrame, DecodedVideoTap, EncodedFrame, Publication
from media.frames import is_keyframe

pytestmark = pytest.mark.unit

VP8 = CodecInfo("video/VP8", 90000)


def encoded_frames(webm: Path) -> list[EncodedFrame]:
    frames = []
    with av.open(str(webm)) as container:
        for packet in container.demux(video=0):
            if not packet.size or packet.pts is None or packet.time_base is None:
                continue
            data = bytes(packet)
            pts = int(packet.pts * packet.time_base * 90000)
            frames.append(EncodedFrame("video", VP8, data, pts, is_keyframe(VP8, data), 0.0))
    return frames


async def test_pictures_come_at_the_requested_rate_and_size(webm: Path) -> None:
    frames = encoded_frames(webm)
    publication = Publication("applicant", "video", "cam", codec=VP8)
    tap = DecodedVideoTap(publication, fps=5, width=160)
    pictures: list[DecodedFrame] = []

    async def consume() -> None:
        async for picture in tap:
            pictures.append(picture)

    consumer = asyncio.create_task(consume())
    for frame in frames:
        publication.publish(frame)
        await asyncio.sleep(0.005)
    deadline = time.monotonic() + 5
    while tap.decoded < len(frames) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    await tap.close()
    await consumer

    seconds = frames[-1].pts / 90000
    assert tap.decoded == len(frames)  # every frame through the decoder
    assert tap.subscription.dropped == 0
    assert 5 * seconds - 1 <= len(pictures) <= 5 * seconds + 1
    times = [p.media_time for p in pictures]
    assert all(b - a >= 0.2 - 1e-6 for a, b in itertools.pairwise(times))
    first = pictures[0]
    assert (first.width, first.height) == (160, 120)
    assert first.image.shape == (120, 160, 3) and first.image.dtype == np.uint8
    assert first.image.std() > 10  # the moving pattern, not a blank picture
    assert tap._decoder.context is None  # released on close


async def test_a_tap_needs_a_video_publication() -> None:
    audio = Publication("applicant", "audio", "mic")
    with pytest.raises(ValueError):
        DecodedVideoTap(audio, fps=1)


class Camera:
    """A publisher that encodes as it goes and honours keyframe requests, as a browser does
    (no periodic keyframe: only the first one and the ones asked for)."""

    def __init__(self, fps: int = 30, size: tuple[int, int] = (160, 120)) -> None:
        self.fps = fps
        self.width, self.height = size
        self.codec = av.CodecContext.create("libvpx", "w")
        assert isinstance(self.codec, av.video.codeccontext.VideoCodecContext)
        self.codec.width, self.codec.height, self.codec.pix_fmt = self.width, self.height, "yuv420p"
        self.codec.time_base = Fraction(1, fps)
        self.codec.gop_size = 100_000
        self.codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self.requests = 0
        self.keyframes_sent = 0
        self.publication = Publication(
            "applicant",
            "video",
            "cam",
            codec=VP8,
            send_keyframe_request=self._asked,
            keyframe_interval=0.0,
        )
        self._index = 0
        self._force = False

    def _asked(self) -> None:
        self.requests += 1
        self._force = True

    def send(self) -> EncodedFrame:
        """Encode and publish the next frame (a moving pattern); returns it."""
        index = self._index
        ys, xs = np.mgrid[0 : self.height, 0 : self.width]
        rgb = np.stack([(xs + 4 * index) % 256, (ys + 2 * index) % 256, xs * 0 + 90], axis=-1)
        picture = av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
        picture = picture.reformat(format="yuv420p")
        picture.pts = index
        if self._force:
            picture.pict_type = av.video.frame.PictureType.I
            self._force = False
        (packet,) = self.codec.encode(picture)
        data = bytes(packet)
        frame = EncodedFrame(
            "video", VP8, data, index * 90000 // self.fps, is_keyframe(VP8, data), 0.0
        )
        self.keyframes_sent += frame.keyframe
        self._index += 1
        self.publication.publish(frame)
        return frame


async def sparse_checks(
    camera: Camera,
    tap: DecodedVideoTap,
    every: float,
    seconds: float,
    recorder_every: float | None = None,
) -> list[DecodedFrame]:
    """What the matcher does: a picture, then the next one `every` s of media time later.
    `recorder_every`: someone else (the recorder's segment boundaries) asks the camera for a
    keyframe this often, out of step with the checks."""
    tap.want_next(0.0, sparse=True)
    pictures: list[DecodedFrame] = []

    async def checks() -> None:
        async for picture in tap:
            pictures.append(picture)
            tap.want_next(picture.media_time + every, sparse=True)

    consumer = asyncio.create_task(checks())
    for index in range(int(seconds * camera.fps)):
        if recorder_every and index and index % round(recorder_every * camera.fps) == 7:
            camera._asked()
        camera.send()
        await asyncio.sleep(0.002)
        while tap.subscription.queued_frames:
            await asyncio.sleep(0.002)
    await asyncio.sleep(0.05)
    await tap.close()
    await consumer
    return pictures


async def test_sparse_tap_decodes_no_delta_frame_and_yields_a_picture_per_check() -> None:
    camera = Camera()
    # Asking at once for the keyframe a check needs (no grace): a picture per due time.
    tap = DecodedVideoTap(camera.publication, fps=2, keyframe_grace=0.0)
    every = 1.0  # a "check" per second of media time
    pictures = await sparse_checks(camera, tap, every, seconds=6)

    assert tap.decoded == tap.decoded_keyframes  # not one delta frame through the decoder
    assert tap.skipped >= 6 * camera.fps - 2 * len(pictures)
    # The delta frames before a due time never reached the tap's task: refused where offered.
    assert tap.subscription.filtered >= 6 * camera.fps - 3 * len(pictures)
    assert tap.subscription.delivered <= 2 * len(pictures) + 1  # keyframes, frames due
    times = [p.media_time for p in pictures]
    assert 5 <= len(pictures) <= 6, times
    # Each picture comes within a frame or two of its due time (the keyframe asked for).
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(every <= gap <= every + 0.1 for gap in gaps), times
    assert all(p.image.std() > 10 for p in pictures)  # real pictures, not a broken chain
    assert camera.keyframes_sent == len(pictures)  # one keyframe per picture, asked for
    assert tap.keyframe_requests >= len(pictures) - 1
    assert tap.keyframes_reused == 0


async def test_sparse_tap_waits_its_grace_before_asking_for_a_keyframe() -> None:
    camera = Camera()
    tap = DecodedVideoTap(camera.publication, fps=2, keyframe_grace=0.5)
    pictures = await sparse_checks(camera, tap, every=1.0, seconds=6)
    times = [p.media_time for p in pictures]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Nobody else asks: each keyframe is the tap's own, asked for half a second late.
    assert 3 <= len(pictures) <= 4, times
    assert all(1.5 <= gap <= 1.6 for gap in gaps), times
    assert camera.keyframes_sent == len(pictures)
    assert tap.decoded == tap.decoded_keyframes


async def test_sparse_tap_makes_its_pictures_from_keyframes_others_asked_for() -> None:
    camera = Camera()
    tap = DecodedVideoTap(camera.publication, fps=2, keyframe_reuse=0.7, keyframe_grace=0.5)
    # Checks every 1.2 s; the recorder asks for a keyframe every second, out of step: each
    # picture is made from the latest keyframe before its due time, after the first.
    pictures = await sparse_checks(camera, tap, every=1.2, seconds=6, recorder_every=1.0)
    times = [p.media_time for p in pictures]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(pictures) >= 5, times
    # The first keyframe the recorder asks for comes after the first check's due time (within
    # the grace), then one each second: the recorder's pace.
    assert 1.0 <= gaps[0] <= 1.5 and all(0.9 <= gap <= 1.1 for gap in gaps[1:]), times
    assert tap.keyframe_requests == 0  # not one keyframe of the tap's own
    assert camera.keyframes_sent == 1 + len(range(7, 180, 30))  # the first one, the recorder's
    assert tap.keyframes_reused >= len(pictures) - 2
    assert tap.decoded == tap.decoded_keyframes
    assert all(p.image.std() > 10 for p in pictures)


async def test_sparse_tap_does_not_reuse_a_keyframe_too_old_for_the_picture_due() -> None:
    camera = Camera()
    # Each recorder keyframe comes 0.1 s before a picture's due time: older than the tap takes.
    tap = DecodedVideoTap(camera.publication, fps=2, keyframe_reuse=0.05, keyframe_grace=0.3)
    pictures = await sparse_checks(camera, tap, every=1.0, seconds=6, recorder_every=2.0)
    times = [p.media_time for p in pictures]
    assert tap.keyframes_reused == 0, times
    assert tap.keyframe_requests >= 1  # it had to ask for its own


async def test_back_to_dense_waits_for_a_keyframe_then_decodes_every_frame() -> None:
    camera = Camera()
    tap = DecodedVideoTap(camera.publication, fps=30)
    seen: list[bool] = []  # keyframe or not, for every frame the decoder got
    decode = tap._decoder.decode

    def spy(frame: EncodedFrame, want: bool) -> list[DecodedFrame]:
        seen.append(frame.keyframe)
        return decode(frame, want)

    tap._decoder.decode = spy  # type: ignore[method-assign]

    async def pump(count: int) -> None:
        for _ in range(count):
            camera.send()
            await asyncio.sleep(0.002)
            while tap.subscription.queued_frames:
                await asyncio.sleep(0.002)
        await asyncio.sleep(0.02)

    tap.want_next(100.0, sparse=True)  # nothing wanted for a long while
    await pump(10)
    assert seen == [] and tap.skipped == 10  # not even the first keyframe
    tap.want_next(0.0, sparse=False)  # a confirming check: every frame from a keyframe on
    await pump(10)
    await tap.close()
    assert seen and seen[0] is True  # the decoder restarted at a keyframe
    assert camera.keyframes_sent == 2  # the first one, and the one asked for on the switch
    assert len(seen) >= 8 and not any(seen[1:])  # then the delta frames, all of them
