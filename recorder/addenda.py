"""Signed addenda hanging from a sealed manifest, checked without the platform.

The sealed manifest never changes, so what happens to a session's evidence afterwards (the
hand-signed paper original posted, then received: notary/paper_original.py) is written beside
it as addenda, `paper-original/000.json`, `001.json`, ...: canonical JSON naming the SHA-256
of the manifest and of the addendum before it (the manifest's, for the first), signed with
the platform key over the document without its `signature`. This is what anyone can check of
them with the platform's public key alone; the verifier (recorder/verify.py) and the
platform's own API (through notary/paper_original.py) check them with it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from recorder.chain import canonical

ADDENDA_DIR = "paper-original/"
# More than any real history (promised → posted → received is two): a bound on what is read.
MAX_ADDENDA = 8

_NAME = re.compile(r"paper-original/(\d{3})\.json")


class AddendumError(ValueError):
    """An addendum that is not the platform's, or not where its chain says."""


def addendum_name(seq: int) -> str:
    return f"{ADDENDA_DIR}{seq:03d}.json"


def addendum_names(names: Iterable[str]) -> list[str]:
    """The addenda among a session's file names, in their order."""
    return sorted(name for name in names if _NAME.fullmatch(name))


def check_addenda(
    documents: Sequence[bytes], manifest_sha256: str, key: Ed25519PublicKey
) -> list[dict[str, Any]]:
    """Each addendum as a dict, after checking in order that it is a JSON object signed by
    `key` over itself without its signature, that it is the next (`seq`), and that it names
    the manifest and links to the one before. AddendumError names the first that fails."""
    addenda: list[dict[str, Any]] = []
    previous = manifest_sha256
    for seq, raw in enumerate(documents):
        try:
            document = json.loads(raw)
            body = {k: v for k, v in document.items() if k != "signature"}
            signature = base64.b64decode(document["signature"], validate=True)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AddendumError(f"addendum {seq} is malformed") from None
        try:
            key.verify(signature, canonical(body))
        except (InvalidSignature, ValueError):
            raise AddendumError(f"addendum {seq} is not signed by the platform") from None
        if (
            body.get("seq") != seq
            or body.get("manifest_sha256") != manifest_sha256
            or body.get("prev_sha256") != previous
        ):
            raise AddendumError(f"addendum {seq} does not follow the one before")
        addenda.append(document)
        previous = hashlib.sha256(raw).hexdigest()
    return addenda
