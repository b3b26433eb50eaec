"""Live matching on real video frames: events, scores, person change, schedule."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable

import cv2
import numpy as np
import pytest

from identity.consent import Consent, ConsentError
from identity.faces import FaceBox, FaceWorker, Image, detect
from identity.id_document import IdFace
from identity.matcher import (
    CheckKind,
    EventKind,
    Frame,
    IdentityEvent,
    LiveMatcher,
    MatcherConfig,
    consistent_face,
)
from identity.policy import MatchPolicy
from tests.identity.conftest import astronaut, face_path, grace_hopper, jpeg_bytes, make_consent

pytestmark = pytest.mark.unit


def _matcher(
    reference: IdFace, worker: FaceWorker, events: list[IdentityEvent], **config: float
) -> LiveMatcher:
    return LiveMatcher(
        reference.template,
        make_consent(),
        worker=worker,
        on_event=events.append,
        config=MatcherConfig(**config),  # type: ignore[arg-type]
    )


def _at(frames: list[Frame], t: float) -> Frame:
    return min(frames, key=lambda f: abs(f.media_time - t))


async def test_clip_frames_match_his_id_photo_and_not_obamas(
    clip_frames: list[Frame], id_faces: Callable[[str], IdFace], worker: FaceWorker
) -> None:
    # Lin-Manuel Miranda faces the camera between 2.9 s and 7.0 s of the clip.
    sample = [_at(clip_frames, t) for t in (3.0, 4.0, 5.0, 6.0, 6.8)]
    for id_name, expected in (
        ("lin-manuel-miranda.png", EventKind.MATCH),
        ("obama.jpg", EventKind.MISMATCH),
    ):
        events: list[IdentityEvent] = []
        matcher = _matcher(id_faces(id_name), worker, events)
        for frame in sample:
            await matcher.check_now(frame)
        verdicts = [e for e in events if e.kind in (EventKind.MATCH, EventKind.MISMATCH)]
        assert len(verdicts) == len(sample)
        assert {e.kind for e in verdicts} == {expected}, [(e.kind, e.distance) for e in verdicts]
        for e in verdicts:
            assert e.model.name == "dlib_face_recognition_resnet_model_v1"
            assert e.threshold == MatchPolicy().threshold and e.threshold_source
            assert e.distance is not None
        await matcher.close()


async def test_person_changed_when_someone_else_appears(
    clip_frames: list[Frame], id_faces: Callable[[str], IdFace], worker: FaceWorker
) -> None:
    # The clip ends on the audience: another person's face around 7.5 s.
    events: list[IdentityEvent] = []
    matcher = _matcher(id_faces("lin-manuel-miranda.png"), worker, events)
    await matcher.check_now(_at(clip_frames, 5.0))
    later = await matcher.check_now(_at(clip_frames, 7.5))
    kinds = [e.kind for e in later]
    assert kinds == [EventKind.PERSON_CHANGED, EventKind.MISMATCH], [
        (e.kind, e.distance) for e in later
    ]
    await matcher.close()


async def test_schedule_acquires_fast_then_checks_at_a_steady_rate(
    clip_frames: list[Frame], id_faces: Callable[[str], IdFace], worker: FaceWorker
) -> None:
    events: list[IdentityEvent] = []
    matcher = _matcher(id_faces("lin-manuel-miranda.png"), worker, events)
    for frame in clip_frames:  # every frame offered; the worker is awaited between them
        matcher.offer(frame)
        await matcher.drain()
    checks = sorted({e.check: e.media_time for e in events}.items())
    assert events[0].kind is EventKind.MATCH and events[0].media_time == 0.0
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(checks)]
    assert all(g >= 0.5 - 0.04 for g in gaps), gaps
    assert matcher.stats.offered == len(clip_frames)
    assert matcher.stats.checks <= 8, (matcher.stats, gaps)
    assert not any(e.kind is EventKind.PERSON_CHANGED for e in events)
    await matcher.close()


async def test_two_people_gives_several_faces(
    id_faces: Callable[[str], IdFace], worker: FaceWorker
) -> None:
    from identity.id_document import load_image

    image = load_image(face_path("two_people.jpg").read_bytes())
    events: list[IdentityEvent] = []
    matcher = _matcher(id_faces("obama.jpg"), worker, events)
    found = await matcher.check_now(Frame(image, 0.0))
    assert [e.kind for e in found] == [EventKind.SEVERAL_FACES]
    assert found[0].faces == 2 and found[0].distance is None
    await matcher.close()


async def test_partial_face_on_video_still_matches(
    id_faces: Callable[[str], IdFace], worker: FaceWorker
) -> None:
    from identity.id_document import load_image

    image = load_image(face_path("obama_partial_face.jpg").read_bytes())
    events: list[IdentityEvent] = []
    matcher = _matcher(id_faces("obama.jpg"), worker, events)
    found = await matcher.check_now(Frame(image, 0.0))
    assert [e.kind for e in found] == [EventKind.MATCH], [(e.kind, e.distance) for e in found]
    await matcher.close()


async def test_installed_photos_no_face_match_and_mismatch(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    blank = Frame(np.zeros((360, 640, 3), dtype=np.uint8), 0.0)
    assert [e.kind for e in await matcher.check_now(blank)] == [EventKind.NO_FACE]
    from identity.id_document import load_image

    recoded = load_image(jpeg_bytes(grace_hopper(), quality=50))
    assert [e.kind for e in await matcher.check_now(Frame(recoded, 1.0))] == [EventKind.MATCH]
    other = await matcher.check_now(Frame(np.ascontiguousarray(astronaut()[:300]), 2.0))
    assert [e.kind for e in other] == [EventKind.PERSON_CHANGED, EventKind.MISMATCH]
    await matcher.close()


async def test_withdrawn_consent_stops_the_matcher(
    installed_faces: dict[str, IdFace], worker: FaceWorker, consent: Consent
) -> None:
    matcher = LiveMatcher(
        installed_faces["grace_hopper"].template, consent, worker=worker, on_event=print
    )
    consent.withdraw()
    with pytest.raises(ConsentError):
        matcher.offer(Frame(grace_hopper(), 0.0))
    await matcher.close()


class PacedFrames:
    """A frame source like media's tap: told when the next picture is due (want_next), it
    skips the frames before then; every frame it yields waits for the check to finish."""

    def __init__(self, pictures: Callable[[float], Image], seconds: float, fps: int = 30) -> None:
        self.pictures = pictures
        self.times = [i / fps for i in range(round(seconds * fps))]
        self.calls: list[tuple[float, bool]] = []
        self.wanted = 0.0
        self.extra_at: float | None = None  # yield this one frame although not due
        self.matcher: LiveMatcher | None = None

    def want_next(self, media_time: float, *, sparse: bool = False) -> None:
        self.calls.append((round(media_time, 3), sparse))
        self.wanted = media_time

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[Frame]:
        assert self.matcher is not None
        for t in self.times:
            early = self.extra_at is not None and t >= self.extra_at
            if t < self.wanted - 1e-9 and not early:
                continue
            if early:
                self.extra_at = None
            yield Frame(self.pictures(t), t)
            await asyncio.sleep(0)  # let the matcher submit it
            await self.matcher.drain()


async def test_the_source_is_told_when_the_next_check_is_due_and_when_it_may_skip(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    her, other = grace_hopper(), np.ascontiguousarray(astronaut()[:300])
    source = PacedFrames(lambda t: her if t < 4.0 else other, seconds=10.0)
    source.extra_at = 1.0  # one frame before it was asked for: skipped, and the due restated
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    source.matcher = matcher
    await matcher.run(source)
    await matcher.close()

    checks = sorted({e.check: (e.media_time, e.kind) for e in events}.values())
    assert [round(t, 2) for t, _ in checks] == [0.0, 3.0, 6.0, 6.5, 9.5], checks
    assert [(e.kind, e.check_kind) for e in events] == [
        (EventKind.MATCH, CheckKind.FULL),
        (EventKind.PRESENT, CheckKind.PRESENCE),  # her face where the full check saw it
        # Another picture, the face elsewhere: the presence check became a full one.
        (EventKind.PERSON_CHANGED, CheckKind.FULL),
        (EventKind.MISMATCH, CheckKind.FULL),
        (EventKind.MISMATCH, CheckKind.FULL),
        (EventKind.MISMATCH, CheckKind.FULL),  # a mismatch stands: full checks, no presence
    ]
    assert source.calls == [
        (3.0, True),  # first verdict (match): steady, nothing to decode until then
        (3.0, True),  # the early frame at 1.0 s: skipped, and the due said again
        (6.0, True),
        (6.5, False),  # another person: a confirming check soon, every frame decodable
        (9.5, True),  # confirmed: steady again
        (12.5, True),
    ]
    assert matcher.stats.skipped == 1


# -- presence checks between full checks -------------------------------------------------


def framed(photo: Image, height: int = 200, centre: tuple[int, int] = (240, 320)) -> Image:
    """A 640x480 webcam-like picture of the photo's face: scaled so that the face (found at
    full resolution) is `height` px high, its centre at `centre` (row, column), grey around."""
    box = detect(photo, upsample=1)[0]
    scale = height / box.height
    scaled = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    top = centre[0] - round((box.top + box.bottom) / 2 * scale)
    left = centre[1] - round((box.left + box.right) / 2 * scale)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(480, top + scaled.shape[0]), min(640, left + scaled.shape[1])
    canvas[y0:y1, x0:x1] = scaled[y0 - top : y1 - top, x0 - left : x1 - left]
    return canvas


def _kinds(events: list[IdentityEvent]) -> list[tuple[float, str, str]]:
    return [(round(e.media_time, 1), e.kind.value, e.check_kind.value) for e in events]


async def _paced(
    matcher: LiveMatcher, pictures: Callable[[float], Image], seconds: float, fps: int = 10
) -> PacedFrames:
    source = PacedFrames(pictures, seconds=seconds, fps=fps)
    source.matcher = matcher
    await matcher.run(source)
    await matcher.close()
    return source


def test_consistency_thresholds() -> None:
    config = MatcherConfig()  # half a face width, 30 % of its height
    verified = FaceBox(top=100, right=300, bottom=300, left=100)  # 200 x 200
    assert consistent_face(verified, verified, config)
    assert consistent_face(verified, FaceBox(100, 399, 300, 199), config)  # 99 px across
    assert not consistent_face(verified, FaceBox(100, 400, 300, 200), config)  # 100: half
    assert consistent_face(verified, FaceBox(170, 370, 370, 170), config)  # 99 px diagonal
    assert not consistent_face(verified, FaceBox(172, 372, 372, 172), config)  # 101.8 px
    assert consistent_face(verified, FaceBox(75, 325, 325, 75), config)  # 250 px: +25 %
    assert not consistent_face(verified, FaceBox(70, 330, 330, 70), config)  # 260 px: +30 %
    assert consistent_face(verified, FaceBox(129, 271, 271, 129), config)  # 142 px: -29 %
    assert not consistent_face(verified, FaceBox(130, 270, 270, 130), config)  # 140: -30 %
    strict = MatcherConfig(presence_max_shift=0.1, presence_max_resize=0.05)
    assert consistent_face(verified, FaceBox(100, 319, 300, 119), strict)  # 19 px
    assert not consistent_face(verified, FaceBox(100, 321, 300, 121), strict)  # 21 px
    assert not consistent_face(verified, FaceBox(95, 305, 306, 95), strict)  # +5.5 %
    with pytest.raises(ValueError):
        MatcherConfig(full_check_interval=2.0)  # below steady_interval
    with pytest.raises(ValueError):
        MatcherConfig(presence_max_resize=1.0)


def _presence_calls(calls: list[tuple[float, bool]]) -> list[tuple[float, bool]]:
    return [(round(t, 1), sparse) for t, sparse in calls]


async def test_presence_checks_between_full_checks_every_full_check_interval(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    her = framed(grace_hopper())
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    source = await _paced(matcher, lambda t: her, seconds=33.0)
    assert _kinds(events) == [
        (0.0, "match", "full"),
        *[(t, "present", "presence") for t in (3.0, 6.0, 9.0, 12.0)],
        (15.0, "match", "full"),
        *[(t, "present", "presence") for t in (18.0, 21.0, 24.0, 27.0)],
        (30.0, "match", "full"),
    ]
    for e in events:
        record = e.to_record()
        assert record["check_kind"] == e.check_kind.value
        if e.kind is EventKind.PRESENT:
            # A presence check compared nothing: never a distance, never shown as a match.
            assert e.distance is None and record["distance"] is None
            assert record["type"] == "identity.present" and e.faces == 1 and e.box
        else:
            assert e.distance is not None and e.distance < e.threshold
    # Presence checks are sparse too: the source decodes nothing until each is due.
    assert all(sparse for _, sparse in source.calls), source.calls
    stats = matcher.stats
    assert (stats.checks, stats.full_checks, stats.presence_checks) == (11, 3, 8)
    assert stats.moved == 0
    assert stats.presence_widened == 0  # the pyramid's two finest levels found her each time


async def test_full_check_interval_equal_to_steady_means_no_presence_checks(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    her = framed(grace_hopper())
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events, full_check_interval=3.0)
    await _paced(matcher, lambda t: her, seconds=10.0)
    assert _kinds(events) == [(t, "match", "full") for t in (0.0, 3.0, 6.0, 9.0)]


async def test_a_lost_face_breaks_the_presence_schedule_until_a_full_verdict(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    her = framed(grace_hopper())
    blank = np.full_like(her, 128)
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    # Gone from 4 s to 10 s: the presence check at 6 s finds nobody, the full check at 9 s
    # neither; the one at 12 s finds her, and only then do presence checks come back.
    source = await _paced(matcher, lambda t: blank if 4.0 <= t < 10.0 else her, seconds=19.0)
    assert _kinds(events) == [
        (0.0, "match", "full"),
        (3.0, "present", "presence"),
        (6.0, "no_face", "presence"),  # what a full check of this frame would report
        (9.0, "no_face", "full"),  # the break: full checks, at the steady rate
        (12.0, "match", "full"),
        (15.0, "present", "presence"),
        (18.0, "present", "presence"),
    ]
    assert _presence_calls(source.calls) == [
        (t, True) for t in (3.0, 6.0, 9.0, 12.0, 15.0, 18.0, 21.0)
    ]
    # The full check due 15 s after the match at 12 s, not after the one at 0 s.
    assert matcher.stats.full_checks == 3


async def test_after_a_break_checks_can_be_dense_for_a_while(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    her = framed(grace_hopper())
    blank = np.full_like(her, 128)
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events, break_dense_for=2.0)
    source = await _paced(
        matcher, lambda t: blank if 4.0 <= t < 11.0 or t >= 14.0 else her, seconds=16.0
    )
    assert _kinds(events) == [
        (0.0, "match", "full"),
        (3.0, "present", "presence"),
        (6.0, "no_face", "presence"),
        # 2 s at acquire_interval, every frame decodable; then the steady rate.
        *[(t, "no_face", "full") for t in (6.5, 7.0, 7.5, 8.0)],
        (11.0, "match", "full"),  # back: a verdict, presence checks again
        (14.0, "no_face", "presence"),
        *[(t, "no_face", "full") for t in (14.5, 15.0, 15.5)],  # a new break: dense again
    ]
    assert _presence_calls(source.calls)[:7] == [
        (3.0, True),
        (6.0, True),
        (6.5, False),
        (7.0, False),
        (7.5, False),
        (8.0, False),
        (11.0, True),
    ]


async def test_out_of_sight_for_long_checks_go_back_to_the_steady_rate(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    her = framed(grace_hopper())
    events: list[IdentityEvent] = []
    blank = np.full_like(her, 128)
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    await _paced(matcher, lambda t: blank if t >= 2.0 else her, seconds=14.0)
    assert _kinds(events) == [
        (0.0, "match", "full"),
        (3.0, "no_face", "presence"),
        *[(t, "no_face", "full") for t in (6.0, 9.0, 12.0)],
    ]


async def test_a_moved_face_is_checked_fully_on_the_same_frame(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    here, moved = framed(grace_hopper()), framed(grace_hopper(), centre=(240, 480))
    nearer = framed(grace_hopper(), height=300)
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    source = await _paced(
        matcher, lambda t: here if t < 5.0 else moved if t < 8.0 else nearer, seconds=10.0
    )
    assert _kinds(events) == [
        (0.0, "match", "full"),
        (3.0, "present", "presence"),
        (6.0, "match", "full"),  # moved 160 px (0.65 face widths): encoded, same frame
        (9.0, "match", "full"),  # 1.5 times nearer: the same
    ]
    assert matcher.stats.moved == 2 and matcher.stats.presence_checks == 1
    assert all(sparse for _, sparse in source.calls)  # no break: the same frame sufficed


async def test_several_faces_break_the_presence_schedule(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    her = framed(grace_hopper())
    two = np.ascontiguousarray(np.hstack([her, framed(astronaut()[:300])]))
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    await _paced(matcher, lambda t: two if 5.0 <= t < 6.3 else her, seconds=11.0)
    assert _kinds(events) == [
        (0.0, "match", "full"),
        (3.0, "present", "presence"),
        (6.0, "several_faces", "presence"),
        (6.5, "match", "full"),  # a second face is confirmed quickly, by a full check
        (9.5, "present", "presence"),
    ]
    assert events[2].faces == 2 and events[2].distance is None


async def test_a_face_beyond_the_presence_scan_is_searched_for_in_the_whole_pyramid(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    her, farther = framed(grace_hopper()), framed(grace_hopper(), height=120)
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    await _paced(matcher, lambda t: her if t < 5.0 else farther, seconds=7.0)
    assert _kinds(events) == [
        (0.0, "match", "full"),
        (3.0, "present", "presence"),
        (6.0, "match", "full"),  # 0.6 times the size: not in the two finest levels; moved
    ]
    assert matcher.stats.presence_widened == 1 and matcher.stats.moved == 1


async def test_a_second_face_of_another_size_waits_for_the_next_full_check(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    # Presence checks scan for faces about the verified one's size (MatcherConfig
    # presence_levels): a second face twice as large appears at the next full check; with
    # presence_levels=None (the whole pyramid) at the next presence check.
    her = framed(grace_hopper(), height=150)
    big = framed(np.ascontiguousarray(astronaut()[:300]), height=300)
    two = np.ascontiguousarray(np.hstack([her, big]))
    expected = {
        2: [
            (0.0, "match", "full"),
            *[(t, "present", "presence") for t in (3.0, 6.0, 9.0, 12.0)],
            (15.0, "several_faces", "full"),
        ],
        None: [(0.0, "match", "full"), (3.0, "several_faces", "presence")],
    }
    for levels, kinds in expected.items():
        events: list[IdentityEvent] = []
        matcher = _matcher(installed_faces["grace_hopper"], worker, events)
        matcher.config = dataclasses.replace(matcher.config, presence_levels=levels)
        await _paced(matcher, lambda t: her if t < 1.0 else two, seconds=15.2)
        assert _kinds(events)[: len(kinds)] == kinds, levels
        assert events[len(kinds) - 1].faces == 2


def test_presence_scan_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="presence_levels"):
        MatcherConfig(presence_levels=0)
    with pytest.raises(ValueError, match="presence_face_px"):
        MatcherConfig(presence_face_px=0)


async def test_a_swap_that_keeps_the_box_is_caught_by_the_next_full_check(
    installed_faces: dict[str, IdFace], worker: FaceWorker
) -> None:
    # What a presence check does not prove: another face in the same place, the same size,
    # passes it. The next full check (at most full_check_interval later) reports the change.
    her, other = framed(grace_hopper()), framed(np.ascontiguousarray(astronaut()[:300]))
    events: list[IdentityEvent] = []
    matcher = _matcher(installed_faces["grace_hopper"], worker, events)
    await _paced(matcher, lambda t: her if t < 4.0 else other, seconds=16.0)
    assert _kinds(events) == [
        (0.0, "match", "full"),
        (3.0, "present", "presence"),
        *[(t, "present", "presence") for t in (6.0, 9.0, 12.0)],  # the other face, unseen
        (15.0, "person_changed", "full"),
        (15.0, "mismatch", "full"),
        (15.5, "mismatch", "full"),  # confirmed at once, as any change to mismatch
    ]
