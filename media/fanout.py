"""One published track and everything that consumes it: the fan-out point of encoded frames."""

from __future__ import annotations

from collections.abc import Callable

from media.frames import CodecInfo, EncodedFrame
from media.keyframes import DEFAULT_MIN_INTERVAL, KeyframeRequester
from media.subscription import DEFAULT_MAX_BYTES, DEFAULT_MAX_FRAMES, Subscription


class Publication:
    """An incoming track of one participant, fanned out to bounded subscriptions.

    `publish()` is called by the receiver tap for every encoded frame; it never waits, so a
    slow subscriber costs itself frames and nobody else anything. Keyframe requests from all
    subscribers are coalesced into at most one PLI per `keyframe_interval` to the publisher.
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
        # The negotiated codec (from the SDP answer); the frames' own codec wins later.
        self.codec = codec
        self.frames = 0
        self.bytes = 0
        self.keyframes = 0
        self.first_arrival: float | None = None
        self.last_arrival: float | None = None
        self._subscriptions: set[Subscription] = set()
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
    def keyframe_requests_sent(self) -> int:
        return self._keyframes.sent

    def publish(self, frame: EncodedFrame) -> None:
        if self._closed:
            return
        self.frames += 1
        self.bytes += len(frame.data)
        if self.first_arrival is None:
            self.first_arrival = frame.arrival
        self.last_arrival = frame.arrival
        if self.codec != frame.codec:
            self.codec = frame.codec
        if frame.keyframe and self.kind == "video":
            self.keyframes += 1
            self._keyframes.keyframe_seen()
        for subscription in list(self._subscriptions):
            subscription.offer(self, frame)

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
        subscriptions, self._subscriptions = self._subscriptions, set()
        for subscription in subscriptions:
            subscription._detached(self)
        callbacks, self._on_close = self._on_close, []
        for callback in callbacks:
            callback(self)

    def _detach(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
