"""A subscriber's copy of a publication, as the track of one server-side RTCRtpSender.

The sender gets the transceiver, the negotiation, SSRCs, RTCP and the stats from aiortc as
usual, but its packets come from an RtpForwarder (media/rtp_forwarder.py) that rewrites the
publisher's packets as they arrive: no frame is reassembled, packetized again or encoded.
aiortc's sender loop still calls recv(); it waits here until the track ends.
"""

from __future__ import annotations

import asyncio

import av
from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpSendParameters

from media.fanout import Publication
from media.rtp_forwarder import RtpForwarder

_MARK = "_notarylink_forwarded"


class ForwardedTrack(MediaStreamTrack):
    """Packets of one publication for one subscriber's sender."""

    def __init__(self, publication: Publication) -> None:
        super().__init__()
        self.kind = publication.kind
        self.publication = publication
        self.keyframe_requests = 0
        self._forwarder: RtpForwarder | None = None
        self._ended = asyncio.Event()
        publication.on_close(lambda _: self.stop())

    @property
    def forwarder(self) -> RtpForwarder | None:
        """None until the sender has started (its transport is up by then)."""
        return self._forwarder

    def bind(self, sender: RTCRtpSender) -> None:
        """Forward through `sender` once aiortc starts it with the negotiated parameters."""
        if getattr(sender, _MARK, False):
            return
        setattr(sender, _MARK, True)
        original_send = sender.send

        async def send(parameters: RTCRtpSendParameters) -> None:
            await original_send(parameters)
            self._start(sender, parameters)

        # Instance attribute shadows the method for this sender only.
        sender.send = send  # type: ignore[method-assign]

    def _start(self, sender: RTCRtpSender, parameters: RTCRtpSendParameters) -> None:
        if self.readyState != "live" or self._forwarder is not None:
            return
        forwarder = RtpForwarder(
            sender, parameters, self.kind, source_transport=self.publication.transport
        )
        # NACKs from the subscriber are answered from the forwarder's history.
        sender._retransmit = forwarder.retransmit  # type: ignore[method-assign]
        self._forwarder = forwarder
        # Forwarding starts now, not when the track was created: packets during ICE/DTLS
        # setup could not be sent, and the keyframe requested now reaches a subscriber that
        # can already receive it.
        self.publication.add_forwarder(forwarder)

    async def recv(self) -> av.Packet:
        # Nothing comes this way: the forwarder sends around aiortc's sender loop.
        await self._ended.wait()
        raise MediaStreamError

    def request_keyframe(self) -> None:
        """The subscriber lost pictures (PLI/FIR at its sender): ask the publisher."""
        self.keyframe_requests += 1
        self.publication.request_keyframe()

    def stop(self) -> None:
        super().stop()
        self._ended.set()
        if self._forwarder is not None:
            self.publication.remove_forwarder(self._forwarder)
            self._forwarder.close()
