"""Decoded pictures of one publication, at the rate identity asks for."""

from __future__ import annotations

import asyncio
import itertools
import time
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
