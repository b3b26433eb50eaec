"""A bounded queue of encoded frames for one consumer (the recorder, identity's decoded tap).

The producer never waits: when the queue is full the frame is dropped and counted. A consumer
that keeps up by construction can take frames as they are offered instead (`deliver_to`, the
recorder's segmenter): no queue, no task switch per frame. A video stream that lost a frame
cannot be decoded until its next keyframe, so after a drop (and at the start) that stream's
delta frames are skipped until a keyframe, which is requested.

A consumer that iterates but would skip most frames anyway (a sparse decoded tap: one picture
every few seconds) can say which it would take (`set_filter`): the others are refused where
they are offered, without waking its task for each.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from media.frames import EncodedFrame

DEFAULT_MAX_FRAMES = 64
DEFAULT_MAX_BYTES = 4 * 1024 * 1024


class SubscriptionClosed(Exception):
    """The subscription is closed and drained: no frame will come."""


class KeyframeSource(Protocol):
    """What a subscription needs from a publication it is attached to."""

    kind: str

    def request_keyframe(self) -> None: ...

    def _detach(self, subscription: Subscription) -> None: ...


class Subscription:
    """Frames from one or more publications, in arrival order, bounded in count and bytes."""

    def __init__(
        self,
        *,
        max_frames: int = DEFAULT_MAX_FRAMES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        end_with_sources: bool = True,
        name: str = "",
    ) -> None:
        if max_frames < 1 or max_bytes < 1:
            raise ValueError("a subscription needs room for at least one frame")
        self.name = name
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        # A decoded tap's subscription ends with its publication; the recorder's participant
        # stream outlives any one track and is closed by its owner.
        self.end_with_sources = end_with_sources
        self.delivered = 0
        self.dropped = 0  # frames refused because the queue was full
        self.skipped = 0  # video delta frames refused while waiting for a keyframe
        self.filtered = 0  # frames the consumer's filter refused (set_filter)
        self.keyframe_requests = 0
        self._frames: deque[EncodedFrame] = deque()
        self._bytes = 0
        # Push mode (deliver_to): frames go straight to the consumer, nothing is queued.
        self._consumer: Callable[[EncodedFrame], None] | None = None
        self._on_end: Callable[[], None] | None = None
        self._accept: Callable[[EncodedFrame], bool] | None = None
        self._ready = asyncio.Event()
        self._closed = False
        # Per source: True while its video needs a keyframe before anything decodable.
        self._sources: dict[KeyframeSource, bool] = {}

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued_frames(self) -> int:
        return len(self._frames)

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    @property
    def sources(self) -> list[KeyframeSource]:
        return list(self._sources)

    def _attach(self, source: KeyframeSource) -> None:
        self._sources[source] = source.kind == "video"

    def _detached(self, source: KeyframeSource) -> None:
        self._sources.pop(source, None)
        if self.end_with_sources and not self._sources:
            self.close()

    def offer(self, source: KeyframeSource, frame: EncodedFrame) -> bool:
        """Queue a frame without waiting; False if it was dropped or skipped."""
        if self._closed or source not in self._sources:
            return False
        waiting = self._sources[source]
        if waiting and not frame.keyframe:
            self.skipped += 1
            return False
        accept = self._accept
        if accept is not None and not accept(frame):
            self.filtered += 1
            return False
        consumer = self._consumer
        if consumer is not None:
            if waiting:
                self._sources[source] = False
            self.delivered += 1
            consumer(frame)
            return True
        if len(self._frames) >= self.max_frames or self._bytes + len(frame.data) > self.max_bytes:
            self.dropped += 1
            if frame.kind == "video":
                self._sources[source] = True
                self.keyframe_requests += 1
                source.request_keyframe()
            return False
        if waiting:
            self._sources[source] = False
        self._frames.append(frame)
        self._bytes += len(frame.data)
        self._ready.set()
        return True

    def deliver_to(
        self, consumer: Callable[[EncodedFrame], None], on_end: Callable[[], None]
    ) -> None:
        """From now on, call `consumer` with each frame as it is offered, instead of queueing it
        (frames already queued first); `on_end` once the subscription closes.

        The consumer runs inside the publisher's packet handling: it must be quick and must
        not raise. For a consumer that keeps up by construction (the recorder's segmenter
        muxes a frame in microseconds) this saves a queue and a task switch per frame; the
        bounds on count and bytes no longer apply. Iterating is not possible afterwards.
        """
        if self._consumer is not None:
            raise RuntimeError("this subscription already delivers to a consumer")
        self._consumer = consumer
        while self._frames:
            frame = self._frames.popleft()
            self._bytes -= len(frame.data)
            self.delivered += 1
            consumer(frame)
        if self._closed:
            on_end()
        else:
            self._on_end = on_end

    def set_filter(self, accept: Callable[[EncodedFrame], bool] | None) -> None:
        """Offer only frames for which `accept(frame)` is true (None: every frame).

        `accept` runs inside the publisher's packet handling, like a push consumer: it must be
        quick and must not raise. It sees only frames past the wait for a keyframe, and a frame
        it refuses leaves that wait as it was (a refused keyframe does not end it).
        """
        self._accept = accept

    def request_keyframe(self) -> None:
        """Ask every attached video publication for a keyframe (throttled upstream)."""
        for source in self._sources:
            if source.kind == "video":
                self.keyframe_requests += 1
                source.request_keyframe()

    def get_nowait(self) -> EncodedFrame | None:
        if not self._frames:
            if self._closed:
                raise SubscriptionClosed
            return None
        frame = self._frames.popleft()
        self._bytes -= len(frame.data)
        self.delivered += 1
        return frame

    async def get(self) -> EncodedFrame:
        while True:
            frame = self.get_nowait()
            if frame is not None:
                return frame
            self._ready.clear()
            await self._ready.wait()

    def close(self) -> None:
        """Stop receiving; frames already queued can still be read."""
        if self._closed:
            return
        self._closed = True
        for source in list(self._sources):
            source._detach(self)
        self._sources.clear()
        self._ready.set()
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            on_end()

    def __aiter__(self) -> AsyncIterator[EncodedFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[EncodedFrame]:
        while True:
            try:
                yield await self.get()
            except SubscriptionClosed:
                return
