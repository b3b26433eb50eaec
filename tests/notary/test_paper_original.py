"""The paper original's steps: only in order, signed, linked to the seal and to each other."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notary.paper_original import PaperError, PaperStatus, next_step, read_steps, status_of

KEY = Ed25519PrivateKey.generate()
SEAL = "ab" * 32


def _step(steps, status: str, note: str = ""):  # type: ignore[no-untyped-def]
    return next_step(
        steps,
        status,
        note=note,
        at="2026-11-22T06:00:00.000+00:00",
        by="acct",
        manifest_sha256=SEAL,
        key=KEY,
    )


def test_promised_then_posted_then_received() -> None:
    assert status_of([]) is PaperStatus.PROMISED
    with pytest.raises(PaperError, match="promised"):
        _step([], "received")
    with pytest.raises(PaperError) as caught:
        _step([], "lost")
    assert caught.value.code == "invalid"
    posted = _step([], "posted", "EMS EA1")
    received = _step([posted], "received")
    assert status_of([posted, received]) is PaperStatus.RECEIVED
    with pytest.raises(PaperError):
        _step([posted, received], "received")
    documents = [posted.document(), received.document()]
    assert read_steps(documents, SEAL, KEY.public_key()) == [posted, received]
    assert posted.prev_sha256 == SEAL


def test_altered_reordered_or_foreign_addenda_are_caught() -> None:
    posted = _step([], "posted", "EMS EA1")
    received = _step([posted], "received")
    public = KEY.public_key()
    altered = json.loads(posted.document())
    altered["note"] = "EMS EA2"
    for documents in (
        [json.dumps(altered).encode(), received.document()],  # signature no longer matches
        [received.document()],  # one taken away: the link breaks
        [posted.document(), received.document()[:-2] + b"}"],  # not JSON any more
    ):
        with pytest.raises(PaperError):
            read_steps(documents, SEAL, public)
    with pytest.raises(PaperError):
        read_steps([posted.document()], "cd" * 32, public)  # for another seal
    with pytest.raises(PaperError):
        read_steps([posted.document()], SEAL, Ed25519PrivateKey.generate().public_key())
