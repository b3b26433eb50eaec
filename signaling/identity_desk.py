"""Identity checks in one session: the applicant's consent, the ID photo, the live match.

It wires `identity/` (faces, consent, matching) to one room's media: the applicant's video is
decoded only once consent, an ID face and a video publication all exist, at the low rate the
matcher asks for. Results go to the notary and into the evidence chain as scores, never as
templates; the template is deleted when the session closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from identity.consent import Consent, ConsentError, TemplateStore
from identity.faces import FaceWorker
from identity.id_document import DocumentKind, IdFace, intake_id_photo_async
from identity.matcher import IdentityEvent, LiveMatcher, MatcherConfig
from media import DecodedVideoTap, ParticipantPeer

log = logging.getLogger(__name__)

CONSENT_TEXT_VERSION = "2026-11-v1"  # the consent text shown by session.html


class IdentityDesk:
    def __init__(
        self,
        case_ref: str,
        worker: Callable[[], FaceWorker],
        templates: TemplateStore,
        report: Callable[[str, IdentityEvent], None],
    ) -> None:
        self.case_ref = case_ref
        self._worker = worker
        self._templates = templates
        self._report = report
        self.consents: dict[str, Consent] = {}
        self._faces: dict[str, IdFace] = {}
        self._matching: dict[
            str, tuple[ParticipantPeer, LiveMatcher, DecodedVideoTap, asyncio.Task[None]]
        ] = {}

    def consent(self, participant_id: str, text_version: str) -> Consent:
        consent = Consent.record(self.case_ref, participant_id, text_version=text_version)
        self.consents[participant_id] = consent
        return consent

    async def id_photo(self, participant_id: str, data: bytes, kind: DocumentKind) -> IdFace:
        """Locate and encode the ID face (IntakeRefused says why not; ConsentError without)."""
        consent = self.consents.get(participant_id)
        if consent is None:
            raise ConsentError("the applicant has not consented to face processing")
        face = await intake_id_photo_async(data, consent, kind=kind, worker=self._worker())
        self._templates.put(consent, face.template, face.crop_jpeg)
        self._faces[participant_id] = face
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

    async def close(self) -> None:
        for participant_id in list(self._matching):
            await self.stop(participant_id)
        for participant_id in self.consents:
            self._templates.delete_subject(self.case_ref, participant_id)

    def face_summary(self, participant_id: str) -> dict[str, Any] | None:
        face = self._faces.get(participant_id)
        if face is None:
            return None
        return {
            "kind": face.kind.value,
            "box": list(dataclasses.astuple(face.box)),
            "ghosts_ignored": face.ghosts_ignored,
            "model": face.model.as_dict(),
        }
