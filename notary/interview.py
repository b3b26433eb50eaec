"""The interview record (询问笔录) of one session: pure state and rules, no I/O.

The notary writes question/answer entries while the record is open; an edit is a new version
of the entry (every version is kept, the evidence chain gets each one). Each entry carries the
recording time code: seconds since the recording started, or None before it did. The record
also says how the certificate will be delivered and, for a consulate case, the promise to post
the hand-signed paper original through the mission. The notary closes the record; its text is
then fixed (`text()`, `text_sha256()`), and each confirmer (the applicant, the site officer)
confirms exactly that text with a drawn signature. The site officer's confirmation carries the
attestation that they checked the applicant's passport in person. Reopening (to correct
something) drops the confirmations: a changed text must be read and signed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from notary.delivery import Method

MAX_ENTRIES = 200  # questions in one interview; a long one has a few dozen
MAX_VERSIONS = 20  # edits of one entry
MAX_FIELD_CHARS = 4000  # one question or one answer
MAX_RECORD_CHARS = 200_000  # the whole text, so the sealed manifest stays small
MAX_MISSION_CHARS = 200
MAX_NOTE_CHARS = 500
CONFIRMER_ROLES = ("applicant", "site_officer")
DELIVERY_NAMES = {
    Method.POST: "邮寄 / by post",
    Method.ELECTRONIC: "电子送达 / electronically",
    Method.PICKUP: "公证处领取 / picked up at the office",
}


class RecordError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RecordState(StrEnum):
    OPEN = "open"  # the notary writes
    CLOSED = "closed"  # the text is fixed; confirmers read and sign it


@dataclass(frozen=True)
class EntryVersion:
    entry: int  # 1, 2, … in the order the entries were first written
    version: int  # 1 for the first text, then one more per edit
    question: str
    answer: str
    time_code: float | None  # when the question was asked (kept through edits)
    written_time_code: float | None  # when this version was written
    by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "version": self.version,
            "question": self.question,
            "answer": self.answer,
            "time_code": self.time_code,
            "written_time_code": self.written_time_code,
            "by": self.by,
        }


@dataclass(frozen=True)
class PaperOriginal:
    """The applicant's promise to post the hand-signed paper original through the mission."""

    mission: str
    expected_posting: date

    def as_dict(self) -> dict[str, Any]:
        return {"mission": self.mission, "expected_posting": self.expected_posting.isoformat()}


@dataclass(frozen=True)
class Confirmation:
    participant: str
    role: str
    text_sha256: str
    signature_sha256: str
    passport_checked: bool | None  # the site officer's attestation; None for the applicant
    note: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "participant": self.participant,
            "role": self.role,
            "text_sha256": self.text_sha256,
            "signature_sha256": self.signature_sha256,
            "passport_checked": self.passport_checked,
            "note": self.note,
        }


def _clean(value: str, name: str, limit: int, *, required: bool = True) -> str:
    text = value.replace("\r\n", "\n").strip()
    if required and not text:
        raise RecordError("invalid", f"'{name}' must not be blank")
    if len(text) > limit:
        raise RecordError("too_large", f"'{name}' has at most {limit} characters")
    if any(ord(ch) < 32 and ch not in "\n\t" for ch in text):
        raise RecordError("invalid", f"'{name}' has control characters")
    return text


def format_time_code(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--"
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@dataclass
class InterviewRecord:
    case_ref: str
    session_id: str
    consulate: bool = False  # a site officer takes part: the paper original is promised
    state: RecordState = RecordState.OPEN
    versions: list[EntryVersion] = field(default_factory=list)  # every version, in order
    delivery: Method | None = None
    paper_original: PaperOriginal | None = None
    confirmations: dict[str, Confirmation] = field(default_factory=dict)
    closings: int = 0  # how many times the text was fixed (a reopened record is closed again)

    # --- writing (the notary) -------------------------------------------------------------

    def current(self) -> list[EntryVersion]:
        """The latest version of each entry, in entry order."""
        latest: dict[int, EntryVersion] = {}
        for version in self.versions:
            latest[version.entry] = version
        return [latest[k] for k in sorted(latest)]

    def _require_open(self) -> None:
        if self.state is not RecordState.OPEN:
            raise RecordError("record_closed", "the record is closed; reopen it to change it")

    def write(
        self,
        question: str,
        answer: str,
        *,
        by: str,
        time_code: float | None,
        entry: int | None = None,
    ) -> EntryVersion:
        """A new entry, or (with `entry`) a new version of an existing one."""
        self._require_open()
        question = _clean(question, "question", MAX_FIELD_CHARS)
        answer = _clean(answer, "answer", MAX_FIELD_CHARS, required=False)
        stamp = None if time_code is None else round(max(time_code, 0.0), 3)
        if entry is None:
            if len(self.current()) >= MAX_ENTRIES:
                raise RecordError("too_many", f"a record has at most {MAX_ENTRIES} entries")
            number, version, asked = len(self.current()) + 1, 1, stamp
        else:
            previous = [v for v in self.versions if v.entry == entry]
            if not previous:
                raise RecordError("unknown_entry", f"there is no entry {entry}")
            if len(previous) >= MAX_VERSIONS:
                raise RecordError("too_many", f"an entry has at most {MAX_VERSIONS} versions")
            number, version, asked = entry, previous[-1].version + 1, previous[0].time_code
        written = EntryVersion(number, version, question, answer, asked, stamp, by)
        self.versions.append(written)
        if len(self.text()) > MAX_RECORD_CHARS:
            self.versions.pop()
            raise RecordError("too_large", f"a record has at most {MAX_RECORD_CHARS} characters")
        return written

    def set_delivery(self, method: str) -> Method:
        self._require_open()
        try:
            self.delivery = Method(method)
        except ValueError:
            names = ", ".join(m.value for m in Method)
            raise RecordError("invalid", f"the delivery method is one of {names}") from None
        return self.delivery

    def set_paper_original(self, mission: str, expected_posting: str) -> PaperOriginal:
        self._require_open()
        if not self.consulate:
            raise RecordError("not_consulate", "a paper original is promised in consulate cases")
        name = _clean(mission, "mission", MAX_MISSION_CHARS)
        try:
            when = date.fromisoformat(expected_posting)
        except ValueError:
            raise RecordError("invalid", "'expected_posting' is a date, YYYY-MM-DD") from None
        self.paper_original = PaperOriginal(name, when)
        return self.paper_original

    # --- fixing the text ------------------------------------------------------------------

    def close(self) -> str:
        """Fix the text for confirmation; returns its SHA-256."""
        self._require_open()
        if not self.versions:
            raise RecordError("empty", "write at least one entry before closing the record")
        if self.delivery is None:
            raise RecordError("delivery_missing", "record how the certificate will be delivered")
        if self.consulate and self.paper_original is None:
            raise RecordError(
                "paper_original_missing", "record the promise to post the paper original"
            )
        self.state = RecordState.CLOSED
        self.closings += 1
        return self.text_sha256()

    def reopen(self) -> None:
        if self.state is not RecordState.CLOSED:
            raise RecordError("record_open", "the record is open already")
        self.state = RecordState.OPEN
        self.confirmations.clear()

    def text(self) -> str:
        """The record as the confirmers read it: one text, the same bytes every time."""
        lines = [
            "询问笔录 / Interview record",
            f"案件 / Case: {self.case_ref}",
            f"会话 / Session: {self.session_id}",
            "",
        ]
        for item in self.current():
            edited = f" (第{item.version}稿 / version {item.version})" if item.version > 1 else ""
            lines.append(f"{item.entry}. [{format_time_code(item.time_code)}]{edited}")
            lines.append(f"问 / Q: {item.question}")
            lines.append(f"答 / A: {item.answer}")
            lines.append("")
        method = DELIVERY_NAMES[self.delivery] if self.delivery else "—"
        lines.append(f"证书送达方式 / Certificate delivery: {method}")
        if self.paper_original is not None:
            lines.append(
                "纸质原件 / Paper original: 申请人承诺经 "
                f"{self.paper_original.mission} 寄送亲笔签署的原件，预计寄出日期 "
                f"{self.paper_original.expected_posting.isoformat()} / the applicant promises "
                f"to post the hand-signed original through {self.paper_original.mission}, "
                f"expected to be posted on {self.paper_original.expected_posting.isoformat()}"
            )
        return "\n".join(lines) + "\n"

    def text_sha256(self) -> str:
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()

    # --- confirming (applicant, site officer) ---------------------------------------------

    def confirm(
        self,
        participant: str,
        role: str,
        text_sha256: str,
        signature_sha256: str,
        *,
        passport_checked: bool | None = None,
        note: str = "",
    ) -> Confirmation:
        if role not in CONFIRMER_ROLES:
            raise RecordError("forbidden", "the applicant and the site officer confirm")
        if self.state is not RecordState.CLOSED:
            raise RecordError("record_open", "the notary has not closed the record yet")
        if text_sha256 != self.text_sha256():
            raise RecordError("text_changed", "the record changed: read it again and confirm")
        if participant in self.confirmations:
            raise RecordError("already_confirmed", "you have confirmed this record already")
        if role == "site_officer":
            if passport_checked is not True:
                raise RecordError(
                    "attestation_missing",
                    "the site officer attests the in-person passport check to confirm",
                )
        else:
            passport_checked = None
        confirmation = Confirmation(
            participant,
            role,
            text_sha256,
            signature_sha256,
            passport_checked,
            _clean(note, "note", MAX_NOTE_CHARS, required=False),
        )
        self.confirmations[participant] = confirmation
        return confirmation

    def summary(self) -> dict[str, Any]:
        """What the notary's console shows."""
        return {
            "state": self.state.value,
            "entries": [v.as_dict() for v in self.current()],
            "versions": len(self.versions),
            "delivery": self.delivery.value if self.delivery else None,
            "paper_original": self.paper_original.as_dict() if self.paper_original else None,
            "consulate": self.consulate,
            "text_sha256": self.text_sha256() if self.state is RecordState.CLOSED else None,
            "confirmations": [c.as_dict() for c in self.confirmations.values()],
        }
