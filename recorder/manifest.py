"""The manifest of a session's evidence: who took part, every chain entry, the sealed head."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.chain import Chain
from recorder.seal import MANIFEST_SCHEMA, manifest_bytes, public_key_fingerprint, sign


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    case_ref: str
    title: str
    retention_class: str
    started_at: str
    ended_at: str
    # Who may play it back (added fields; absent from manifests sealed before they existed).
    office_id: int | None = None
    created_by: str | None = None


@dataclass(frozen=True)
class Sealed:
    manifest: bytes  # canonical JSON: the bytes that are signed and timestamped
    signature: str  # base64 Ed25519


def build_manifest(
    info: SessionInfo,
    participants: list[dict[str, str]],
    chain: Chain,
    key: Ed25519PrivateKey,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    session: dict[str, Any] = {
        "id": info.session_id,
        "case_ref": info.case_ref,
        "title": info.title,
        "started_at": info.started_at,
        "ended_at": info.ended_at,
    }
    if info.office_id is not None:
        session["office_id"] = info.office_id
    if info.created_by is not None:
        session["created_by"] = info.created_by
    return {
        "schema": MANIFEST_SCHEMA,
        "session": session,
        "retention_class": info.retention_class,
        "participants": participants,
        "entries": [entry.as_dict() for entry in chain.entries],
        "chain_head": chain.head,
        "signer": {
            "algorithm": "Ed25519",
            "key_sha256": public_key_fingerprint(key.public_key()),
        },
        **(extra or {}),
    }


def seal(manifest: dict[str, Any], key: Ed25519PrivateKey) -> Sealed:
    data = manifest_bytes(manifest)
    return Sealed(manifest=data, signature=sign(data, key))
