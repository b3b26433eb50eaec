"""Live matching on real video frames: events, scores, person change, schedule."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from identity.consent import Consent, ConsentError
from identity.faces import FaceWorker, Image
from identity.id_document import IdFace
from identity.matcher import EventKind, Frame, IdentityEvent, LiveMatcher, MatcherConfig
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
    assert source.calls == [
        (3.0, True),  # first verdict (match): steady, nothing to decode until then
        (3.0, True),  # the early frame at 1.0 s: skipped, and the due said again
        (6.0, True),
        (6.5, False),  # another person: a confirming check soon, every frame decodable
        (9.5, True),  # confirmed: steady again
        (12.5, True),
    ]
    assert matcher.stats.skipped == 1
