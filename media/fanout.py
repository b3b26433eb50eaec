"""One published track and everything that consumes it: the fan-out point of encoded frames."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from aiortc import RTCDtlsTransport
from aiortc.rtp import RtpPacket

from media.frames import CodecInfo, EncodedFrame
from media.keyframes import DEFAULT_MIN_INTERVAL, KeyframeRequester
from media.rtp_keyframes import KeyframeStart, keyframe_start_for
from media.subscription import DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAMES, Subscription

logger = logging.getLogger(__name__)

# How much of a recent keyframe's stream a new subscriber is given at once: a fifth of a second
# of 90 kHz video (the keyframe and a few frames after it, a burst any jitter buffer absorbs),
# and a bound in packets (about 120 KB).
REPLAY_MAX_TICKS = 18_000
REPLAY_MAX_PACKETS = 100


class PacketSink(Protocol):
    """A subscriber's forwarder: takes the publisher's RTP packets (media/rtp_forwarder.py)."""

    def forward(self, packet: RtpPacket, mime_type: str) -> None: ...


class Publication:
    """An incoming track of one participant, fanned out to subscribers and frame consumers.

    Subscribers' forwarders get every RTP packet (`forward()`); the recorder and identity get
    whole encoded frames through bounded subscriptions (`publish()`). Both are called by the
    receiver tap and never wait, so a slow consumer costs itself frames and nobody else
    anything. Keyframe requests from all of them are coalesced into at most one PLI per
    `keyframe_interval` to the publisher.
    """

    def __init__(
        self,
        participant_id: str,
        kind: str,
        track_id: str,
        *,
        send_keyframe_request: Callable[[], None] | None = None,
        keyframe_interval: float = DEFAULT_MIN_INTERVAL,
        codec: CodecInfo | None = None,
    ) -> None:
        self.participant_id = participant_id
        self.kind = kind
        self.track_id = track_id
        # The DTLS transport its packets arrive on (media/peer.py sets it): subscribers'
        # forwarders are routed from its core Router (media/core.py).
        self.transport: RTCDtlsTransport | None = None
        # The negotiated codec (from the SDP answer); the frames' own codec wins later.
        self.codec = codec
        # What arrived: counted from RTP packets once they flow through forward() (marker bits
        # for video frames), from published frames otherwise.
        self.packets = 0
        self.frames = 0
        self.bytes = 0
        self.keyframes = 0
        self._keyframe_start: KeyframeStart | None = None
        self._keyframe_mime = ""
        self._on_demand: Callable[[bool], None] | None = None
        # Video: the packets since the latest keyframe began, while it is recent.
        self._since_keyframe: list[RtpPacket] | None = None
        self.first_arrival: float | None = None
        self.last_arrival: float | None = None
        self._subscriptions: set[Subscription] = set()
        # A tuple, rebuilt on change: it is walked for every packet.
        self._forwarders: tuple[PacketSink, ...] = ()
        # Told when forwarders come or go (media/continuation.py disarms the C core then).
        self.forwarders_changed: Callable[[], None] | None = None
        self._closed = False
        self._on_close: list[Callable[[Publication], None]] = []
        self._keyframes = KeyframeRequester(
            send_keyframe_request or (lambda: None), min_interval=keyframe_interval
        )

    def __repr__(self) -> str:
        return f"Publication({self.participant_id!r}, {self.kind}, {self.track_id!r})"

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def subscriptions(self) -> list[Subscription]:
        return list(self._subscriptions)

    @property
    def forwarders(self) -> tuple[PacketSink, ...]:
        return self._forwarders

    def replaying_nothing(self) -> bool:
        """No recent keyframe is kept for new subscribers (forward() has nothing to keep)."""
        return self._since_keyframe is None

    def forwarded_in_core(self, ssrc: int, mime_type: str) -> bool:
        """Whether the C core forwards `ssrc`'s packets to every forwarder, so that forward()
        would only count them (media/continuation.py)."""
        for forwarder in self._forwarders:
            in_core = getattr(forwarder, "forwards_in_core", None)
            if in_core is None or not in_core(ssrc, mime_type):
                return False
        return True

    @property
    def keyframe_requests_sent(self) -> int:
        return self._keyframes.sent

    @property
    def frames_wanted(self) -> bool:
        """Whether anyone consumes whole frames (the recorder, identity): else the receiver
        need not reassemble them."""
        return bool(self._subscriptions)

    def on_demand(self, listener: Callable[[bool], None]) -> None:
        """Tell `listener` now and whenever `frames_wanted` changes."""
        self._on_demand = listener
        listener(self.frames_wanted)

    def _demand_changed(self) -> None:
        if self._on_demand is not None:
            self._on_demand(self.frames_wanted)

    def publish(self, frame: EncodedFrame) -> None:
        if self._closed:
            return
        if not self.packets:
            self.frames += 1
            self.bytes += len(frame.data)
            if frame.keyframe and self.kind == "video":
                self.keyframes += 1
                self._keyframes.keyframe_seen()
        if self.first_arrival is None:
            self.first_arrival = frame.arrival
        self.last_arrival = frame.arrival
        if self.codec is not frame.codec and self.codec != frame.codec:
            self.codec = frame.codec
        for subscription in list(self._subscriptions):
            subscription.offer(self, frame)

    def forward(self, packet: RtpPacket, mime_type: str) -> None:
        """One RTP packet of this track (after SRTP and RTX) to every subscriber's forwarder."""
        self.packets += 1
        self.bytes += len(packet.payload)
        if self.kind != "video":
            self.frames += 1
        else:
            self.frames += packet.marker
            if mime_type is not self._keyframe_mime:
                self._keyframe_start = keyframe_start_for(mime_type)
                self._keyframe_mime = mime_type
            assert self._keyframe_start is not None
            if self._keyframe_start(packet.payload):
                self.keyframes += 1
                self._keyframes.keyframe_seen()
                self._since_keyframe = [packet]
            elif self._since_keyframe is not None:
                self._keep_since_keyframe(packet)
        for forwarder in self._forwarders:
            try:
                forwarder.forward(packet, mime_type)
            except Exception:
                # One subscriber's failure must not cost the others their packet.
                logger.exception("forwarding to %r failed", forwarder)

    def add_forwarder(self, forwarder: PacketSink) -> None:
        """Forward packets to `forwarder` from now on; video asks the publisher for a keyframe."""
        if self._closed or forwarder in self._forwarders:
            return
        self._forwarders = (*self._forwarders, forwarder)
        if self.forwarders_changed is not None:
            self.forwarders_changed()
        if self.kind != "video":
            return
        recent = self._since_keyframe
        if recent:
            # The keyframe that just went by, and what followed it: a subscriber that joins
            # a moment after the publisher started (the usual case) has a picture at once
            # instead of after a keyframe request's round trip.
            for packet in recent:
                forwarder.forward(packet, self._keyframe_mime)
        else:
            # A new subscriber can only start decoding at a keyframe: ask now rather than
            # waiting for the publisher's next periodic one.
            self.request_keyframe()

    def _keep_since_keyframe(self, packet: RtpPacket) -> None:
        recent = self._since_keyframe
        assert recent is not None
        age = (packet.timestamp - recent[0].timestamp) & 0xFFFFFFFF
        if len(recent) >= REPLAY_MAX_PACKETS or age > REPLAY_MAX_TICKS:
            self._since_keyframe = None  # too old to replay: a new subscriber asks instead
        else:
            recent.append(packet)

    def remove_forwarder(self, forwarder: PacketSink) -> None:
        self._forwarders = tuple(f for f in self._forwarders if f is not forwarder)
        if self.forwarders_changed is not None:
            self.forwarders_changed()

    def subscribe(
        self,
        subscription: Subscription | None = None,
        *,
        max_frames: int = DEFAULT_MAX_FRAMES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        name: str = "",
    ) -> Subscription:
        """Attach a (new or given) subscription; video asks the publisher for a keyframe."""
        if subscription is None:
            subscription = Subscription(max_frames=max_frames, max_bytes=max_bytes, name=name)
        if self._closed:
            subscription._detached(self)
            return subscription
        self._subscriptions.add(subscription)
        subscription._attach(self)
        if len(self._subscriptions) == 1:
            self._demand_changed()
        if self.kind == "video":
            # A new subscriber can only start decoding at a keyframe: ask now rather than
            # waiting for the publisher's next periodic one.
            self.request_keyframe()
        return subscription

    def request_keyframe(self) -> None:
        if not self._closed and self.kind == "video":
            self._keyframes.request()

    def on_close(self, callback: Callable[[Publication], None]) -> None:
        if self._closed:
            callback(self)
        else:
            self._on_close.append(callback)

    def close(self) -> None:
        """The track ended: detach every subscription (forwarding ones end with it)."""
        if self._closed:
            return
        self._closed = True
        self._keyframes.cancel()
        self._forwarders = ()
        if self.forwarders_changed is not None:
            self.forwarders_changed()
        self._since_keyframe = None
        subscriptions, self._subscriptions = self._subscriptions, set()
        for subscription in subscriptions:
            subscription._detached(self)
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            callback(self)

    def _detach(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.discard(subscription)
            if not self._subscriptions:
                self._demand_changed()
