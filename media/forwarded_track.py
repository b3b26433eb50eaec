"""A subscriber's copy of a publication: a MediaStreamTrack whose recv() returns av.Packet.

aiortc's RTCRtpSender packetizes an av.Packet with its codec's pack() (no encoder runs), so
handing it the publisher's encoded frames forwards them byte for byte.
"""

from __future__ import annotations

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from media.fanout import Publication
from media.subscription import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FRAMES,
    Subscription,
    SubscriptionClosed,
)


class ForwardedTrack(MediaStreamTrack):
    """Encoded frames of one publication for one subscriber's sender."""

    def __init__(
        self,
        publication: Publication,
        *,
        max_frames: int = DEFAULT_MAX_FRAMES,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        super().__init__()
        self.kind = publication.kind
        self.publication = publication
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._subscription: Subscription | None = None

    @property
    def subscription(self) -> Subscription | None:
        """None until the sender first reads (the transport is up by then)."""
        return self._subscription

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self._subscription is None:
            # Subscribe on the sender's first read, not when the track is created: frames
            # queued during ICE/DTLS setup would be stale, and the keyframe requested now
            # reaches a subscriber that can already receive it.
            self._subscription = self.publication.subscribe(
                max_frames=self._max_frames, max_bytes=self._max_bytes, name=self.id
            )
        try:
            frame = await self._subscription.get()
        except SubscriptionClosed:
            self.stop()
            raise MediaStreamError from None
        return frame.to_packet()

    def request_keyframe(self) -> None:
        """The subscriber lost pictures (PLI/FIR at its sender): ask the publisher."""
        if self._subscription is not None:
            self._subscription.keyframe_requests += 1
        self.publication.request_keyframe()

    def stop(self) -> None:
        super().stop()
        if self._subscription is not None:
            self._subscription.close()
