"""Keyframe requests: coalesced upstream, relayed from subscribers, asked for on join."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiortc import RTCRtpSender

from media.keyframes import KeyframeRequester
from tests.media.harness import Client, PatternTrack, Session, wait_for

pytestmark = pytest.mark.unit


async def test_requests_inside_the_interval_are_merged_into_one_deferred() -> None:
    sent: list[float] = []
    requester = KeyframeRequester(lambda: sent.append(time.monotonic()), min_interval=0.2)

    requester.request()
    requester.request()
    requester.request()
    assert len(sent) == 1 and requester.pending
    await asyncio.sleep(0.3)
    assert len(sent) == 2 and not requester.pending
    assert sent[1] - sent[0] >= 0.19
    assert requester.requested == 3 and requester.sent == 2


async def test_a_keyframe_arriving_meanwhile_answers_the_deferred_request() -> None:
    sent: list[float] = []
    requester = KeyframeRequester(lambda: sent.append(time.monotonic()), min_interval=0.2)

    requester.request()
    requester.request()
    requester.keyframe_seen()
    await asyncio.sleep(0.3)
    assert len(sent) == 1


def _video_sender(client: Client) -> RTCRtpSender:
    return next(s for s in client.pc.getSenders() if s.track is not None and s.kind == "video")


async def _publisher(
    session: Session, count_calls: Callable[[object, str], list[int]]
) -> tuple[Client, list[int]]:
    """A participant whose video aiortc encodes: keyframes come only when asked for."""
    publisher = await session.join("applicant", [PatternTrack()])
    requests = count_calls(_video_sender(publisher), "_send_keyframe")
    assert publisher.peer is not None
    await wait_for(
        lambda: (
            bool(publisher.peer and publisher.peer.publications)
            and publisher.peer.publications[0].frames > 30
        ),
        timeout=5,
        what="the publisher's video at the server",
    )
    return publisher, requests


async def test_late_subscriber_starts_at_a_keyframe_within_a_second(
    session: Session, count_calls: Callable[[object, str], list[int]]
) -> None:
    publisher, requests = await _publisher(session, count_calls)
    assert publisher.peer is not None
    (publication,) = publisher.peer.publications
    keyframes_before = publication.keyframes

    joined = time.monotonic()
    viewer = await session.join("notary", [], tap=True)
    await wait_for(
        lambda: any(r.frames for r in viewer.received_of("video")),
        timeout=3,
        what="the first forwarded frame",
    )
    (record,) = viewer.received_of("video")
    assert record.first_at is not None
    # Without a relayed request the next keyframe would be 3000 frames away.
    assert record.first_at - joined < 1.0
    assert record.frames[0].keyframe
    assert requests[0] >= 1
    assert publication.keyframes > keyframes_before
    await wait_for(lambda: record.decoded >= 10, timeout=3, what="decodable frames")


async def test_subscriber_picture_loss_reaches_the_publisher(
    session: Session, count_calls: Callable[[object, str], list[int]]
) -> None:
    _, requests = await _publisher(session, count_calls)
    viewer = await session.join("notary", [], tap=True)
    await wait_for(
        lambda: any(len(r.frames) > 20 for r in viewer.received_of("video")),
        timeout=3,
        what="forwarded video",
    )
    (record,) = viewer.received_of("video")
    (track_id,) = [t for t, r in viewer.received.items() if r.kind == "video"]
    receiver = viewer.receivers[track_id]
    # Past the coalescing interval of the join's own request.
    await asyncio.sleep(0.6)
    before_requests = requests[0]
    before_keyframes = sum(f.keyframe for f in record.frames)

    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)

    await wait_for(lambda: requests[0] > before_requests, timeout=2, what="PLI at the publisher")
    await wait_for(
        lambda: sum(f.keyframe for f in record.frames) > before_keyframes,
        timeout=2,
        what="a fresh keyframe at the viewer",
    )
    assert viewer.peer is not None
    (forwarded,) = [t for t in viewer.peer.subscriptions.values() if t.kind == "video"]
    assert forwarded.keyframe_requests >= 1
