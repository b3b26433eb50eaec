"""Identity checks in one session: the applicant's consent, the ID photo, the live match,
the liveness challenge.

It wires `identity/` (faces, consent, matching, liveness) to one room's media: the applicant's
video is decoded only once consent, an ID face and a video publication all exist, at the low
rate the matcher asks for, and between steady checks not at all (the matcher tells the tap when
its next check is due; the tap then decodes one keyframe, asked for: docs/identity.md); a
liveness challenge opens a second, faster tap (10 fps, at most
640 px wide) for its time limit only. Results go to the notary and into the evidence chain as
scores, never as templates; the template is deleted when the session closes. Every result of
the live match goes both ways, presence checks too (`identity.present`, no score: between the
full checks the matcher only looks for the face it verified; a small record every 3 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from identity.consent import Consent, ConsentError, Purpose, TemplateStore
from identity.faces import FaceWorker
from identity.id_document import DocumentKind, IdFace, intake_id_photo_async
from identity.liveness import (
    Action,
    Challenge,
    FailReason,
    LivenessCheck,
    LivenessResult,
    new_challenge,
)
from identity.matcher import IdentityEvent, LiveMatcher, MatcherConfig
from identity.policy import MatchPolicy
from media import DecodedVideoTap, ParticipantPeer

log = logging.getLogger(__name__)

CONSENT_TEXT_VERSION = "2026-11-v1"  # the consent text shown by session.html
LIVENESS_FPS = 10.0  # the landmarks must see a blink (~150-300 ms) on a frame or two
LIVENESS_WIDTH = 640  # detection works on at most 480 px anyway; landmarks on this
LIVENESS_GRACE_S = 3.0  # wall-clock slack over the challenge's own limit (late frames)
MAX_CHALLENGES = 10  # per session: each one costs a core for ~15 s


class LivenessBusy(RuntimeError):
    """A challenge is already running in this session."""


class LivenessLimit(RuntimeError):
    """This session has had its share of challenges."""


@dataclasses.dataclass(slots=True)
class _LivenessRun:
    participant_id: str
    challenge: Challenge
    check: LivenessCheck
    tap: DecodedVideoTap
    task: asyncio.Task[LivenessResult] | None = None


class IdentityDesk:
    def __init__(
        self,
        case_ref: str,
        worker: Callable[[], FaceWorker],
        templates: TemplateStore,
        report: Callable[[str, IdentityEvent], None],
        policy: MatchPolicy | None = None,
    ) -> None:
        self.case_ref = case_ref
        # The calibrated threshold and its source (docs/identity.md); every result carries it.
        self.policy = policy or MatchPolicy()
        self._worker = worker
        self._templates = templates
        self._report = report
        self.consents: dict[str, Consent] = {}
        self._faces: dict[str, dict[str, Any]] = {}  # summaries only: no template here
        self._matching: dict[
            str, tuple[ParticipantPeer, LiveMatcher, DecodedVideoTap, asyncio.Task[None]]
        ] = {}
        self._liveness: _LivenessRun | None = None  # one challenge at a time per room
        self.challenges = 0
        self.new_challenge: Callable[[], Challenge] = new_challenge

    def consent(self, participant_id: str, text_version: str) -> Consent:
        consent = Consent.record(self.case_ref, participant_id, text_version=text_version)
        self.consents[participant_id] = consent
        return consent

    async def withdraw(self, participant_id: str) -> bool:
        """The applicant withdrew consent: stop every check and delete the template and crop
        now. True if there was a consent to withdraw."""
        consent = self.consents.pop(participant_id, None)
        if consent is None:
            return False
        consent.withdraw()  # anything still holding it refuses the next frame
        run = self._liveness
        if run is not None and run.participant_id == participant_id and run.task is not None:
            # A running challenge ends at its next frame, reported as incomplete ("consent
            # was withdrawn"); without frames it is stopped here.
            done, _ = await asyncio.wait({run.task}, timeout=2.0)
            if not done:
                await self.stop_liveness()
        await self.stop(participant_id)
        self._templates.delete_subject(self.case_ref, participant_id)
        self._faces.pop(participant_id, None)
        return True

    async def id_photo(self, participant_id: str, data: bytes, kind: DocumentKind) -> IdFace:
        """Locate and encode the ID face (IntakeRefused says why not; ConsentError without)."""
        consent = self.consents.get(participant_id)
        if consent is None:
            raise ConsentError("the applicant has not consented to face processing")
        face = await intake_id_photo_async(data, consent, kind=kind, worker=self._worker())
        self._templates.put(consent, face.template, face.crop_jpeg)
        # The store holds the one copy (deleted with the case); this one goes now.
        face.template.fill(0.0)
        self._faces[participant_id] = {
            "kind": face.kind.value,
            "box": list(dataclasses.astuple(face.box)),
            "ghosts_ignored": face.ghosts_ignored,
            "model": face.model.as_dict(),
        }
        return face

    async def start(
        self, participant_id: str, peer: ParticipantPeer, restart: bool = False
    ) -> bool:
        """Start (or restart, after a new ID photo or connection) the live match."""
        consent = self.consents.get(participant_id)
        stored = self._templates.get(consent) if consent is not None and consent.active else None
        video = any(p.kind == "video" for p in peer.publications)
        if consent is None or stored is None or not video or peer.closed:
            return False
        running = self._matching.get(participant_id)
        if running is not None and running[0] is peer and not restart:
            return True  # already watching this connection's video
        await self.stop(participant_id)
        config = MatcherConfig()
        tap = peer.open_decoded_video(fps=config.tap_fps)
        matcher = LiveMatcher(
            stored.encoding,
            consent,
            worker=self._worker(),
            on_event=lambda event: self._report(participant_id, event),
            policy=self.policy,
            config=config,
        )
        task = asyncio.create_task(matcher.run(tap), name=f"identity-{participant_id}")
        self._matching[participant_id] = (peer, matcher, tap, task)
        return True

    async def stop(self, participant_id: str) -> None:
        entry = self._matching.pop(participant_id, None)
        if entry is None:
            return
        _, matcher, tap, task = entry
        await tap.close()
        await matcher.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    # --- liveness ------------------------------------------------------------------------

    @property
    def liveness_running(self) -> bool:
        return self._liveness is not None

    async def start_liveness(
        self,
        participant_id: str,
        peer: ParticipantPeer,
        *,
        on_action: Callable[[Challenge, Action, float], None],
        on_result: Callable[[LivenessResult], None],
    ) -> Challenge:
        """Open a fast tap on the participant's video and run one random challenge on it.

        ConsentError without the applicant's consent to liveness, LivenessBusy while one
        runs, LivenessLimit after MAX_CHALLENGES, LookupError without a video. The result
        comes through `on_result` (on the event loop), also when the video ends early.
        """
        consent = self.consents.get(participant_id)
        if consent is None:
            raise ConsentError("the applicant has not consented to face processing")
        consent.require(Purpose.LIVENESS)
        if self._liveness is not None:
            raise LivenessBusy("a liveness challenge is running")
        if self.challenges >= MAX_CHALLENGES:
            raise LivenessLimit(f"at most {MAX_CHALLENGES} challenges a session")
        if peer.closed or not any(p.kind == "video" for p in peer.publications):
            raise LookupError("the applicant sends no video")
        stored = self._templates.get(consent)
        challenge = self.new_challenge()
        tap = peer.open_decoded_video(fps=LIVENESS_FPS, width=LIVENESS_WIDTH)
        check = LivenessCheck(
            challenge,
            consent,
            worker=self._worker(),
            # With the ID face, the face doing the actions must also be the ID holder's.
            reference=None if stored is None else stored.encoding,
            policy=self.policy,
            on_action=lambda action, t: on_action(challenge, action, t),
        )
        run = _LivenessRun(participant_id, challenge, check, tap)
        self._liveness = run
        self.challenges += 1
        run.task = asyncio.create_task(self._judge(run, on_result), name="liveness")
        return challenge

    async def _judge(
        self, run: _LivenessRun, on_result: Callable[[LivenessResult], None]
    ) -> LivenessResult:
        check = run.check
        try:
            async with asyncio.timeout(run.challenge.total_s + LIVENESS_GRACE_S):
                result = await check.run(run.tap)
        except TimeoutError:
            # No frames, or too few to decide: the time limit is the challenge's.
            check.judge.fail(FailReason.TIMEOUT, "no decision within the time limit")
            result = await check.finish()
        except ConsentError:
            check.judge.fail(FailReason.INCOMPLETE, "consent was withdrawn")
            result = await check.finish()
        finally:
            await run.tap.close()  # the fast decoder lives for the challenge only
            if self._liveness is run:
                self._liveness = None
        on_result(result)
        return result

    async def stop_liveness(self) -> None:
        run, self._liveness = self._liveness, None
        if run is None or run.task is None:
            return
        run.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run.task
        await run.tap.close()

    async def close(self) -> None:
        await self.stop_liveness()
        for participant_id in list(self._matching):
            await self.stop(participant_id)
        for participant_id in self.consents:
            self._templates.delete_subject(self.case_ref, participant_id)
        self._faces.clear()

    def holds_template(self, participant_id: str) -> bool:
        return (self.case_ref, participant_id) in self._templates

    def face_crop(self, participant_id: str) -> bytes | None:
        """The ID portrait (JPEG) while the case's template is held; None after deletion."""
        consent = self.consents.get(participant_id)
        if consent is None or not consent.active or participant_id not in self._faces:
            return None
        stored = self._templates.get(consent)
        return None if stored is None else stored.crop_jpeg

    def face_summary(self, participant_id: str) -> dict[str, Any] | None:
        face = self._faces.get(participant_id)
        return None if face is None else dict(face)
