"""The verifier finds every kind of tampering and says what it found."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.addenda import addendum_name
from recorder.chain import canonical
from recorder.manifest import seal
from recorder.timestamp import request_timestamp
from recorder.verify import MANIFEST, PUBLIC_KEY, SIGNATURE, TIMESTAMP, verify
from tests.recorder.evidence import DictSource, build_session, paper_steps

pytestmark = pytest.mark.unit


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _failed(report) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.name: c.message for c in report.checks if not c.ok}


def test_intact_evidence_verifies(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    progress: list[tuple[int, int]] = []
    report = verify(
        source, trusted_key=key.public_key(), progress=lambda i, n: progress.append((i, n))
    )
    assert report.ok, report.as_dict()
    assert report.session_id == "s-1"
    assert progress[-1] == (6, 6)
    assert {c.name for c in report.checks} == {
        "manifest",
        "signature",
        "timestamp",
        "chain",
        "segments",
    }


def test_one_byte_flipped_in_a_segment(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    data = bytearray(source.files["p-app/000001.webm"])
    data[100] ^= 0x01
    source.files["p-app/000001.webm"] = bytes(data)
    failed = _failed(verify(source, trusted_key=key.public_key()))
    assert failed == {
        "segments": "p-app/000001.webm: content differs from its sealed hash (altered)"
    }


def test_a_segment_removed(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    del source.files["p-notary/000002.webm"]
    assert _failed(verify(source, trusted_key=key.public_key())) == {
        "segments": "p-notary/000002.webm: missing"
    }


def test_two_segments_swapped(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    files = source.files
    files["p-app/000000.webm"], files["p-app/000001.webm"] = (
        files["p-app/000001.webm"],
        files["p-app/000000.webm"],
    )
    message = _failed(verify(source, trusted_key=key.public_key()))["segments"]
    assert "p-app/000000.webm" in message and "p-app/000001.webm" in message


def test_manifest_edited_breaks_the_signature(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    manifest = json.loads(source.files[MANIFEST])
    manifest["session"]["case_ref"] = "2026-GZ-9999"
    source.files[MANIFEST] = canonical(manifest)
    assert (
        "changed after sealing"
        in _failed(verify(source, trusted_key=key.public_key()))["signature"]
    )


def test_an_entry_removed_and_resealed_by_someone_else(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    manifest = json.loads(source.files[MANIFEST])
    del manifest["entries"][2]
    forger = Ed25519PrivateKey.generate()
    manifest["signer"]["key_sha256"] = "forged"
    source.files[MANIFEST] = seal(manifest, forger).manifest
    failed = _failed(verify(source, trusted_key=key.public_key()))
    assert "signer key" in failed["signature"]
    assert "sequence number" in failed["chain"]


def test_signature_from_another_key(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    other = Ed25519PrivateKey.generate()
    source.files[SIGNATURE] = seal(json.loads(source.files[MANIFEST]), other).signature.encode()
    assert "another key" in _failed(verify(source, trusted_key=key.public_key()))["signature"]


def test_package_key_is_used_when_none_is_pinned_and_the_report_says_so(
    key: Ed25519PrivateKey,
) -> None:
    source, _ = build_session(key)
    report = verify(source)
    assert report.ok
    assert "shipped in the package" in next(
        c.message for c in report.checks if c.name == "signature"
    )
    del source.files[PUBLIC_KEY]
    assert not verify(source).ok


def test_cut_off_chain_is_detected(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    manifest = json.loads(source.files[MANIFEST])
    manifest["entries"] = manifest["entries"][:-1]  # drop the last entry, keep the sealed head
    source.files[MANIFEST] = seal(manifest, key).manifest
    source.files[SIGNATURE] = seal(manifest, key).signature.encode()
    assert "cut off" in _failed(verify(source, trusted_key=key.public_key()))["chain"]


def test_missing_segment_needs_a_gap_event(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key, gap=("p-app", 1))
    assert verify(source, trusted_key=key.public_key()).ok
    source, _ = build_session(key, gap=("p-app", 1), explain_gap=False)
    assert _failed(verify(source, trusted_key=key.public_key())) == {
        "segments": "participant p-app: segment numbers [1] are not in the chain and no gap "
        "event explains them"
    }


@pytest.mark.integration
async def test_timestamp_from_a_real_tsa_verifies_and_one_for_another_hash_is_caught(
    key: Ed25519PrivateKey, tsa: tuple[str, bytes]
) -> None:
    url, root = tsa
    source, _ = build_session(key)
    source.files[TIMESTAMP] = await request_timestamp(url, source.files[MANIFEST])
    report = verify(source, trusted_key=key.public_key(), tsa_roots=[root])
    assert report.ok, report.as_dict()
    assert "sealed no later than" in next(c.message for c in report.checks if c.name == "timestamp")

    # A genuine token, but for other data: the manifest it would vouch for is not this one.
    source.files[TIMESTAMP] = await request_timestamp(url, b"another manifest")
    failed = _failed(verify(source, trusted_key=key.public_key(), tsa_roots=[root]))
    assert "another hash" in failed["timestamp"]
    assert "no TSA root" in _failed(verify(source, trusted_key=key.public_key()))["timestamp"]


def test_missing_or_broken_manifest() -> None:
    assert _failed(verify(DictSource())) == {
        "manifest": "manifest.json is missing: nothing can be verified"
    }
    assert not verify(DictSource({MANIFEST: b"[]"})).ok


def test_the_paper_originals_steps_verify(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key, promised=True)
    paper_steps(source, key)
    report = verify(source, trusted_key=key.public_key())
    assert report.ok, report.as_dict()
    (check,) = [c for c in report.checks if c.name == "paper_original"]
    assert check.message.startswith("promised → posted (") and "→ received (" in check.message


def test_a_promise_with_no_step_yet_says_so(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key, promised=True)
    report = verify(source, trusted_key=key.public_key())
    assert report.ok
    assert {c.name: c.message for c in report.checks}["paper_original"] == (
        "promised in the session; no later step in this evidence"
    )


def test_a_paper_step_removed_edited_or_for_another_seal_is_caught(
    key: Ed25519PrivateKey,
) -> None:
    source, _ = build_session(key, promised=True)
    paper_steps(source, key)
    removed = DictSource(dict(source.files))
    del removed.files[addendum_name(0)]
    assert (
        "paper-original/000.json"
        in _failed(verify(removed, trusted_key=key.public_key()))["paper_original"]
    )

    edited = DictSource(dict(source.files))
    step = json.loads(edited.files[addendum_name(1)])
    step["status"] = "lost"
    edited.files[addendum_name(1)] = canonical(step)
    assert _failed(verify(edited, trusted_key=key.public_key())) == {
        "paper_original": "addendum 1 is not signed by the platform"
    }

    # The steps of one seal beside another seal: signed, but they do not name it.
    other, _ = build_session(key, promised=True)
    for name in (addendum_name(0), addendum_name(1)):
        other.files[name] = source.files[name]
    assert _failed(verify(other, trusted_key=key.public_key())) == {
        "paper_original": "addendum 0 does not follow the one before"
    }

    forged = DictSource(dict(source.files))
    paper_steps(forged, Ed25519PrivateKey.generate())
    assert _failed(verify(forged, trusted_key=key.public_key())) == {
        "paper_original": "addendum 0 is not signed by the platform"
    }


def test_paper_steps_without_a_promise_are_caught(key: Ed25519PrivateKey) -> None:
    source, _ = build_session(key)
    paper_steps(source, key, ["posted"])
    assert _failed(verify(source, trusted_key=key.public_key())) == {
        "paper_original": "steps of a paper original no one promised"
    }
