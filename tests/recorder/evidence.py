"""A small session's evidence built in memory, for verifier and export tests."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.addenda import addendum_name
from recorder.chain import Chain, canonical, sha256_hex
from recorder.keys import public_key_pem
from recorder.manifest import SessionInfo, build_manifest, seal
from recorder.verify import MANIFEST, PUBLIC_KEY, SIGNATURE

AT = "2026-11-22T03:00:00.000+00:00"
INFO = SessionInfo("s-1", "2026-GZ-0001", "委托书公证", "short", AT, AT)
PARTICIPANTS = [
    {"id": "p-notary", "role": "notary", "name": "李"},
    {"id": "p-app", "role": "applicant", "name": "张三"},
]


@dataclass
class DictSource:
    files: dict[str, bytes] = field(default_factory=dict)

    def read(self, name: str) -> bytes | None:
        return self.files.get(name)

    def names(self) -> Iterable[str]:
        return list(self.files)

    def digest(self, name: str) -> tuple[int, str] | None:
        data = self.files.get(name)
        return None if data is None else (len(data), sha256_hex(data))


def build_session(
    key: Ed25519PrivateKey,
    segments_each: int = 3,
    gap: tuple[str, int] | None = None,
    explain_gap: bool = True,
    promised: bool = False,
) -> tuple[DictSource, Chain]:
    """Segments of random bytes for two participants, events around them, sealed;
    `promised`: the applicant promised to post the signed paper original."""
    source = DictSource()
    chain = Chain()
    chain.append("event", AT, {"type": "recording_started"})
    if promised:
        chain.append(
            "event",
            AT,
            {"type": "record_paper_original", "mission": "中国驻柏林大使馆", "by": "p-app"},
        )
    for seq in range(segments_each):
        for participant in ("p-notary", "p-app"):
            if gap == (participant, seq):
                if not explain_gap:
                    continue
                chain.append(
                    "event", AT, {"type": "gap", "participant": participant, "segments": [seq]}
                )
                continue
            data = os.urandom(2048 + seq)
            name = f"{participant}/{seq:06d}.webm"
            source.files[name] = data
            chain.append(
                "segment",
                AT,
                {
                    "participant": participant,
                    "seq": seq,
                    "file": name,
                    "sha256": sha256_hex(data),
                    "size": len(data),
                },
            )
    chain.append("event", AT, {"type": "recording_stopped"})
    sealed = seal(build_manifest(INFO, PARTICIPANTS, chain, key), key)
    source.files[MANIFEST] = sealed.manifest
    source.files[SIGNATURE] = sealed.signature.encode()
    source.files[PUBLIC_KEY] = public_key_pem(key)
    return source, chain


def paper_steps(
    source: DictSource, key: Ed25519PrivateKey, statuses: Iterable[str] = ("posted", "received")
) -> None:
    """The paper original's later steps beside the manifest, as the platform writes them."""
    manifest_sha256 = previous = sha256_hex(source.files[MANIFEST])
    for seq, status in enumerate(statuses):
        body = {
            "schema": "notarylink.paper-original/1",
            "seq": seq,
            "status": status,
            "note": "EMS EA123456789CN",
            "at": AT,
            "by": "李",
            "manifest_sha256": manifest_sha256,
            "prev_sha256": previous,
        }
        signature = base64.b64encode(key.sign(canonical(body))).decode("ascii")
        document = canonical(body | {"signature": signature})
        source.files[addendum_name(seq)] = document
        previous = sha256_hex(document)
