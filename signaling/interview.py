"""The interview record in a live session: the notary writes, the confirmers read and sign.

Wires notary.interview (the record's rules) to one room: who may send which message, the
recording time code of each entry, the evidence chain (every entry version, the delivery
method, the paper-original promise, the fixed text and each confirmation with the hashes of
text and signature and the signature itself), and what each participant is told. Observers
are told nothing of the record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from notary.interview import EntryVersion, InterviewRecord, RecordError, RecordState
from notary.signature import SignatureRejected, parse_signature
from recorder.session import SessionRecorder
from signaling.protocol import Message, ProtocolError
from signaling.ratelimit import RateLimiter
from signaling.rooms import ParticipantRole, Room

log = logging.getLogger(__name__)

# What happens once every confirmer confirmed (signaling/case_link.py): a short outcome for the
# evidence chain, e.g. {"moved": True, "reason": "interviewed"}.
OnConfirmedByAll = Callable[[InterviewRecord], Awaitable[dict[str, Any]]]

# Record messages per participant: typing fast, a notary saves an entry every few seconds;
# a burst allows a quick series of corrections. Checking a signature decodes an image.
WRITES_PER_SECOND = 1.0
WRITE_BURST = 10
MESSAGES = frozenset(
    {
        "record_entry",
        "record_delivery",
        "record_paper_original",
        "record_close",
        "record_reopen",
        "record_confirm",
    }
)
NOTARY_MESSAGES = MESSAGES - {"record_confirm"}


class InterviewDesk:
    def __init__(
        self,
        room: Room,
        recorder: Callable[[], SessionRecorder | None],
        send: Callable[[str, dict[str, Any]], None],
        *,
        recorded: bool = True,
        on_confirmed_by_all: OnConfirmedByAll | None = None,
    ) -> None:
        self.room = room
        self._on_confirmed_by_all = on_confirmed_by_all
        # Where sessions are recorded, the text is fixed only once the recording runs: a
        # confirmation outside the evidence chain would prove nothing.
        self._recorded = recorded
        self._recorder = recorder
        self._send = send
        consulate = any(p.role is ParticipantRole.SITE_OFFICER for p in room.participants.values())
        self.record = InterviewRecord(room.case_ref, room.id, consulate=consulate)
        self._limits = RateLimiter(rate=WRITES_PER_SECOND, burst=WRITE_BURST, max_keys=8)
        self._recording_since: float | None = None

    # --- the recording clock --------------------------------------------------------------

    def recording_started(self) -> None:
        """Time codes count from now; what was written before goes into the chain now."""
        self._recording_since = time.time()
        for version in self.record.versions:
            self._chain_entry(version)
        if self.record.delivery is not None:
            self._chain("record_delivery", method=self.record.delivery.value)
        if self.record.paper_original is not None:
            self._chain("record_paper_original", **self.record.paper_original.as_dict())

    def time_code(self) -> float | None:
        if self._recording_since is None:
            return None
        return round(time.time() - self._recording_since, 3)

    # --- messages -------------------------------------------------------------------------

    async def handle(self, pid: str, message: Message, token_id: str) -> None:
        participant = self.room.participant(pid)
        role = participant.role
        if message.type in NOTARY_MESSAGES and role is not ParticipantRole.NOTARY:
            raise ProtocolError("forbidden", "only the notary writes the interview record")
        if message.type == "record_confirm" and role.value not in ("applicant", "site_officer"):
            raise ProtocolError("forbidden", "the applicant and the site officer confirm")
        if not self._limits.allow(pid):
            raise ProtocolError("rate_limited", "too many record messages; slow down")
        data = message.data
        try:
            match message.type:
                case "record_entry":
                    self._entry(pid, data)
                case "record_delivery":
                    method = self.record.set_delivery(data["method"])
                    self._chain("record_delivery", method=method.value, by=pid)
                case "record_paper_original":
                    promise = self.record.set_paper_original(
                        data["mission"], data["expected_posting"]
                    )
                    self._chain("record_paper_original", **promise.as_dict(), by=pid)
                case "record_close":
                    self._close(pid)
                case "record_reopen":
                    self.record.reopen()
                    self._chain("record_reopened", by=pid)
                    for target in self._confirmers():
                        self._send(target, {"type": "record_reopened"})
                case "record_confirm":
                    await self._confirm(pid, role.value, data, token_id, message.ref)
        except RecordError as exc:
            raise ProtocolError(exc.code, exc.message) from None
        self._update_notaries()

    def _entry(self, pid: str, data: dict[str, Any]) -> None:
        entry = data.get("entry")
        written = self.record.write(
            data["question"],
            data.get("answer", ""),
            by=pid,
            time_code=self.time_code(),
            entry=entry,
        )
        self._chain_entry(written)

    def _close(self, pid: str) -> None:
        if self._recorded and self._recorder() is None:
            raise RecordError("not_recording", "start the session (and its recording) first")
        digest = self.record.close()
        text = self.record.text()
        needed = self._confirmers()
        self._chain(
            "record_closed",
            text_sha256=digest,
            text=text,
            closing=self.record.closings,
            confirmers=needed,
            by=pid,
        )
        for target in needed:
            self._send(
                target,
                {
                    "type": "record_text",
                    "text": text,
                    "text_sha256": digest,
                    "role": self.room.participant(target).role.value,
                },
            )

    async def _confirm(
        self, pid: str, role: str, data: dict[str, Any], token_id: str, ref: str | None
    ) -> None:
        if self.record.state is not RecordState.CLOSED:
            raise RecordError("record_open", "the notary has not closed the record yet")
        try:
            signature = await asyncio.to_thread(parse_signature, data["signature"])
        except SignatureRejected as exc:
            raise ProtocolError(exc.code, exc.message) from None
        confirmation = self.record.confirm(
            pid,
            role,
            data["text_sha256"],
            signature.sha256,
            passport_checked=data.get("passport_checked"),
            note=data.get("note", ""),
        )
        # The signature itself is sealed with its hash: the chain alone proves what was drawn.
        self._chain(
            "record_confirmed",
            **confirmation.as_dict(),
            token_id=token_id,
            signature_png=signature.base64,
            signature_size=[signature.width, signature.height],
        )
        event = {"type": "record_confirmed", "participant": pid, "role": role, "ref": ref}
        self._send(pid, event)
        if self._on_confirmed_by_all is not None and set(self._confirmers()) <= set(
            self.record.confirmations
        ):
            try:
                outcome = await self._on_confirmed_by_all(self.record)
            except Exception:  # the record stands in the evidence whatever the case does
                log.exception("after the record's confirmation", extra={"room": self.room.id})
            else:
                self._chain("record_case_link", case_ref=self.room.case_ref, **outcome)

    # --- telling and chaining -------------------------------------------------------------

    def _confirmers(self) -> list[str]:
        return [
            p.id
            for p in self.room.participants.values()
            if p.role.value in ("applicant", "site_officer")
        ]

    def _update_notaries(self) -> None:
        record = self.record.summary() | {"time_code": self.time_code()}
        summary = {"type": "record", "record": record}
        for p in self.room.participants.values():
            if p.role is ParticipantRole.NOTARY:
                self._send(p.id, summary)

    def _chain_entry(self, version: EntryVersion) -> None:
        self._chain("record_entry", **version.as_dict())

    def _chain(self, kind: str, **body: Any) -> None:
        recorder = self._recorder()
        if recorder is not None:
            recorder.event(kind, **body)

    def joined(self, pid: str) -> None:
        """Someone (re)connected: the notary gets the record, a confirmer the fixed text."""
        role = self.room.participant(pid).role
        if role is ParticipantRole.NOTARY:
            self._send(pid, {"type": "record", "record": self.record.summary()})
        elif pid in self._confirmers() and self.record.state is RecordState.CLOSED:
            self._send(
                pid,
                {
                    "type": "record_text",
                    "text": self.record.text(),
                    "text_sha256": self.record.text_sha256(),
                    "role": role.value,
                    "confirmed": pid in self.record.confirmations,
                },
            )
