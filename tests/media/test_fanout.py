"""A publication's packet side: every forwarder gets every packet, counters, and a subscriber
that joins just after a keyframe is given that keyframe instead of waiting for the next."""

from __future__ import annotations

import pytest
from aiortc.rtp import RtpPacket

from media.fanout import REPLAY_MAX_TICKS, Publication

pytestmark = pytest.mark.unit

KEY = bytes([0x10, 0x00, 0x00, 0x9D, 0x01, 0x2A])  # VP8: start of a keyframe
DELTA = bytes([0x10, 0x01, 0x00, 0x00])  # VP8: start of a delta frame
MORE = bytes([0x00, 0xAA, 0xBB])  # VP8: a later packet of a frame


class _Sink:
    def __init__(self) -> None:
        self.got: list[int] = []

    def forward(self, packet: RtpPacket, mime_type: str) -> None:
        assert mime_type == "video/VP8"
        self.got.append(packet.sequence_number)


def _packet(sequence: int, payload: bytes, timestamp: int, marker: int = 0) -> RtpPacket:
    return RtpPacket(
        payload_type=96,
        sequence_number=sequence,
        timestamp=timestamp,
        marker=marker,
        payload=payload,
    )


def _publication() -> tuple[Publication, list[int]]:
    requests: list[int] = []
    publication = Publication(
        "applicant", "video", "cam", send_keyframe_request=lambda: requests.append(1)
    )
    return publication, requests


async def test_every_forwarder_gets_every_packet_and_frames_are_counted() -> None:
    publication, _ = _publication()
    first, second = _Sink(), _Sink()
    publication.add_forwarder(first)
    publication.add_forwarder(second)
    publication.add_forwarder(first)  # once only
    stream = [_packet(1, KEY, 0), _packet(2, MORE, 0, 1), _packet(3, DELTA, 3000, 1)]
    for packet in stream:
        publication.forward(packet, "video/VP8")
    assert first.got == second.got == [1, 2, 3]
    assert (publication.packets, publication.frames, publication.keyframes) == (3, 2, 1)
    publication.remove_forwarder(second)
    publication.forward(_packet(4, DELTA, 6000, 1), "video/VP8")
    assert first.got[-1] == 4 and second.got[-1] == 3


async def test_a_late_subscriber_gets_the_recent_keyframe_at_once_without_asking() -> None:
    publication, requests = _publication()
    for packet in [_packet(1, KEY, 0), _packet(2, MORE, 0, 1), _packet(3, DELTA, 3000, 1)]:
        publication.forward(packet, "video/VP8")
    late = _Sink()
    publication.add_forwarder(late)
    assert late.got == [1, 2, 3] and not requests
    publication.forward(_packet(4, DELTA, 6000, 1), "video/VP8")
    assert late.got == [1, 2, 3, 4]


async def test_an_old_keyframe_is_not_replayed_a_new_one_is_asked_for() -> None:
    publication, requests = _publication()
    publication.forward(_packet(1, KEY, 0, 1), "video/VP8")
    sequence, timestamp = 2, 0
    while timestamp <= REPLAY_MAX_TICKS:
        timestamp += 3000
        publication.forward(_packet(sequence, DELTA, timestamp, 1), "video/VP8")
        sequence += 1
    late = _Sink()
    publication.add_forwarder(late)
    assert late.got == [] and requests == [1]
