"""Sealing a session's manifest: an Ed25519 signature over its exact bytes.

The manifest is stored as canonical JSON, so the file's bytes are what is signed, what is
timestamped, and what any verifier hashes: nothing is re-serialized between them.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from recorder.chain import canonical, sha256_hex

MANIFEST_SCHEMA = "notarylink.evidence/1"


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    if manifest.get("schema") != MANIFEST_SCHEMA:
        raise ValueError(f"a manifest declares schema {MANIFEST_SCHEMA!r}")
    return canonical(manifest)


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sha256_hex(raw)


def sign(data: bytes, key: Ed25519PrivateKey) -> str:
    """A detached signature, base64 (standard alphabet)."""
    return base64.b64encode(key.sign(data)).decode("ascii")


def signature_valid(data: bytes, signature_b64: str, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key
