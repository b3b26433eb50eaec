"""Active liveness: a random sequence of 2-3 actions, judged from facial landmarks.

The applicant is asked for actions among blink, turn left, turn right, in an order drawn at
random for this challenge (`new_challenge`), each within a time limit. The judge works on
68-point landmarks of each frame:

- eye aspect ratio (EAR, Soukupová and Čech 2016): (|p2-p6| + |p3-p5|) / (2 |p1-p4|) per eye,
  averaged; a blink is the EAR falling below `blink_ratio` of the applicant's own open-eye
  baseline and coming back above `open_ratio` of it, while the rest of the face keeps its
  shape (eyes-to-mouth height over eye distance within `aspect_tolerance`: bending or
  tilting a photo squeezes the eyes, and the whole face with them);
- yaw from geometry: where the nose (point 30) sits between the two ends of the jaw line
  (points 0 and 16), as a fraction of the jaw width minus one half: 0 when frontal, positive
  when the nose moves towards the image's right, which in an unmirrored camera image is the
  applicant turning to their own left. A planar photo turned in front of the camera keeps
  that fraction (it is invariant under the horizontal squeeze and shear a turned photo
  undergoes), so it cannot fake a turn.

What fails: no action in time (a still photo, a photo held up), a turn other than the one
asked for (a replayed video that does not follow this challenge's random order), several
faces, landmarks frozen over many frames (a still image fed as video), and, when the ID
template is given, a face at a completed action that does not match it. A blink while a turn
is awaited is ignored (people blink); a turn while a blink is awaited fails.

Limits: a good video replay of the same person that happens to follow the same order, or a
3D mask, is beyond landmark liveness; the site officer and the notary remain the check.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import statistics
import time
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from identity.consent import Consent, Purpose, require_consent
from identity.encoders import EncoderUnavailable
from identity.faces import (
    Encoding,
    FaceWorker,
    Image,
    LatestOnly,
    ModelInfo,
    ScanPlan,
    encode,
    face_distance,
    model_info,
    scan,
)
from identity.matcher import FrameLike
from identity.policy import MatchPolicy


class Action(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn_left"  # the applicant's own left
    TURN_RIGHT = "turn_right"


PROMPTS: dict[Action, tuple[str, str]] = {
    Action.BLINK: ("Please blink", "请眨眼"),
    Action.TURN_LEFT: ("Please turn your head to your left", "请向左转头"),
    Action.TURN_RIGHT: ("Please turn your head to your right", "请向右转头"),
}


@dataclass(frozen=True, slots=True)
class Challenge:
    id: str
    actions: tuple[Action, ...]
    per_action_s: float = 6.0  # each action within this long after the previous one
    baseline_s: float = 4.0  # to show a frontal face before the first action

    def __post_init__(self) -> None:
        if not 1 <= len(self.actions) <= 3 or len(set(self.actions)) != len(self.actions):
            raise ValueError("a challenge is 1-3 distinct actions")

    @property
    def total_s(self) -> float:
        return self.baseline_s + self.per_action_s * len(self.actions)

    def prompts(self) -> list[dict[str, str]]:
        return [{"action": a.value, "en": PROMPTS[a][0], "zh": PROMPTS[a][1]} for a in self.actions]


def new_challenge(
    *,
    rng: random.Random | None = None,
    length: int | None = None,
    per_action_s: float = 6.0,
    actions: Sequence[Action] = tuple(Action),
) -> Challenge:
    """2 or 3 distinct actions in a random order (12 possible sequences of all three).

    `actions` narrows the draw (e.g. turns only, where blinks cannot be judged); the order
    stays random.
    """
    chooser = rng or secrets.SystemRandom()
    pool = list(dict.fromkeys(actions))
    count = length or chooser.choice([n for n in (2, 3) if n <= len(pool)] or [0])
    if count not in (2, 3) or count > len(pool):
        raise ValueError("a challenge has 2 or 3 distinct actions")
    drawn = tuple(chooser.sample(pool, count))
    return Challenge(id=secrets.token_hex(8), actions=drawn, per_action_s=per_action_s)


@dataclass(frozen=True, slots=True)
class Geometry:
    ear: float
    yaw: float
    aspect: float  # eyes-to-mouth height over eye distance: changes when a photo is bent
    key: int  # hash of all 68 points: equal keys over many frames mean a frozen picture


def _ear(eye: Sequence[tuple[int, int]]) -> float:
    p = np.asarray(eye, dtype=np.float64)
    width = float(np.linalg.norm(p[0] - p[3]))
    if width <= 0:
        return 0.0
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * width))


def geometry(
    landmarks: Mapping[str, Sequence[tuple[int, int]]], *, mirrored: bool = False
) -> Geometry:
    """EAR (mean of both eyes) and yaw fraction from face_recognition's 68-point groups."""
    chin = landmarks["chin"]
    nose = landmarks["nose_bridge"][-1]
    left, right = chin[0][0], chin[16][0]
    span = right - left
    yaw = 0.0 if span == 0 else (nose[0] - left) / span - 0.5
    if mirrored:
        yaw = -yaw
    ear = (_ear(landmarks["left_eye"]) + _ear(landmarks["right_eye"])) / 2
    left_eye = np.mean(np.asarray(landmarks["left_eye"], np.float64), axis=0)
    right_eye = np.mean(np.asarray(landmarks["right_eye"], np.float64), axis=0)
    lips = np.asarray([*landmarks["top_lip"], *landmarks["bottom_lip"]], np.float64)
    eyes = float(np.linalg.norm(right_eye - left_eye))
    drop = float(np.linalg.norm(lips.mean(axis=0) - (left_eye + right_eye) / 2))
    aspect = drop / eyes if eyes > 0 else 0.0
    key = hash(tuple(tuple(map(tuple, points)) for _, points in sorted(landmarks.items())))
    return Geometry(ear=ear, yaw=yaw, aspect=aspect, key=key)


@dataclass(frozen=True, slots=True)
class Observation:
    t: float  # seconds (media time)
    faces: int
    geometry: Geometry | None


@dataclass(frozen=True, slots=True)
class Thresholds:
    turn_delta: float = 0.12  # yaw change from the baseline that counts as a turn
    neutral_delta: float = 0.06  # back to frontal before the next turn counts
    hold_frames: int = 2  # a turn must show on consecutive frames
    blink_ratio: float = 0.6  # EAR below this fraction of the baseline: eyes closed
    open_ratio: float = 0.88  # and back above this: the blink is complete
    aspect_tolerance: float = 0.06  # a blink with the face shape changing more is no blink
    baseline_frames: int = 3
    max_baseline_yaw: float = 0.2
    still_frames: int = 20  # identical landmarks on this many frames in a row: a still
    several_frames: int = 2  # several faces on this many frames in a row (HOG sees a
    # spurious face in a curtain or a compression artefact now and then: one frame is noise)


class FailReason(StrEnum):
    TIMEOUT = "timeout"
    WRONG_ORDER = "wrong_order"
    SEVERAL_FACES = "several_faces"
    STILL_IMAGE = "still_image"
    NOT_THE_ID_HOLDER = "not_the_id_holder"
    INCOMPLETE = "incomplete"  # the video ended first


@dataclass(frozen=True, slots=True)
class LivenessResult:
    challenge: Challenge
    passed: bool
    reason: FailReason | None
    detail: str
    completed: tuple[tuple[Action, float], ...]  # action, media time it was seen
    frames: int
    distances: tuple[float, ...]  # to the ID face at completed actions, when given
    threshold: float | None
    model: ModelInfo
    thresholds: Thresholds = field(default_factory=lambda: Thresholds())
    threshold_source: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "identity.liveness_" + ("passed" if self.passed else "failed"),
            "challenge": self.challenge.id,
            "actions": [a.value for a in self.challenge.actions],
            "reason": self.reason.value if self.reason else None,
            "detail": self.detail,
            "completed": [
                {"action": a.value, "media_time": round(t, 3)} for a, t in self.completed
            ],
            "frames": self.frames,
            "distances": [round(d, 4) for d in self.distances],
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            # What the judge counted as a turn, a blink, a still: the evidence says how.
            "judge": dataclasses.asdict(self.thresholds),
            "model": self.model.as_dict(),
        }

    def for_applicant(self) -> dict[str, Any]:
        """What the applicant's page is told: the outcome, no scores."""
        return {
            "type": "identity.liveness_" + ("passed" if self.passed else "failed"),
            "challenge": self.challenge.id,
            "reason": self.reason.value if self.reason else None,
            "completed": len(self.completed),
        }


@dataclass(slots=True)
class _State:
    start: float | None = None
    baseline: list[Geometry] = field(default_factory=list)
    base_ear: float = 0.0
    base_yaw: float = 0.0
    base_aspect: float = 0.0
    index: int = 0
    step_start: float = 0.0
    armed: bool = True  # neutral since the last turn
    turn_run: int = 0  # consecutive frames turned the same way (sign in `turn_sign`)
    turn_sign: int = 0
    eyes_closed: bool = False
    last_key: int | None = None
    same_key: int = 0
    several_run: int = 0
    frames: int = 0


class LivenessJudge:
    """Feeds on observations in time order; decides pass or fail."""

    def __init__(self, challenge: Challenge, thresholds: Thresholds | None = None) -> None:
        self.challenge = challenge
        self.thresholds = thresholds or Thresholds()
        self.completed: list[tuple[Action, float]] = []
        self.reason: FailReason | None = None
        self.detail = ""
        self.passed = False
        self._s = _State()

    @property
    def done(self) -> bool:
        return self.passed or self.reason is not None

    @property
    def expected(self) -> Action | None:
        i = self._s.index
        return self.challenge.actions[i] if i < len(self.challenge.actions) else None

    def fail(self, reason: FailReason, detail: str) -> None:
        if not self.done:
            self.reason, self.detail = reason, detail

    def feed(self, obs: Observation) -> bool:
        """Take one frame's observation; True once decided."""
        if self.done:
            return True
        s, th = self._s, self.thresholds
        s.frames += 1
        if s.start is None:
            s.start = obs.t
        if obs.t - s.start > self.challenge.total_s:
            self.fail(FailReason.TIMEOUT, f"{self.expected} not seen within the time limit")
            return True
        s.several_run = s.several_run + 1 if obs.faces > 1 else 0
        if s.several_run >= th.several_frames:
            self.fail(FailReason.SEVERAL_FACES, f"{obs.faces} faces on {s.several_run} frames")
            return True
        g = obs.geometry
        if obs.faces == 0 or g is None:
            return False
        s.same_key = s.same_key + 1 if g.key == s.last_key else 1
        s.last_key = g.key
        if s.same_key >= th.still_frames:
            self.fail(FailReason.STILL_IMAGE, f"identical landmarks on {s.same_key} frames")
            return True
        if len(s.baseline) < th.baseline_frames:
            if abs(g.yaw) <= th.max_baseline_yaw:
                s.baseline.append(g)
            if len(s.baseline) == th.baseline_frames:
                s.base_ear = statistics.median(b.ear for b in s.baseline)
                s.base_yaw = statistics.median(b.yaw for b in s.baseline)
                s.base_aspect = statistics.median(b.aspect for b in s.baseline)
                s.step_start = obs.t
            elif obs.t - s.start > self.challenge.baseline_s:
                self.fail(FailReason.TIMEOUT, "no frontal face to start from")
            return self.done
        if obs.t - s.step_start > self.challenge.per_action_s:
            self.fail(FailReason.TIMEOUT, f"{self.expected} not seen within the time limit")
            return True
        seen = self._action_seen(g)
        if seen is not None:
            self._on_action(seen, obs.t)
        return self.done

    def _action_seen(self, g: Geometry) -> Action | None:
        s, th = self._s, self.thresholds
        delta = g.yaw - s.base_yaw
        if abs(delta) <= th.neutral_delta:
            s.armed = True
        sign = 1 if delta >= th.turn_delta else -1 if delta <= -th.turn_delta else 0
        if sign and sign == s.turn_sign:
            s.turn_run += 1
        else:
            s.turn_run = 1 if sign else 0
        s.turn_sign = sign
        if sign and s.armed and s.turn_run >= th.hold_frames:
            s.armed = False
            s.eyes_closed = False
            return Action.TURN_LEFT if sign > 0 else Action.TURN_RIGHT
        if sign or s.base_ear <= 0:
            return None  # EAR is judged on a frontal face only
        if abs(g.aspect / s.base_aspect - 1) > th.aspect_tolerance:
            s.eyes_closed = False  # the whole face changed shape: a bent or tilted photo
            return None
        ratio = g.ear / s.base_ear
        if ratio <= th.blink_ratio:
            s.eyes_closed = True
        elif s.eyes_closed and ratio >= th.open_ratio:
            s.eyes_closed = False
            return Action.BLINK
        return None

    def _on_action(self, action: Action, t: float) -> None:
        expected = self.expected
        if action == expected:
            self.completed.append((action, t))
            self._s.index += 1
            self._s.step_start = t
            if self._s.index == len(self.challenge.actions):
                self.passed = True
        elif action is not Action.BLINK:
            self.fail(FailReason.WRONG_ORDER, f"{action} seen while {expected} was asked for")

    def finish(self) -> None:
        """The video ended: an undecided challenge fails."""
        if not self.done:
            self.fail(FailReason.INCOMPLETE, f"the video ended before {self.expected}")


@dataclass(frozen=True, slots=True)
class _Job:
    frame: FrameLike


class LivenessCheck:
    """Runs one challenge over decoded frames (ask media's tap for ~10 fps meanwhile).

    Frames go through the face worker one at a time (newer replace older while one is in
    flight); each gives an Observation to the judge. With `reference`, the face is encoded
    at every completed action and must match the ID face.
    """

    def __init__(
        self,
        challenge: Challenge,
        consent: Consent,
        *,
        worker: FaceWorker,
        reference: Encoding | None = None,
        policy: MatchPolicy | None = None,
        thresholds: Thresholds | None = None,
        detect_width: int = 480,
        mirrored: bool = False,
        on_action: Callable[[Action, float], None] | None = None,
    ) -> None:
        self.consent = require_consent(consent, Purpose.LIVENESS)
        self.on_action = on_action  # each completed action, as it is seen (for progress)
        self.judge = LivenessJudge(challenge, thresholds)
        self.worker = worker
        self.reference = None if reference is None else np.array(reference, np.float64)
        self.policy = policy or MatchPolicy()
        self.detect_width = detect_width
        self.mirrored = mirrored
        self.distances: list[float] = []
        self._face_height: int | None = None
        self._runner: LatestOnly[_Job] = LatestOnly(self._check)
        self.started = time.monotonic()

    def offer(self, frame: FrameLike) -> None:
        self.consent.require(Purpose.LIVENESS)
        if not self.judge.done:
            self._runner.submit(_Job(frame))

    async def run(self, frames: AsyncIterable[FrameLike]) -> LivenessResult:
        async for frame in frames:
            if self.judge.done:
                break
            self.offer(frame)
        return await self.finish()

    async def finish(self) -> LivenessResult:
        await self._runner.drain()
        self.judge.finish()
        if self.reference is not None:
            self.reference.fill(0.0)
        return self.result()

    def result(self) -> LivenessResult:
        judge = self.judge
        return LivenessResult(
            challenge=judge.challenge,
            passed=judge.passed,
            reason=judge.reason,
            detail=judge.detail,
            completed=tuple(judge.completed),
            frames=judge._s.frames,
            distances=tuple(self.distances),
            threshold=self.policy.threshold if self.reference is not None else None,
            model=model_info(),
            thresholds=judge.thresholds,
            threshold_source=self.policy.source if self.reference is not None else None,
        )

    def _plan(self, width: int) -> ScanPlan:
        search = ScanPlan(scale=min(1.0, self.detect_width / max(1, width)), upsample=1)
        search = ScanPlan(search.scale, search.upsample, encode=False, landmarks=True)
        if self._face_height is None:
            return search
        scale = min(1.0, max(0.2, 100 / self._face_height))
        return ScanPlan(scale, 0, fallback=search, encode=False, landmarks=True)

    async def _check(self, job: _Job) -> None:
        if self.judge.done:
            return
        image: Image = job.frame.image
        found = await self.worker.run(scan, image, self._plan(image.shape[1]))
        self.consent.require(Purpose.LIVENESS)
        self._face_height = found.boxes[0].height if found.count == 1 else None
        g = None
        if found.landmarks is not None:
            g = geometry(found.landmarks, mirrored=self.mirrored)
        before = len(self.judge.completed)
        self.judge.feed(Observation(job.frame.media_time, found.count, g))
        if self.reference is not None and len(self.judge.completed) > before:
            try:
                encoding = (await self.worker.run(encode, image, list(found.boxes)))[0]
            except EncoderUnavailable as exc:
                # Who did the action cannot be checked: the challenge fails, it never passes
                # unchecked (the notary may start another).
                self.judge.passed = False
                self.judge.fail(FailReason.INCOMPLETE, f"the face could not be encoded: {exc}")
                return
            distance = face_distance(self.reference, encoding)
            self.distances.append(distance)
            if not self.policy.matches(distance):
                self.judge.passed = False
                self.judge.fail(
                    FailReason.NOT_THE_ID_HOLDER,
                    f"distance {distance:.3f} to the ID face at {self.judge.completed[-1][0]}",
                )
        progressed = len(self.judge.completed) > before and self.judge.reason is None
        if self.on_action is not None and progressed:
            self.on_action(*self.judge.completed[-1])
