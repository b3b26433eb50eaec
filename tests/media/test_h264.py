"""H.264, when the publisher prefers it: forwarded as H.264, decoded by the subscriber."""

from __future__ import annotations

import pytest
from aiortc import RTCRtpSender

from media import ParticipantPeer
from tests.media.harness import Client, PatternTrack, Session, rtc_configuration, wait_for

pytestmark = pytest.mark.unit


async def test_h264_publisher_reaches_the_subscriber_as_h264(session: Session) -> None:
    # The publisher's own encoder makes H.264 (as a browser preferring it would send).
    publisher = Client("alice")
    peer = ParticipantPeer(
        "alice", rtc_configuration(), on_negotiation_needed=lambda _: publisher.renegotiate_soon()
    )
    publisher.peer = peer
    session.clients["alice"] = publisher
    session.room.add(peer)
    transceiver = publisher.pc.addTransceiver(PatternTrack(), direction="sendonly")
    h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
    transceiver.setCodecPreferences(h264)
    await publisher.offer()
    await wait_for(lambda: bool(peer.publications), 10, "the publication")
    (publication,) = peer.publications
    assert publication.codec is not None and publication.codec.mime_type == "video/H264"

    viewer = await session.join("bob", [])  # offers VP8 and H.264: gets the publisher's codec
    await wait_for(lambda: any(r.decoded >= 20 for r in viewer.received_of("video")), 20, "video")
    (forwarded,) = session.room.get("bob").subscriptions.values()  # type: ignore[union-attr]
    assert forwarded.publication.codec == publication.codec
