"""Live face matching on the applicant's decoded video: events with scores.

`LiveMatcher.offer(frame)` is called for every decoded frame (cheap: most are skipped by the
schedule); the matcher checks one frame now and then in the face worker, at most one in
flight, and reports every check as an `IdentityEvent` through `on_event`:

- `no_face`, `several_faces` (count in `faces`),
- `match` / `mismatch` with `distance` to the ID face (lower is closer),
- `person_changed` (before the match/mismatch of the new face) when the face seen differs
  from the previous one seen beyond the threshold, gap or not in between, unless both
  match the ID face (the gap must be `small_face_margin` wider when a face is smaller than
  `reliable_face_px`: small faces encode noisily),
- `present`: a presence check found one face where the last full check verified the ID
  holder's (`consistent_face`). No distance: it is not a match and never shown as one.

Two kinds of check (`CheckKind`): a *full* check detects, encodes the single face and
compares it with the ID face; a *presence* check only detects. Schedule (on the frames'
media time): until the first verdict a full check every `acquire_interval`; once a match
stands, a check every `steady_interval`, full every `full_check_interval` and presence
between. A presence check that finds the face moved or resized beyond `presence_max_shift` /
`presence_max_resize` becomes a full check on the same frame. One that finds no face or
several faces reports what a full check of that frame would (the same detection; a full
check encodes a single face only) and breaks the presence schedule: every check is a full
one until one gives a verdict, at `steady_interval` as before presence checks (a second
face confirmed once at `acquire_interval`), or at `acquire_interval` for the first
`break_dense_for` seconds of the break. After a change to mismatch or another person, one
quick confirming full check at `acquire_interval`; while a mismatch stands, full checks every
`steady_interval` (presence checks stand in for full ones only while a match stands). A
swap that keeps the face's place and size passes presence checks: the next full check, at
most `full_check_interval` later, reports it (person_changed). Detection runs on a
reduced copy of the frame: at most `detect_width` pixels wide with HOG upsampling 1 while
looking for a face; once a face's size is known, at the scale that makes that face about
`target_face_px` high with no upsampling (several times cheaper), falling back to the full
search when that finds nothing. The encoding is always computed on the full frame.

A frame source that can skip work between checks (media's DecodedVideoTap, a `Pacer`) is
told after every check when the next one is due and whether the schedule is steady; in the
steady phase it need not decode anything before then (docs/identity.md).

Every event carries the model name and version and the threshold with its source; none
carries a template.
"""

from __future__ import annotations

import dataclasses
import math
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
    encode,
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
    PRESENT = "present"  # a presence check: the verified face is still there (no distance)


class CheckKind(StrEnum):
    FULL = "full"  # detection, the encoding, its distance to the ID face
    PRESENCE = "presence"  # detection only: is the face the last full check verified there


VERDICTS = frozenset({EventKind.MATCH, EventKind.MISMATCH})


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
    check_kind: CheckKind = CheckKind.FULL

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
            "check_kind": self.check_kind.value,
        }


@dataclass(frozen=True, slots=True)
class MatcherConfig:
    acquire_interval: float = 0.5  # seconds of media time between checks before a verdict
    steady_interval: float = 3.0  # between checks once a verdict stands
    # Once a match stands: a full check (encode + compare) this often, presence checks
    # (detection only) at steady_interval between. = steady_interval: no presence checks.
    full_check_interval: float = 15.0
    # A presence check's face is the verified one when its box centre moved less than this
    # many widths of the verified face, and its height changed by less than this fraction
    # (since the last full check, not the last presence check: slow drift adds up). Sitting
    # still, the HOG box moves a few px; leaning in or back, the height changes ~10-20 %.
    presence_max_shift: float = 0.5
    presence_max_resize: float = 0.3
    # A presence check looks for the verified face scaled to about presence_face_px, on only
    # the finest presence_levels levels of HOG's image pyramid (identity/hog.py): faces from
    # ~0.73 to ~1.3 times its size (what presence_max_resize accepts), for about a quarter of
    # the work. Finding none there, it searches as a full check would (the whole pyramid), so
    # what it reports is unchanged, except that a second face beyond that size range waits
    # for the next full check. None: the whole pyramid every time.
    presence_levels: int | None = 2
    presence_face_px: int = 75
    # After a break (no face or several faces where a match stood) every check is a full one
    # until a verdict; for this long at acquire_interval, then at steady_interval. 0 (the
    # default): no face, as before presence checks, at steady_interval, and a second face
    # confirmed once at acquire_interval. Dense checks cost ~95 ms each while nobody is in
    # sight (the fallback search): on the benchmark's clip 5 s doubled the cost per minute.
    break_dense_for: float = 0.0
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
        if self.full_check_interval < self.steady_interval:
            raise ValueError("full_check_interval must be >= steady_interval")
        if not (self.presence_max_shift > 0 and 0 < self.presence_max_resize < 1):
            raise ValueError("presence thresholds: shift > 0, 0 < resize < 1")
        if self.break_dense_for < 0:
            raise ValueError("break_dense_for must be >= 0")
        if self.presence_levels is not None and self.presence_levels < 1:
            raise ValueError("presence_levels must be >= 1 (or None: all)")
        if self.presence_face_px < 1:
            raise ValueError("presence_face_px must be >= 1")


def consistent_face(verified: FaceBox, seen: FaceBox, config: MatcherConfig) -> bool:
    """Whether `seen` can be the face a full check verified at `verified` (a presence check):
    its centre moved less than `presence_max_shift` face widths, its height changed by less
    than `presence_max_resize`. It proves the box stayed, not who is in it."""
    dx = (seen.left + seen.right - verified.left - verified.right) / 2
    dy = (seen.top + seen.bottom - verified.top - verified.bottom) / 2
    shift = math.hypot(dx, dy) / max(1, verified.width)
    resize = abs(seen.height - verified.height) / max(1, verified.height)
    return shift < config.presence_max_shift and resize < config.presence_max_resize


@dataclass(slots=True)
class MatcherStats:
    offered: int = 0
    skipped: int = 0  # not due by the schedule
    checks: int = 0
    full_checks: int = 0
    presence_checks: int = 0
    moved: int = 0  # presence checks that found the face moved: became full checks
    presence_widened: int = 0  # presence checks that searched the whole pyramid
    failed: int = 0  # checks whose encoding failed (the encoder process died or hung)
    detect_ms: float = 0.0
    encode_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class _Job:
    frame: FrameLike
    offered_at: float  # monotonic
    full: bool = False  # a full check whatever the schedule (check_now)


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
        self._last_kind: EventKind | None = None  # of the last full check
        self._verdict_seen = False
        # The single face of the last full check, while the match it gave stands: what a
        # presence check compares with. None: the next check is a full one.
        self._verified: FaceBox | None = None
        self._full_due = 0.0  # media time of the next full check once a match stands
        self._break_since: float | None = None  # no verdict since this media time
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
            self._verified = None  # and the full check's due time with it: check fully
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
            await self._check(_Job(frame, time.monotonic(), full=True))
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

    def plan_for(self, width: int, *, presence: bool = False) -> ScanPlan:
        config = self.config
        search = ScanPlan(
            scale=min(1.0, config.detect_width / max(1, width)), upsample=config.search_upsample
        )
        if self._face_height is None:
            return search
        scale = min(1.0, max(config.min_scale, config.target_face_px / self._face_height))
        known = ScanPlan(scale=scale, upsample=0, fallback=search)
        narrow = config.presence_face_px / self._face_height
        if not presence or config.presence_levels is None or narrow > 1.0:
            return known  # (a face smaller than presence_face_px: no cheaper scan finds it)
        return ScanPlan(
            scale=max(config.min_scale, narrow),
            upsample=0,
            levels=config.presence_levels,
            encode=False,
            fallback=known,
        )

    def presence_due(self, media_time: float) -> bool:
        """Whether a check at `media_time` would be a presence check (detection only)."""
        return self._verified is not None and media_time < self._full_due

    async def _check(self, job: _Job) -> None:
        if self._closed:
            return
        image = job.frame.image
        presence = not job.full and self.presence_due(job.frame.media_time)
        plan = self.plan_for(image.shape[1], presence=presence)
        if presence:
            plan = dataclasses.replace(plan, encode=False)
        try:
            scan = await self.worker.scan(image, plan)
            if presence and plan.levels is not None and scan.plan is not plan:
                self.stats.presence_widened += 1
            moved = presence and scan.count == 1 and not self._still_verified(scan.boxes[0])
            if moved and not self._closed:
                # The face moved or changed size: check who it is now, on this very frame.
                presence = False
                self.stats.moved += 1
                started = time.perf_counter()
                found = await self.worker.run(encode, image, list(scan.boxes))
                scan = dataclasses.replace(
                    scan, encoding=found[0], encode_ms=(time.perf_counter() - started) * 1000
                )
        except EncoderUnavailable:
            # The encoder process was replaced: this check failed (counted, and kept in
            # `errors` by the runner); the next one, a full one, comes at the quick interval.
            self.stats.failed += 1
            if not self._closed:
                self._verified = None
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
        if presence:
            self.stats.presence_checks += 1
        else:
            self.stats.full_checks += 1
        self.stats.detect_ms += scan.detect_ms
        self.stats.encode_ms += scan.encode_ms
        for event in self._judge(scan, job, CheckKind.PRESENCE if presence else CheckKind.FULL):
            self.on_event(event)

    def _still_verified(self, box: FaceBox) -> bool:
        return self._verified is not None and consistent_face(self._verified, box, self.config)

    def _judge(self, scan: FaceScan, job: _Job, check_kind: CheckKind) -> list[IdentityEvent]:
        assert self._reference is not None
        check = self.stats.checks
        full = check_kind is CheckKind.FULL
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
                check_kind=check_kind,
            )

        if scan.count == 0:
            kind = EventKind.NO_FACE
            self._face_height = None
            events.append(event(kind, None))
        elif scan.count > 1 or (full and scan.encoding is None):
            kind = EventKind.SEVERAL_FACES
            events.append(event(kind, None))
        elif not full:
            assert box is not None  # consistent with the verified face (_check saw to it)
            kind = EventKind.PRESENT
            self._face_height = box.height
            events.append(event(kind, None))  # no distance: nothing was compared
        else:
            assert box is not None and scan.encoding is not None
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

        changed = any(e.kind is EventKind.PERSON_CHANGED for e in events)
        self._schedule(job.frame.media_time, kind, box, changed=changed)
        return events

    def _schedule(self, t: float, kind: EventKind, box: FaceBox | None, *, changed: bool) -> None:
        """When the next check is due and whether the source may skip until then."""
        config = self.config
        if kind is EventKind.PRESENT:
            # The verified face is still there; the full check comes when it is due.
            due, steady = min(t + config.steady_interval, self._full_due), True
        elif kind in VERDICTS:
            # A change to mismatch (or to another person) is confirmed quickly; the first
            # verdict needs no confirmation.
            changed = changed or (kind is EventKind.MISMATCH and self._last_kind != kind)
            if not self._verdict_seen:
                changed = False
            self._verdict_seen = True
            self._break_since = None
            self._last_kind = kind
            steady = not changed
            if kind is EventKind.MATCH and steady and box is not None:
                self._verified = box
                self._full_due = t + config.full_check_interval
            else:
                self._verified = None
            due = t + (config.steady_interval if steady else config.acquire_interval)
        else:
            # No face or several faces, from either kind of check: the detection is the same,
            # and a full check encodes only a single face, so a presence check's outcome here
            # is what a full check of this frame would report. Nothing verified stands now.
            self._verified = None
            changed = kind != self._last_kind and kind is EventKind.SEVERAL_FACES
            self._last_kind = kind
            if not self._verdict_seen:
                due, steady = t + config.acquire_interval, False  # still acquiring
            else:
                if self._break_since is None:
                    self._break_since = t
                # A second face is confirmed quickly; losing the face is not worth extra
                # checks, unless break_dense_for asks for them.
                dense = changed or t - self._break_since < config.break_dense_for
                interval = config.acquire_interval if dense else config.steady_interval
                due, steady = t + interval, not dense
        if self._next_due is None or due > self._next_due:
            self._next_due = due
        self._steady = steady
        self._pace()


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
    "CheckKind",
    "EventKind",
    "Frame",
    "FrameLike",
    "IdentityEvent",
    "LiveMatcher",
    "MatcherConfig",
    "MatcherStats",
    "Pacer",
    "consistent_face",
    "run_live_match",
]
