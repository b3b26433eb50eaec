"""Decoded video of one publication at a requested rate (for identity checks).

The only place media/ decodes: the decoder exists while a tap exists. Delta frames depend on
their predecessors, so a tap that must deliver a picture at any moment decodes every encoded
frame ("dense"), and converts only one picture per 1/fps of media time to an image. Decoding
and conversion run in one worker thread per tap, off the event loop; the output keeps only the
latest pictures.

A consumer that knows when it wants its next picture says so (`want_next`). With
`sparse=True` (the live match between checks, every 3 s) nothing is decoded until then: when
the time comes, the tap decodes a keyframe, which costs the publisher a keyframe per picture
instead of costing the server a decode of every frame (docs/identity.md). Keyframes are shared
with the recorder, which asks for one at every segment boundary (every ~3 s): a picture due
is made from the latest keyframe if it came at most `keyframe_reuse` seconds of media time
before the due time, else from the next one; the tap asks the publisher itself (through the
publication's throttled requests) only when none has come `keyframe_grace` seconds after the
due time. Asking at once would cost the applicant's camera a second keyframe every 3 s.
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
# Sparse: a keyframe asked for and not come within this much media time is asked for again
# (the publication coalesces and rate-limits requests anyway).
KEYFRAME_RETRY_S = 1.0
# Sparse: after a picture, wait this long for the consumer to name its next time (want_next)
# before delivering again unasked, so that a consumer that forgot cannot stall the tap.
SPARSE_WAIT_S = 10.0
# Sparse: a keyframe up to this much media time before a picture's due time may make it, and
# one is asked for only this long after the due time. Their sum covers the recorder's segment
# boundaries (a keyframe every ~3 s, plus a request's round trip), so that a steady identity
# check costs no keyframe of its own while the session is recorded.
KEYFRAME_REUSE_S = 2.0
KEYFRAME_GRACE_S = 1.5


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
        keyframe_reuse: float = KEYFRAME_REUSE_S,
        keyframe_grace: float = KEYFRAME_GRACE_S,
    ) -> None:
        if publication.kind != "video":
            raise ValueError("a decoded tap needs a video publication")
        if fps <= 0:
            raise ValueError("fps must be positive")
        self.publication = publication
        self.interval = 1.0 / fps
        self.decoded = 0  # encoded frames through the decoder
        self.decoded_keyframes = 0
        self.emitted = 0  # pictures handed on
        self.discarded = 0  # pictures replaced before anyone read them
        self.errors = 0
        self.skipped = 0  # encoded frames not decoded (sparse, or waiting for a keyframe)
        self.keyframe_requests = 0  # asked for because a picture was due and none could be made
        self.keyframes_reused = 0  # pictures made from a keyframe that came before its due time
        self.keyframe_reuse = keyframe_reuse
        self.keyframe_grace = keyframe_grace
        # Sparse: the latest keyframe not decoded (nobody wanted a picture when it came).
        self._held: EncodedFrame | None = None
        self._sparse = False
        self._chain = True  # the decoder has every frame since its last keyframe
        self._asked_at: float | None = None  # media time of the last keyframe request
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
        self.subscription.set_filter(self._offered)
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def sparse(self) -> bool:
        return self._sparse

    def want_next(self, media_time: float, *, sparse: bool = False) -> None:
        """No picture is wanted before `media_time` (seconds of media time); with `sparse`,
        no frame before it is decoded either, and the picture comes from a keyframe."""
        self._next_time = media_time
        if self._sparse and not sparse and not self._chain:
            self._ask_keyframe(None)  # dense again: the decoder needs a keyframe first
        if not sparse:
            self._held = None
        self._sparse = sparse

    def _ask_keyframe(self, media_time: float | None) -> None:
        asked = self._asked_at
        since = None if media_time is None or asked is None else media_time - asked
        if since is not None and 0 <= since < KEYFRAME_RETRY_S:
            return  # asked recently; the publisher's answer is on its way
        self._asked_at = media_time
        self.keyframe_requests += 1
        self.subscription.request_keyframe()

    def _offered(self, frame: EncodedFrame) -> bool:
        """Where the frame is offered: a sparse tap's delta frame before the picture is due is
        skipped here as `_run` would skip it, without waking the task for it (29 frames of 30
        at a check every 3 s are such frames)."""
        if not self._sparse or frame.keyframe:
            return True
        due = self._next_time
        # pts / clock rate is float(pts * time_base), without building a Fraction per frame.
        if due is None or frame.pts / frame.codec.clock_rate >= due:
            return True
        self.skipped += 1
        self._chain = False
        return False

    def _decodable(self, frame: EncodedFrame, media_time: float, want: bool) -> bool:
        """Whether to decode this frame; False skips it (and breaks the decoder's chain)."""
        if frame.keyframe:
            if self._sparse and not want:
                self._held = frame  # a later picture due may be made from it
                return False
            return True
        if self._chain and (not self._sparse or want):
            return True
        if want:  # a picture is due and only a keyframe can make one
            due = self._next_time
            if not self._sparse or due is None or media_time >= due + self.keyframe_grace:
                self._ask_keyframe(media_time)
        return False

    def _reusable(self) -> EncodedFrame | None:
        """Sparse, a picture due: the keyframe held, if it came recently enough to make it."""
        held, due = self._held, self._next_time
        if held is None or due is None or not self._sparse:
            return None
        self._held = None
        if float(held.pts * held.time_base) < due - self.keyframe_reuse:
            return None  # too old to stand for the picture due: wait for the next one
        return held

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for frame in self.subscription:
                media_time = float(frame.pts * frame.time_base)
                want = self._next_time is None or media_time >= self._next_time
                held = None
                if not self._decodable(frame, media_time, want):
                    self.skipped += 1
                    self._chain = False
                    held = self._reusable() if want else None
                    if held is None:
                        continue
                    # Decoded out of turn: frames after it were skipped, the chain stays broken.
                    self.keyframes_reused += 1
                    frame, media_time = held, float(held.pts * held.time_base)
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
                if frame.keyframe:
                    self.decoded_keyframes += 1
                    self._chain, self._asked_at = held is None, None
                    self._held = None
                if pictures:
                    # Sparse: the consumer names its next time (want_next) once it has looked.
                    wait = SPARSE_WAIT_S if self._sparse else self.interval
                    self._next_time = media_time + wait
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
