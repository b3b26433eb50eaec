"""Decoded video of one publication at a requested rate (for identity checks).

The only place media/ decodes: the decoder exists while a tap exists. Every encoded frame
must be decoded (delta frames depend on their predecessors), but only one picture per
1/fps of media time is converted to an image and handed on. Decoding and conversion run in
one worker thread per tap, off the event loop; the output keeps only the latest pictures.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
from av.video.codeccontext import VideoCodecContext

from media.fanout import Publication
from media.frames import CodecInfo, EncodedFrame
from media.subscription import Subscription, SubscriptionClosed

logger = logging.getLogger(__name__)

# FFmpeg's native decoders: no dependency beyond what PyAV ships, and faster than libvpx's.
DECODERS = {"VP8": "vp8", "H264": "h264"}


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """One picture: `image` is HxWx3 uint8 in `pixel_format` (rgb24 by default)."""

    image: npt.NDArray[np.uint8]
    media_time: float  # seconds from the publication's first frame
    arrival: float  # wall clock at the tap of the encoded frame it came from
    width: int
    height: int


class _Decoder:
    """Worker-thread side: one codec context, reopened when the codec changes."""

    def __init__(self, width: int | None, pixel_format: str) -> None:
        self.width = width
        self.pixel_format = pixel_format
        self.codec_name: str | None = None
        self.context: VideoCodecContext | None = None

    def decode(self, frame: EncodedFrame, want_picture: bool) -> list[DecodedFrame]:
        if self.context is None or frame.codec.name != self.codec_name:
            context = av.CodecContext.create(_decoder_name(frame.codec), "r")
            assert isinstance(context, VideoCodecContext)
            self.context = context
            self.codec_name = frame.codec.name
        pictures = self.context.decode(frame.to_packet())
        if not want_picture:
            return []
        out: list[DecodedFrame] = []
        for picture in pictures:
            if not isinstance(picture, av.VideoFrame):
                continue
            width, height = picture.width, picture.height
            if self.width is not None and width > self.width:
                # Keep the aspect ratio; even sizes keep the scaler's chroma planes whole.
                height = max(2, round(height * self.width / width) // 2 * 2)
                width = self.width
            image = np.asarray(
                picture.to_ndarray(format=self.pixel_format, width=width, height=height),
                dtype=np.uint8,
            )
            out.append(
                DecodedFrame(
                    image=image,
                    media_time=float(frame.pts * frame.time_base),
                    arrival=frame.arrival,
                    width=width,
                    height=height,
                )
            )
        return out


def _decoder_name(codec: CodecInfo) -> str:
    try:
        return DECODERS[codec.name]
    except KeyError:
        raise ValueError(f"no decoder for {codec.mime_type}") from None


class DecodedVideoTap:
    """Pictures of one video publication at most `fps` per second of media time."""

    def __init__(
        self,
        publication: Publication,
        *,
        fps: float,
        width: int | None = None,
        pixel_format: str = "rgb24",
        max_pending: int = 2,
        max_encoded_frames: int = 90,
    ) -> None:
        if publication.kind != "video":
            raise ValueError("a decoded tap needs a video publication")
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.publication = publication
        self.interval = 1.0 / fps
        self.decoded = 0  # encoded frames through the decoder
        self.emitted = 0  # pictures handed on
        self.discarded = 0  # pictures replaced before anyone read them
        self.errors = 0
        self._decoder = _Decoder(width, pixel_format)
        self._pending: deque[DecodedFrame] = deque(maxlen=max_pending)
        self._ready = asyncio.Event()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="decoded-tap"
        )
        self._next_time: float | None = None
        self._closed = False
        self.subscription: Subscription = publication.subscribe(
            max_frames=max_encoded_frames, name="decoded-tap"
        )
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for frame in self.subscription:
                media_time = float(frame.pts * frame.time_base)
                want = self._next_time is None or media_time >= self._next_time
                try:
                    pictures = await loop.run_in_executor(
                        self._executor, self._decoder.decode, frame, want
                    )
                except av.FFmpegError as exc:
                    # Keep the decoder; ask for a keyframe so it recovers soon.
                    self.errors += 1
                    logger.warning("decoded tap: %s", exc)
                    self.subscription.request_keyframe()
                    continue
                self.decoded += 1
                if pictures:
                    self._next_time = media_time + self.interval
                for picture in pictures:
                    if len(self._pending) == self._pending.maxlen:
                        self.discarded += 1
                    self._pending.append(picture)
                    self.emitted += 1
                    self._ready.set()
        finally:
            self._closed = True
            self._ready.set()

    async def get(self) -> DecodedFrame:
        """The oldest pending picture; raises SubscriptionClosed once the tap has ended."""
        while not self._pending:
            if self._closed:
                raise SubscriptionClosed
            self._ready.clear()
            await self._ready.wait()
        return self._pending.popleft()

    def __aiter__(self) -> DecodedVideoTap:
        return self

    async def __anext__(self) -> DecodedFrame:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        """Stop decoding and release the decoder."""
        self.subscription.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._executor.shutdown(wait=True)
        self._decoder.context = None
