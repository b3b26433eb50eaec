"""Live face matching on the applicant's decoded video: events with scores.

`LiveMatcher.offer(frame)` is called for every decoded frame (cheap: most are skipped by the
schedule); the matcher checks one frame now and then in the face worker, at most one in
flight, and reports every check as an `IdentityEvent` through `on_event`:

- `no_face`, `several_faces` (count in `faces`),
- `match` / `mismatch` with `distance` to the ID face (lower is closer),
- `person_changed` (before the match/mismatch of the new face) when the face seen differs
  from the previous one seen beyond the threshold, gap or not in between, unless both
  match the ID face (the gap must be `small_face_margin` wider when a face is smaller than
  `reliable_face_px`: small faces encode noisily).

Schedule (on the frames' media time): until the first verdict every `acquire_interval`;
then every `steady_interval`; after a change to mismatch, several faces or another person,
one quick confirming check at `acquire_interval`. Detection runs on a reduced copy of the
frame: at most `detect_width` pixels wide with HOG upsampling 1 while looking for a face;
once a face's size is known, at the scale that makes that face about `target_face_px` high
with no upsampling (several times cheaper), falling back to the full search when that finds
nothing. The encoding is always computed on the full frame.

A frame source that can skip work between checks (media's DecodedVideoTap, a `Pacer`) is
told after every check when the next one is due and whether the schedule is steady; in the
steady phase it need not decode anything before then (docs/identity.md).

Every event carries the model name and version and the threshold with its source; none
carries a template.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import numpy as np

from identity.consent import Consent, ConsentError, Purpose, require_consent
from identity.encoders import EncoderUnavailable
from identity.faces import (
    Encoding,
    FaceBox,
    FaceScan,
    FaceWorker,
    Image,
    LatestOnly,
    ModelInfo,
    ScanPlan,
    face_distance,
    model_info,
)
from identity.policy import MatchPolicy


class FrameLike(Protocol):
    """What identity needs of a decoded frame (media's DecodedFrame has it)."""

    @property
    def image(self) -> Image: ...

    @property
    def media_time(self) -> float: ...


@runtime_checkable
class Pacer(Protocol):
    """A frame source that wants to know when the next picture is needed (media's tap)."""

    def want_next(self, media_time: float, *, sparse: bool = False) -> None: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """A plain frame, for callers that hold numpy arrays (tests, benchmarks, stills)."""

    image: Image
    media_time: float


class EventKind(StrEnum):
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    MATCH = "match"
    MISMATCH = "mismatch"
    PERSON_CHANGED = "person_changed"


VERDICTS = frozenset({EventKind.MATCH, EventKind.MISMATCH})
CONFIRMED = frozenset({EventKind.MISMATCH, EventKind.SEVERAL_FACES})


@dataclass(frozen=True, slots=True)
class IdentityEvent:
    """One outcome of one check; what the console shows and the evidence keeps."""

    kind: EventKind
    case_ref: str
    subject: str
    check: int  # sequence number of the check in this session
    media_time: float
    at: float  # wall clock (epoch seconds) when the result was known
    latency_ms: float  # from the frame being offered to the result
    faces: int
    distance: float | None  # to the ID face; for person_changed between the two live faces
    threshold: float
    threshold_source: str
    model: ModelInfo
    box: tuple[int, int, int, int] | None  # top, right, bottom, left of the single face

    def to_record(self) -> dict[str, Any]:
        """JSON-safe, for the console and the evidence chain: scores, never templates."""
        return {
            "type": "identity." + self.kind.value,
            "case_ref": self.case_ref,
            "subject": self.subject,
            "check": self.check,
            "media_time": round(self.media_time, 3),
            "at": round(self.at, 3),
            "latency_ms": round(self.latency_ms, 1),
            "faces": self.faces,
            "distance": None if self.distance is None else round(self.distance, 4),
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "model": self.model.as_dict(),
            "box": list(self.box) if self.box else None,
        }


@dataclass(frozen=True, slots=True)
class MatcherConfig:
    acquire_interval: float = 0.5  # seconds of media time between checks before a verdict
    steady_interval: float = 3.0  # between checks once a verdict stands
    detect_width: int = 480  # detection copy at most this wide while searching
    search_upsample: int = 1
    target_face_px: int = 100  # once a face is known: detect it at about this height
    min_scale: float = 0.2
    reliable_face_px: int = 80  # person-change needs a wider gap when a face is smaller
    small_face_margin: float = 0.1
    tap_fps: float = 2.0  # what to ask media's decoded tap for

    def __post_init__(self) -> None:
        if self.acquire_interval <= 0 or self.steady_interval < self.acquire_interval:
            raise ValueError("intervals must be positive, steady >= acquire")


@dataclass(slots=True)
class MatcherStats:
    offered: int = 0
    skipped: int = 0  # not due by the schedule
    checks: int = 0
    failed: int = 0  # checks whose encoding failed (the encoder process died or hung)
    detect_ms: float = 0.0
    encode_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class _Job:
    frame: FrameLike
    offered_at: float  # monotonic


class LiveMatcher:
    """Checks one participant's video against one ID template for a whole session."""

    def __init__(
        self,
        reference: Encoding,
        consent: Consent,
        *,
        worker: FaceWorker,
        on_event: Callable[[IdentityEvent], None],
        policy: MatchPolicy | None = None,
        config: MatcherConfig | None = None,
    ) -> None:
        self.consent = require_consent(consent, Purpose.FACE_MATCH)
        reference = np.asarray(reference, dtype=np.float64)
        if reference.shape != (128,):
            raise ValueError("the reference is a 128-d face encoding")
        self._reference: Encoding | None = reference.copy()
        self.worker = worker
        self.on_event = on_event
        self.policy = policy or MatchPolicy()
        self.config = config or MatcherConfig()
        self.model = model_info()
        self.stats = MatcherStats()
        self._runner: LatestOnly[_Job] = LatestOnly(self._check)
        self._next_due: float | None = None
        self._steady = False  # the next check is a steady one (not acquiring or confirming)
        self._pacer: Pacer | None = None
        self._last_media_time: float | None = None
        self._last_kind: EventKind | None = None
        self._verdict_seen = False
        self._live: Encoding | None = None  # the last single face seen
        self._live_matched = False
        self._live_height = 0
        self._face_height: int | None = None
        self._closed = False

    # -- feeding -------------------------------------------------------------------------

    def offer(self, frame: FrameLike) -> bool:
        """Hand over a decoded frame; True if it was taken for a check. Never blocks."""
        if self._closed:
            return False
        self.consent.require(Purpose.FACE_MATCH)
        self.stats.offered += 1
        t = frame.media_time
        if self._last_media_time is not None and t < self._last_media_time - 1.0:
            self._next_due = None  # the publication restarted its clock
        self._last_media_time = t
        if self._next_due is not None and t < self._next_due:
            self.stats.skipped += 1
            self._pace()  # the source delivered early (or on its own): tell it again
            return False
        self._next_due = t + self.config.acquire_interval
        self._runner.submit(_Job(frame, time.monotonic()))
        return True

    async def run(self, frames: AsyncIterable[FrameLike]) -> None:
        """Offer every frame of an async source (e.g. media's DecodedVideoTap) until it ends
        or consent is withdrawn; then wait for the check in flight."""
        self._pacer = frames if isinstance(frames, Pacer) else None
        try:
            async for frame in frames:
                if self._closed or not self.consent.active:
                    break
                self.offer(frame)
        finally:
            self._pacer = None
            await self._runner.drain()

    def _pace(self) -> None:
        if self._pacer is not None and self._next_due is not None:
            self._pacer.want_next(self._next_due, sparse=self._steady)

    async def check_now(self, frame: FrameLike) -> list[IdentityEvent]:
        """Check this frame now, outside the schedule (a still, a test); returns its events."""
        self.consent.require(Purpose.FACE_MATCH)
        await self._runner.drain()
        collected: list[IdentityEvent] = []
        previous = self.on_event

        def both(event: IdentityEvent) -> None:
            collected.append(event)
            previous(event)

        self.on_event = both
        try:
            await self._check(_Job(frame, time.monotonic()))
        finally:
            self.on_event = previous
        return collected

    async def drain(self) -> None:
        await self._runner.drain()

    async def close(self) -> None:
        """Stop checking and drop the templates held (the case's store deletes its own)."""
        self._closed = True
        await self._runner.cancel()
        if self._reference is not None:
            self._reference.fill(0.0)
        if self._live is not None:
            self._live.fill(0.0)
        self._reference = self._live = None

    @property
    def replaced(self) -> int:
        return self._runner.counters.replaced

    @property
    def errors(self) -> list[Exception]:
        return self._runner.errors

    # -- checking ------------------------------------------------------------------------

    def plan_for(self, width: int) -> ScanPlan:
        search = ScanPlan(
            scale=min(1.0, self.config.detect_width / max(1, width)),
            upsample=self.config.search_upsample,
        )
        if self._face_height is None:
            return search
        scale = self.config.target_face_px / self._face_height
        scale = min(1.0, max(self.config.min_scale, scale))
        return ScanPlan(scale=scale, upsample=0, fallback=search)

    async def _check(self, job: _Job) -> None:
        if self._closed:
            return
        image = job.frame.image
        try:
            scan = await self.worker.scan(image, self.plan_for(image.shape[1]))
        except EncoderUnavailable:
            # The encoder process was replaced: this check failed (counted, and kept in
            # `errors` by the runner); the next one comes at the quick interval.
            self.stats.failed += 1
            if not self._closed:
                self._next_due = job.frame.media_time + self.config.acquire_interval
                self._steady = False
                self._pace()
            raise
        if self._closed or self._reference is None:
            return
        try:
            self.consent.require(Purpose.FACE_MATCH)
        except ConsentError:
            await self.close()
            raise
        self.stats.checks += 1
        self.stats.detect_ms += scan.detect_ms
        self.stats.encode_ms += scan.encode_ms
        for event in self._judge(scan, job):
            self.on_event(event)

    def _judge(self, scan: FaceScan, job: _Job) -> list[IdentityEvent]:
        assert self._reference is not None
        check = self.stats.checks
        box: FaceBox | None = scan.boxes[0] if scan.count == 1 else None
        events: list[IdentityEvent] = []

        def event(kind: EventKind, distance: float | None) -> IdentityEvent:
            return IdentityEvent(
                kind=kind,
                case_ref=self.consent.case_ref,
                subject=self.consent.subject,
                check=check,
                media_time=job.frame.media_time,
                at=time.time(),
                latency_ms=(time.monotonic() - job.offered_at) * 1000,
                faces=scan.count,
                distance=distance,
                threshold=self.policy.threshold,
                threshold_source=self.policy.source,
                model=self.model,
                box=box.as_css() if box else None,
            )

        if scan.count == 0:
            kind = EventKind.NO_FACE
            self._face_height = None
            events.append(event(kind, None))
        elif scan.count > 1 or scan.encoding is None:
            kind = EventKind.SEVERAL_FACES
            events.append(event(kind, None))
        else:
            assert box is not None
            encoding = scan.encoding
            distance = face_distance(self._reference, encoding)
            kind = EventKind.MATCH if self.policy.matches(distance) else EventKind.MISMATCH
            if self._live is not None:
                between = face_distance(self._live, encoding)
                # Two faces that both match the ID are the same person by the standard the
                # matcher applies anyway (small, blurred faces drift further apart than that).
                both_match = kind is EventKind.MATCH and self._live_matched
                limit = self.policy.threshold
                if min(box.height, self._live_height) < self.config.reliable_face_px:
                    limit += self.config.small_face_margin  # small faces encode noisily
                if between > limit and not both_match:
                    events.append(event(EventKind.PERSON_CHANGED, between))
            self._live = encoding
            self._live_matched = kind is EventKind.MATCH
            self._live_height = box.height
            self._face_height = box.height
            events.append(event(kind, distance))

        # A change towards a worse outcome is confirmed quickly; losing the face or finding
        # it again is not worth an extra check.
        changed = kind != self._last_kind and kind in CONFIRMED
        if any(e.kind is EventKind.PERSON_CHANGED for e in events):
            changed = True
        self._last_kind = kind
        if kind in VERDICTS:
            first = not self._verdict_seen
            self._verdict_seen = True
            if first:
                changed = False  # the first verdict needs no confirmation
        steady = self._verdict_seen and not changed
        interval = self.config.steady_interval if steady else self.config.acquire_interval
        due = job.frame.media_time + interval
        if self._next_due is None or due > self._next_due:
            self._next_due = due
        self._steady = steady
        self._pace()
        return events


async def run_live_match(
    frames: AsyncIterable[FrameLike],
    reference: Encoding,
    consent: Consent,
    *,
    worker: FaceWorker,
    on_event: Callable[[IdentityEvent], None],
    policy: MatchPolicy | None = None,
    config: MatcherConfig | None = None,
) -> MatcherStats:
    """Run a LiveMatcher over a frame source to its end; the matcher is closed after."""
    matcher = LiveMatcher(
        reference, consent, worker=worker, on_event=on_event, policy=policy, config=config
    )
    try:
        await matcher.run(frames)
    finally:
        await matcher.close()
    return matcher.stats


__all__ = [
    "EventKind",
    "Frame",
    "FrameLike",
    "IdentityEvent",
    "LiveMatcher",
    "MatcherConfig",
    "MatcherStats",
    "Pacer",
    "run_live_match",
]
