"""Consent to face processing, and how long face templates live.

Every processing API of identity/ takes a `Consent` and calls `require()` before touching a
face: without the object there is no way to call them, and a withdrawn consent stops them at
the next frame. The caller (signaling) records the consent the applicant gave in the
pre-join check; identity does not decide whether it was given, it refuses to work without it.

Templates (face encodings) and ID crops are biometric data: they live in a `TemplateStore`
only while the case is open and are deleted (arrays zeroed, references dropped) when it
closes or consent is withdrawn. The evidence keeps scores, never templates.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt


class Purpose(StrEnum):
    ID_PHOTO = "id_photo"  # locate and encode the face on the ID document
    FACE_MATCH = "face_match"  # compare the live video with the ID face
    LIVENESS = "liveness"  # landmark-based liveness challenge


ALL_PURPOSES = frozenset(Purpose)


class ConsentError(PermissionError):
    """Face processing was asked for without a valid consent."""


@dataclass(slots=True)
class Consent:
    """What one applicant agreed to, for one case."""

    case_ref: str
    subject: str  # the participant (applicant) the faces belong to
    purposes: frozenset[Purpose]
    text_version: str  # which consent text was shown
    given_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    withdrawn_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        if not self.case_ref or not self.subject:
            raise ConsentError("a consent names a case and a subject")
        if not self.purposes:
            raise ConsentError("a consent names at least one purpose")
        if not self.text_version:
            raise ConsentError("a consent records which consent text was shown")

    @classmethod
    def record(
        cls,
        case_ref: str,
        subject: str,
        *,
        text_version: str,
        purposes: frozenset[Purpose] = ALL_PURPOSES,
    ) -> Consent:
        return cls(case_ref, subject, frozenset(purposes), text_version)

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    def withdraw(self) -> None:
        if self.withdrawn_at is None:
            self.withdrawn_at = dt.datetime.now(dt.UTC)

    def require(self, purpose: Purpose) -> None:
        if self.withdrawn_at is not None:
            raise ConsentError(f"consent for case {self.case_ref} was withdrawn")
        if purpose not in self.purposes:
            raise ConsentError(f"consent for case {self.case_ref} does not cover {purpose}")


def require_consent(consent: object, purpose: Purpose) -> Consent:
    """`consent.require(purpose)` for values whose type is not known statically."""
    if not isinstance(consent, Consent):
        raise ConsentError("face processing needs a Consent record")
    consent.require(purpose)
    return consent


@dataclass(slots=True)
class StoredTemplate:
    """One template (and optionally the ID face crop) held for an open case."""

    case_ref: str
    subject: str
    encoding: npt.NDArray[np.float64]
    crop_jpeg: bytes | None
    created_at: dt.datetime


class TemplateStore:
    """In-memory templates per open case; deleted on close, never persisted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], StoredTemplate] = {}
        self.deleted = 0

    def put(
        self,
        consent: Consent,
        encoding: npt.NDArray[np.float64],
        crop_jpeg: bytes | None = None,
    ) -> StoredTemplate:
        consent.require(Purpose.ID_PHOTO)
        item = StoredTemplate(
            consent.case_ref,
            consent.subject,
            np.array(encoding, dtype=np.float64, copy=True),
            crop_jpeg,
            dt.datetime.now(dt.UTC),
        )
        with self._lock:
            old = self._items.get((consent.case_ref, consent.subject))
            if old is not None:
                _wipe(old)
            self._items[(consent.case_ref, consent.subject)] = item
        return item

    def get(self, consent: Consent) -> StoredTemplate | None:
        """The subject's template, for a consent that still holds."""
        consent.require(Purpose.FACE_MATCH)
        with self._lock:
            return self._items.get((consent.case_ref, consent.subject))

    def __contains__(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def delete_subject(self, case_ref: str, subject: str) -> bool:
        """Delete one subject's template (consent withdrawn); True if there was one."""
        with self._lock:
            item = self._items.pop((case_ref, subject), None)
        if item is None:
            return False
        _wipe(item)
        self.deleted += 1
        return True

    def close_case(self, case_ref: str) -> int:
        """The case is closed: delete every template of it; returns how many."""
        with self._lock:
            keys = [key for key in self._items if key[0] == case_ref]
            items = [self._items.pop(key) for key in keys]
        for item in items:
            _wipe(item)
        self.deleted += len(items)
        return len(items)


def _wipe(item: StoredTemplate) -> None:
    # Best effort in Python: zero the array in place and drop the crop bytes, so that other
    # references to this object stop carrying the biometric data.
    item.encoding.fill(0.0)
    item.crop_jpeg = None
