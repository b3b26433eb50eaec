"""recorder/addenda.py: the paper original's steps, checked with the platform's public key
alone."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.addenda import AddendumError, addendum_name, addendum_names, check_addenda
from recorder.chain import sha256_hex
from recorder.verify import MANIFEST
from tests.recorder.evidence import build_session, paper_steps

pytestmark = pytest.mark.unit


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _steps(key: Ed25519PrivateKey, count: int = 2) -> tuple[list[bytes], str]:
    source, _ = build_session(key, segments_each=1, promised=True)
    paper_steps(source, key, ["posted", "received", "received"][:count])
    return [source.files[addendum_name(seq)] for seq in range(count)], sha256_hex(
        source.files[MANIFEST]
    )


def test_the_names_are_the_addenda_only_in_order() -> None:
    names = [
        "paper-original/001.json",
        "p-app/000001.webm",
        "paper-original/000.json",
        "paper-original/x.json",
        "paper-original/0002.json",
        "paper-original/002.json.bak",
        "manifest.json",
    ]
    assert addendum_names(names) == ["paper-original/000.json", "paper-original/001.json"]
    assert addendum_name(7) == "paper-original/007.json"


def test_a_chain_of_steps_is_read_in_order(key: Ed25519PrivateKey) -> None:
    documents, manifest = _steps(key)
    addenda = check_addenda(documents, manifest, key.public_key())
    assert [a["status"] for a in addenda] == ["posted", "received"]
    assert addenda[1]["prev_sha256"] == sha256_hex(documents[0])
    assert check_addenda([], manifest, key.public_key()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d, m: (d[::-1], m), "addendum 0 does not follow the one before"),
        (lambda d, m: (d[1:], m), "addendum 0 does not follow the one before"),
        (lambda d, m: (d, "ab" * 32), "addendum 0 does not follow the one before"),
        (lambda d, m: ([b"not json", *d[1:]], m), "addendum 0 is malformed"),
        (lambda d, m: ([b"[1, 2]", *d[1:]], m), "addendum 0 is malformed"),
        (lambda d, m: ([d[0], _without_signature(d[1])], m), "addendum 1 is malformed"),
        (lambda d, m: ([d[0], _resigned(d[1], "!!")], m), "addendum 1 is malformed"),
        (lambda d, m: ([d[0], _resigned(d[1], "AAAA")], m), "addendum 1 is not signed"),
    ],
)
def test_what_is_not_the_platforms_chain_is_named(
    key: Ed25519PrivateKey, change, message: str
) -> None:  # type: ignore[no-untyped-def]
    documents, manifest = _steps(key)
    documents, manifest = change(documents, manifest)
    with pytest.raises(AddendumError, match=message):
        check_addenda(documents, manifest, key.public_key())


def test_another_key_is_not_the_platforms(key: Ed25519PrivateKey) -> None:
    documents, manifest = _steps(key)
    with pytest.raises(AddendumError, match="addendum 0 is not signed by the platform"):
        check_addenda(documents, manifest, Ed25519PrivateKey.generate().public_key())


def _without_signature(document: bytes) -> bytes:
    data = json.loads(document)
    del data["signature"]
    return json.dumps(data).encode()


def _resigned(document: bytes, signature: str) -> bytes:
    data = json.loads(document)
    data["signature"] = signature
    return json.dumps(data).encode()
