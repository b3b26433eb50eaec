"""Keyframe requests arriving at a subscriber's RTCRtpSender, relayed to the publisher.

aiortc 1.16.0: `RTCRtpSender._handle_rtcp_packet()` answers RTCP PLI and FIR by calling
`self._send_keyframe()`, which only sets a flag for its encoder. A forwarded track has no
encoder, so on the senders carrying one that method is replaced, per instance, by a call to
the track's `request_keyframe()`. Senders carrying anything else behave as before.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from aiortc import RTCRtpSender

from media import compat

_MARK = "_notarylink_keyframe_relay"


@runtime_checkable
class KeyframeRelay(Protocol):
    def request_keyframe(self) -> None: ...


def relay_keyframe_requests(sender: RTCRtpSender) -> None:
    """Route PLI/FIR received by `sender` to its track when the track can relay them."""
    if getattr(sender, _MARK, False):
        return
    original = getattr(sender, "_send_keyframe", None)
    if not callable(original):
        raise compat.AiortcVersionError("RTCRtpSender has no _send_keyframe to intercept")

    def send_keyframe() -> None:
        # Looked up on each request: replaceTrack() may have changed the track.
        track = sender.track
        if isinstance(track, KeyframeRelay):
            track.request_keyframe()
        else:
            original()

    # Instance attribute shadows the method for this sender only.
    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]
    setattr(sender, _MARK, True)
