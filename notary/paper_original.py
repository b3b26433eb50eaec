"""The hand-signed paper original of a consulate case, tracked until it arrives.

In the session the applicant promises (record_paper_original in the evidence chain) to post the
signed original through the mission. After the session the notary moves it on: promised →
posted → received. Each step is one addendum to the session's evidence: a small JSON document
that names the sealed manifest's SHA-256, the previous addendum's SHA-256 and the step, signed
with the platform key, written once under object lock next to the manifest. The sealed manifest
never changes; the addenda form their own short chain hanging from it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from recorder.addenda import AddendumError, check_addenda
from recorder.chain import canonical

SCHEMA = "notarylink.paper-original/1"
MAX_NOTE_CHARS = 500


class PaperStatus(StrEnum):
    PROMISED = "promised"
    POSTED = "posted"
    RECEIVED = "received"


NEXT = {PaperStatus.PROMISED: PaperStatus.POSTED, PaperStatus.POSTED: PaperStatus.RECEIVED}


class PaperError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Step:
    seq: int
    status: PaperStatus
    note: str
    at: str
    by: str
    manifest_sha256: str
    prev_sha256: str
    signature: str

    def body(self) -> dict[str, Any]:
        """What the signature covers."""
        return {
            "schema": SCHEMA,
            "seq": self.seq,
            "status": self.status.value,
            "note": self.note,
            "at": self.at,
            "by": self.by,
            "manifest_sha256": self.manifest_sha256,
            "prev_sha256": self.prev_sha256,
        }

    def document(self) -> bytes:
        return canonical(self.body() | {"signature": self.signature})

    def as_dict(self) -> dict[str, Any]:
        return self.body() | {"sha256": hashlib.sha256(self.document()).hexdigest()}


def status_of(steps: list[Step]) -> PaperStatus:
    return steps[-1].status if steps else PaperStatus.PROMISED


def next_step(
    steps: list[Step],
    status: str,
    *,
    note: str,
    at: str,
    by: str,
    manifest_sha256: str,
    key: Ed25519PrivateKey,
) -> Step:
    """The signed step that moves the original on; PaperError when the move is not next."""
    try:
        wanted = PaperStatus(status)
    except ValueError:
        raise PaperError("invalid", "the status is 'posted' or 'received'") from None
    current = status_of(steps)
    if NEXT.get(current) is not wanted:
        raise PaperError("bad_state", f"the paper original is {current.value}, not before {status}")
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise PaperError("too_large", f"a note has at most {MAX_NOTE_CHARS} characters")
    prev = hashlib.sha256(steps[-1].document()).hexdigest() if steps else manifest_sha256
    unsigned = Step(len(steps), wanted, note, at, by, manifest_sha256, prev, "")
    signature = base64.b64encode(key.sign(canonical(unsigned.body()))).decode("ascii")
    return Step(len(steps), wanted, note, at, by, manifest_sha256, prev, signature)


def read_steps(
    documents: list[bytes], manifest_sha256: str, public_key: Ed25519PublicKey
) -> list[Step]:
    """The addenda in order, each checked: signature, manifest and link to the one before
    (recorder/addenda.py), then read as steps."""
    try:
        addenda = check_addenda(documents, manifest_sha256, public_key)
    except AddendumError as exc:
        raise PaperError("addendum_invalid", str(exc)) from None
    steps: list[Step] = []
    for seq, data in enumerate(addenda):
        try:
            step = Step(
                seq=int(data["seq"]),
                status=PaperStatus(data["status"]),
                note=str(data["note"]),
                at=str(data["at"]),
                by=str(data["by"]),
                manifest_sha256=str(data["manifest_sha256"]),
                prev_sha256=str(data["prev_sha256"]),
                signature=str(data["signature"]),
            )
        except (ValueError, KeyError, TypeError):
            raise PaperError("addendum_invalid", f"addendum {seq} is malformed") from None
        if step.document() != documents[seq]:
            # Signed, but not a step of this schema (fields beyond or missing).
            raise PaperError("addendum_invalid", f"addendum {seq} is malformed")
        steps.append(step)
    return steps
