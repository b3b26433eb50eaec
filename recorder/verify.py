"""The verifier: checks a session's evidence with no trust in the server that made it.

Given the files of one session (from an exported package or from the store) it checks the
manifest's signature, its timestamp, the hash chain, every segment's hash and size, that no
segment is missing without a gap event saying so, and the paper original's later steps (signed
addenda beside the manifest, recorder/addenda.py). Every failure is reported with what it
means.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from recorder.addenda import (
    MAX_ADDENDA,
    AddendumError,
    addendum_name,
    addendum_names,
    check_addenda,
)
from recorder.chain import Entry, verify_chain
from recorder.seal import MANIFEST_SCHEMA, load_public_key, public_key_fingerprint, signature_valid
from recorder.timestamp import TimestampError, verify_timestamp

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
TIMESTAMP = "manifest.tsr"
PUBLIC_KEY = "public-key.pem"


class EvidenceSource(Protocol):
    """Where the files of one session are read from (a zip package, the object store)."""

    def read(self, name: str) -> bytes | None:
        """The file's bytes, or None when it is absent."""

    def names(self) -> Iterable[str]: ...

    def digest(self, name: str) -> tuple[int, str] | None:
        """Size and SHA-256 of the file, streamed (segments can be large), or None if absent."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str


@dataclass
class Report:
    session_id: str | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    def add(self, name: str, ok: bool, message: str) -> None:
        self.checks.append(Check(name, ok, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in self.checks],
        }


def verify(
    source: EvidenceSource,
    *,
    trusted_key: Ed25519PublicKey | None = None,
    tsa_roots: Sequence[bytes] = (),
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Check everything; `trusted_key` pins the platform key (else the package's own is used
    and the report says so); `tsa_roots` are the TSA root certificates trusted for the RFC 3161
    token (a court takes them from the TSA, not from the package)."""
    report = Report()
    raw = source.read(MANIFEST)
    if raw is None:
        report.add("manifest", False, "manifest.json is missing: nothing can be verified")
        return report
    try:
        manifest = json.loads(raw)
        assert isinstance(manifest, dict)
    except (ValueError, AssertionError):
        report.add("manifest", False, "manifest.json is not a JSON object")
        return report
    report.session_id = str(manifest.get("session", {}).get("id"))
    if manifest.get("schema") != MANIFEST_SCHEMA:
        report.add("manifest", False, f"unknown schema {manifest.get('schema')!r}")
        return report
    report.add("manifest", True, f"schema {MANIFEST_SCHEMA}")
    key = _check_signature(source, raw, manifest, trusted_key, report)
    _check_timestamp(source, raw, tsa_roots, report)
    entries = _check_chain(manifest, report)
    if entries is not None:
        _check_segments(source, entries, report, progress)
        _check_paper_original(source, raw, entries, key, report)
    return report


def _check_signature(
    source: EvidenceSource,
    raw: bytes,
    manifest: dict[str, Any],
    trusted_key: Ed25519PublicKey | None,
    report: Report,
) -> Ed25519PublicKey | None:
    """The platform key, where the manifest's signature is valid with it."""
    signature = source.read(SIGNATURE)
    if signature is None:
        report.add("signature", False, "manifest.sig is missing: the manifest is not sealed")
        return None
    key = trusted_key
    origin = "the pinned platform key"
    if key is None:
        pem = source.read(PUBLIC_KEY)
        if pem is None:
            report.add("signature", False, "no public key to check the signature with")
            return None
        try:
            key = load_public_key(pem)
        except ValueError as exc:
            report.add("signature", False, f"public-key.pem is not usable: {exc}")
            return None
        origin = "the key shipped in the package (compare its fingerprint with the published one)"
    fingerprint = public_key_fingerprint(key)
    declared = manifest.get("signer", {}).get("key_sha256")
    if declared != fingerprint:
        report.add(
            "signature", False, f"the manifest names signer key {declared}, not {fingerprint}"
        )
        return None
    if not signature_valid(raw, signature.decode("ascii", "replace").strip(), key):
        report.add(
            "signature",
            False,
            "the signature does not match: the manifest was changed after sealing, or it was "
            "signed with another key",
        )
        return None
    report.add("signature", True, f"Ed25519 signature valid; key {fingerprint[:16]}… ({origin})")
    return key


def _check_timestamp(
    source: EvidenceSource, raw: bytes, tsa_roots: Sequence[bytes], report: Report
) -> None:
    token = source.read(TIMESTAMP)
    if token is None:
        report.add("timestamp", True, "no RFC 3161 timestamp (none was configured)")
        return
    if not tsa_roots:
        report.add(
            "timestamp", False, "a timestamp token is present but no TSA root was given to check it"
        )
        return
    try:
        info = verify_timestamp(token, raw, tsa_roots)
    except TimestampError as exc:
        report.add("timestamp", False, str(exc))
        return
    report.add(
        "timestamp",
        True,
        f"sealed no later than {info.gen_time.isoformat()} by {info.tsa_name} "
        f"(serial {info.serial_number})",
    )


def _check_chain(manifest: dict[str, Any], report: Report) -> list[Entry] | None:
    try:
        entries = [Entry.from_dict(item) for item in manifest["entries"]]
    except (KeyError, TypeError, ValueError):
        report.add("chain", False, "the manifest's entries are malformed")
        return None
    problems = verify_chain(entries)
    head = entries[-1].hash if entries else None
    if head != manifest.get("chain_head"):
        problems.append("the chain does not end at the sealed head: entries were cut off")
    if problems:
        report.add("chain", False, "; ".join(problems))
        return None
    report.add("chain", True, f"{len(entries)} entries, each linked to the one before")
    return entries


def _check_segments(
    source: EvidenceSource,
    entries: list[Entry],
    report: Report,
    progress: Callable[[int, int], None] | None,
) -> None:
    segments = [e for e in entries if e.kind == "segment"]
    failures: list[str] = []
    seen: dict[str, set[int]] = {}
    listed: set[str] = set()
    for index, entry in enumerate(segments):
        body = entry.body
        name = str(body.get("file"))
        listed.add(name)
        seen.setdefault(str(body.get("participant")), set()).add(int(body.get("seq", -1)))
        found = source.digest(name)
        if found is None:
            failures.append(f"{name}: missing")
        elif found[0] != body.get("size"):
            failures.append(f"{name}: {found[0]} bytes, the chain says {body.get('size')}")
        elif found[1] != body.get("sha256"):
            failures.append(f"{name}: content differs from its sealed hash (altered)")
        if progress is not None:
            progress(index + 1, len(segments))
    gaps = _declared_gaps(entries)
    for participant, numbers in sorted(seen.items()):
        missing = set(range(max(numbers) + 1)) - numbers - gaps.get(participant, set())
        if missing:
            failures.append(
                f"participant {participant}: segment numbers {sorted(missing)} are not in the "
                "chain and no gap event explains them"
            )
    if failures:
        report.add("segments", False, "; ".join(failures))
    else:
        report.add("segments", True, f"{len(segments)} segments present, hashes match")


def _declared_gaps(entries: list[Entry]) -> dict[str, set[int]]:
    gaps: dict[str, set[int]] = {}
    for entry in entries:
        if entry.kind == "event" and entry.body.get("type") == "gap":
            numbers = entry.body.get("segments", [])
            gaps.setdefault(str(entry.body.get("participant")), set()).update(
                int(n) for n in numbers
            )
    return gaps


def _check_paper_original(
    source: EvidenceSource,
    raw: bytes,
    entries: list[Entry],
    key: Ed25519PublicKey | None,
    report: Report,
) -> None:
    """The paper original promised in the session, and its later steps (addenda)."""
    promised = any(
        e.kind == "event" and e.body.get("type") == "record_paper_original" for e in entries
    )
    names = addendum_names(source.names())
    if not names:
        if promised:
            report.add(
                "paper_original", True, "promised in the session; no later step in this evidence"
            )
        return
    expected = [addendum_name(seq) for seq in range(len(names))]
    if not promised:
        report.add("paper_original", False, "steps of a paper original no one promised")
    elif len(names) > MAX_ADDENDA:
        report.add("paper_original", False, f"{len(names)} steps: more than any original has")
    elif names != expected:
        missing = sorted(set(expected) - set(names))
        report.add(
            "paper_original",
            False,
            f"{missing[0] if missing else names[-1]}: the paper original's steps are not "
            "numbered 000, 001, ... without a gap (one was removed, or added)",
        )
    elif key is None:
        report.add(
            "paper_original", False, "its steps cannot be checked without a valid platform key"
        )
    else:
        documents = [source.read(name) or b"" for name in names]
        try:
            addenda = check_addenda(documents, hashlib.sha256(raw).hexdigest(), key)
        except AddendumError as exc:
            report.add("paper_original", False, str(exc))
            return
        steps = " → ".join(f"{a.get('status')} ({a.get('at')}, {a.get('by')})" for a in addenda)
        report.add("paper_original", True, f"promised → {steps}; each step signed and linked")
