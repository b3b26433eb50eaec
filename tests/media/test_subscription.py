"""Bounded fan-out: a subscriber that does not read costs itself frames, never memory."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from media import CodecInfo, EncodedFrame, Publication, Subscription, SubscriptionClosed

pytestmark = pytest.mark.unit

VP8 = CodecInfo("video/VP8", 90000)
OPUS = CodecInfo("audio/opus", 48000, 2)
KEY = b"\x10\x02\x00\x9d\x01\x2a" + bytes(2000)  # VP8 key frame tag and start code
DELTA = b"\x11\x02\x00" + bytes(500)


def video(index: int, keyframe: bool = False) -> EncodedFrame:
    data = KEY if keyframe else DELTA
    return EncodedFrame("video", VP8, data, index * 3000, keyframe, float(index))


def audio(index: int) -> EncodedFrame:
    return EncodedFrame("audio", OPUS, bytes(80), index * 960, True, float(index))


class Requests:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def publication(kind: str = "video", interval: float = 0.0) -> tuple[Publication, Requests]:
    requests = Requests()
    pub = Publication(
        "p", kind, "t", send_keyframe_request=requests, keyframe_interval=interval, codec=VP8
    )
    return pub, requests


async def test_unread_subscriber_drops_and_counts_instead_of_growing() -> None:
    pub, _ = publication()
    stuck = pub.subscribe(max_frames=8)
    reader = pub.subscribe(max_frames=8)

    def run(frames: int) -> None:
        for i in range(frames):
            pub.publish(video(i, keyframe=i % 30 == 0))
            while reader.get_nowait() is not None:
                pass

    run(1000)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    run(5000)
    gc.collect()
    growth = sum(
        stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename")
    )
    tracemalloc.stop()

    assert stuck.queued_frames == 8
    assert stuck.delivered == 0
    assert stuck.dropped + stuck.skipped + stuck.queued_frames == 6000
    assert stuck.dropped > 0 and stuck.skipped > 0
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 5000 frames"
    # The reader beside it got everything.
    assert reader.delivered == 6000 and reader.dropped == 0


async def test_queue_is_bounded_in_bytes_too() -> None:
    pub, _ = publication()
    sub = pub.subscribe(max_frames=1000, max_bytes=10_000)
    for i in range(100):
        pub.publish(video(i, keyframe=True))
    assert sub.queued_bytes <= 10_000
    assert sub.queued_frames == 10_000 // len(KEY)
    assert sub.dropped == 100 - sub.queued_frames


async def test_video_waits_for_a_keyframe_at_start_and_after_a_drop() -> None:
    pub, requests = publication()
    sub = pub.subscribe(max_frames=3)
    assert requests.count == 1  # joining asks for a keyframe

    pub.publish(video(0))  # delta before any keyframe: undecodable, skipped
    assert sub.skipped == 1 and sub.queued_frames == 0
    for i in range(1, 5):  # key + 2 deltas fill it; the third delta is dropped
        pub.publish(video(i, keyframe=i == 1))
    assert sub.queued_frames == 3 and sub.dropped == 1
    assert requests.count == 2  # the drop asked for a keyframe

    assert [sub.get_nowait() for _ in range(3)] != [None] * 3
    pub.publish(video(5))  # room again, but this delta follows a lost one: skipped
    assert sub.queued_frames == 0 and sub.skipped == 2
    pub.publish(video(6, keyframe=True))
    pub.publish(video(7))
    frames = [sub.get_nowait(), sub.get_nowait()]
    assert [f.pts for f in frames if f] == [6 * 3000, 7 * 3000]


async def test_audio_needs_no_keyframe_and_requests_none() -> None:
    pub, requests = publication("audio")
    sub = pub.subscribe(max_frames=2)
    for i in range(5):
        pub.publish(audio(i))
    assert sub.queued_frames == 2 and sub.dropped == 3
    assert requests.count == 0


async def test_closing_the_publication_ends_its_forwarding_subscriptions() -> None:
    pub, _ = publication()
    forwarding = pub.subscribe()
    recording = Subscription(end_with_sources=False)
    pub.subscribe(recording)
    pub.publish(video(0, keyframe=True))
    pub.close()

    assert (await forwarding.get()).pts == 0  # queued frames still drain
    with pytest.raises(SubscriptionClosed):
        await forwarding.get()
    assert not recording.closed and recording.sources == []
    assert pub.subscriptions == []


async def test_deliver_to_hands_queued_frames_first_then_each_offer_at_once() -> None:
    pub, _ = publication()
    stream = pub.subscribe(max_frames=4)
    pub.publish(video(0, keyframe=True))
    pub.publish(video(1))
    got: list[int] = []
    ended: list[bool] = []
    stream.deliver_to(lambda frame: got.append(frame.pts), lambda: ended.append(True))
    assert got == [0, 3000] and stream.queued_frames == 0
    for i in range(2, 50):  # far beyond max_frames: nothing is queued, nothing dropped
        pub.publish(video(i))
    assert got == [i * 3000 for i in range(50)]
    assert stream.dropped == 0 and stream.delivered == 50
    assert not ended
    stream.close()
    assert ended == [True]
    pub.publish(video(50))
    assert len(got) == 50


async def test_deliver_to_still_starts_video_at_a_keyframe() -> None:
    pub, _ = publication()
    stream = pub.subscribe()
    got: list[bool] = []
    stream.deliver_to(lambda frame: got.append(frame.keyframe), lambda: None)
    pub.publish(video(0))
    pub.publish(video(1))
    pub.publish(video(2, keyframe=True))
    pub.publish(video(3))
    assert got == [True, False] and stream.skipped == 2


async def test_deliver_to_a_closed_subscription_ends_at_once_and_only_once() -> None:
    pub, _ = publication()
    stream = pub.subscribe()
    pub.publish(video(0, keyframe=True))
    stream.close()
    got: list[int] = []
    ended: list[bool] = []
    stream.deliver_to(lambda frame: got.append(frame.pts), lambda: ended.append(True))
    assert got == [0] and ended == [True]  # what was queued before the close still comes
    stream.close()
    assert ended == [True]
    with pytest.raises(RuntimeError):
        stream.deliver_to(lambda frame: None, lambda: None)


async def test_a_filter_refuses_frames_where_offered_and_keeps_the_wait_for_a_keyframe() -> None:
    pub, _ = publication()
    stream = pub.subscribe(max_frames=4)
    stream.set_filter(lambda frame: frame.keyframe or frame.pts >= 30000)
    pub.publish(video(0))  # waiting for a keyframe: skipped before the filter sees it
    for i in range(1, 10):
        pub.publish(video(i, keyframe=i == 3))
    assert [stream.get_nowait().pts for _ in range(stream.queued_frames)] == [9000]  # type: ignore[union-attr]
    assert stream.skipped == 3 and stream.filtered == 6 and stream.dropped == 0
    for i in range(10, 14):  # accepted from pts 30000 on, up to max_frames
        pub.publish(video(i))
    assert stream.queued_frames == 4
    stream.set_filter(lambda frame: False)
    pub.publish(video(14, keyframe=True))
    assert stream.filtered == 7 and stream.dropped == 0  # refused, not counted as a drop
    stream.set_filter(None)
    pub.publish(video(15))
    assert stream.dropped == 1  # the queue is full again
