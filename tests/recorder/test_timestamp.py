"""RFC 3161 timestamps: requests, a real local TSA, and offline verification with rfc3161-client.

`unit` tests build tokens in-process with the test PKI; `integration` tests talk HTTP to the local
TSA of tests/recorder/tsa.py, which can be told to answer wrongly.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import tsp
from rfc3161_client import VerifierBuilder, decode_timestamp_response

from recorder.timestamp import (
    TimestampError,
    TimestampInfo,
    build_request,
    request_timestamp,
    verify_timestamp,
)
from tests.recorder.tsa import (
    TEST_POLICY_OID,
    TestPKI,
    TSAServer,
    bare_token,
    granted,
    make_root_ca,
    make_tsa_certificate,
    make_tst_info,
    rejection,
    sign_tst_info,
    token_for,
    tst_info_of,
    with_tst_info,
)
from tests.support import REPO, free_port

MANIFEST = b'{"schema":"notarylink.evidence/1","entries":[]}'
unit = pytest.mark.unit
integration = pytest.mark.integration


@pytest.fixture(scope="module")
def token(tsa_pki: TestPKI) -> bytes:
    """A correct TimeStampResp over MANIFEST, made offline by the test TSA."""
    return token_for(MANIFEST, tsa_pki.tsa, nonce=7, serial_number=41)


def flip(der: bytes, at: int, mask: int = 0x01) -> bytes:
    return der[:at] + bytes([der[at] ^ mask]) + der[at + 1 :]


# --- requests ----------------------------------------------------------------------------------


@unit
def test_request_is_sha256_of_the_data_with_a_fresh_nonce_and_cert_req() -> None:
    der, nonce = build_request(MANIFEST)
    request = tsp.TimeStampReq.load(der, strict=True)
    assert request["version"].native == "v1"
    assert request["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert request["message_imprint"]["hashed_message"].native == hashlib.sha256(MANIFEST).digest()
    assert request["nonce"].native == nonce
    assert request["cert_req"].native is True
    assert build_request(MANIFEST)[1] != nonce  # random, not a counter


@unit
def test_request_refuses_empty_data() -> None:
    with pytest.raises(ValueError, match="empty"):
        build_request(b"")


# --- offline verification ----------------------------------------------------------------------


@unit
def test_a_correct_token_verifies_and_says_when_who_and_what(
    token: bytes, tsa_pki: TestPKI
) -> None:
    info = verify_timestamp(token, MANIFEST, [tsa_pki.root.cert_pem])
    assert isinstance(info, TimestampInfo)
    assert info.gen_time.tzinfo is not None and info.gen_time.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - info.gen_time) < timedelta(minutes=5)
    assert info.tsa_name == "CN=NotaryLink Test TSA,O=NotaryLink tests"
    assert info.tsa_certificate_subject == info.tsa_name
    assert info.serial_number == 41
    assert info.policy_oid == TEST_POLICY_OID
    assert info.sha256 == hashlib.sha256(MANIFEST).hexdigest()
    # the same token also satisfies rfc3161-client used directly, as an outside verifier would
    response = decode_timestamp_response(token)
    assert VerifierBuilder(roots=[tsa_pki.root.cert]).build().verify_message(response, MANIFEST)


@unit
def test_roots_may_be_der_pem_or_a_pem_bundle_and_a_bare_token_is_accepted(
    token: bytes, tsa_pki: TestPKI
) -> None:
    unrelated = make_root_ca("Unrelated CA").cert_pem
    for roots in ([tsa_pki.root.cert_der], [unrelated + tsa_pki.root.cert_pem]):
        assert verify_timestamp(token, MANIFEST, roots).serial_number == 41
    assert (
        verify_timestamp(bare_token(token), MANIFEST, [tsa_pki.root.cert_pem]).serial_number == 41
    )


@unit
def test_a_token_for_other_data_says_it_is_for_another_hash(token: bytes, tsa_pki: TestPKI) -> None:
    with pytest.raises(TimestampError, match="timestamp is for another hash") as caught:
        verify_timestamp(token, MANIFEST + b" ", [tsa_pki.root.cert_pem])
    assert caught.value.kind == "other_hash"
    assert hashlib.sha256(MANIFEST + b" ").hexdigest() in str(caught.value)


@unit
def test_a_token_from_an_unrelated_ca_is_not_trusted(token: bytes) -> None:
    unrelated = make_root_ca("Unrelated CA")
    with pytest.raises(TimestampError, match="TSA certificate is not trusted") as caught:
        verify_timestamp(token, MANIFEST, [unrelated.cert_pem])
    assert caught.value.kind == "untrusted"


@unit
def test_a_look_alike_root_with_the_same_name_is_not_trusted(token: bytes) -> None:
    look_alike = make_root_ca("NotaryLink Test Root CA")  # same name, another key
    with pytest.raises(TimestampError, match=r"not trusted.*look-alike"):
        verify_timestamp(token, MANIFEST, [look_alike.cert_pem])


@unit
def test_a_token_signed_by_a_tsa_of_another_ca_is_not_trusted(tsa_pki: TestPKI) -> None:
    foreign_tsa = make_tsa_certificate(make_root_ca("Unrelated CA"), "Foreign TSA")
    with pytest.raises(TimestampError, match="TSA certificate is not trusted"):
        verify_timestamp(token_for(MANIFEST, foreign_tsa), MANIFEST, [tsa_pki.root.cert_pem])


@unit
@pytest.mark.parametrize(
    "blob",
    [b"", b"not DER at all", b"\x30\x82\xff\xff\x02\x01", b"\x30\x03\x02\x01\x00" + b"\x00"],
    ids=["empty", "text", "truncated", "trailing"],
)
def test_garbage_is_a_malformed_token(blob: bytes, tsa_pki: TestPKI) -> None:
    with pytest.raises(TimestampError, match="token is malformed") as caught:
        verify_timestamp(blob, MANIFEST, [tsa_pki.root.cert_pem])
    assert caught.value.kind == "malformed"


@unit
def test_a_truncated_token_is_malformed(token: bytes, tsa_pki: TestPKI) -> None:
    with pytest.raises(TimestampError, match="malformed"):
        verify_timestamp(token[:-10], MANIFEST, [tsa_pki.root.cert_pem])


@unit
def test_one_byte_flipped_in_the_signed_time_is_refused(token: bytes, tsa_pki: TestPKI) -> None:
    gen_time = tst_info_of(token)["gen_time"].contents  # b"YYYYMMDDhhmmssZ"
    at = token.index(gen_time) + 5  # a digit of the month
    with pytest.raises(TimestampError, match="signature does not verify") as caught:
        verify_timestamp(flip(token, at), MANIFEST, [tsa_pki.root.cert_pem])
    assert caught.value.kind == "signature"


@unit
def test_the_verifier_checks_the_signature_not_just_the_fields(
    token: bytes, tsa_pki: TestPKI
) -> None:
    """A TSTInfo rewritten after signing (for other data, an earlier time) keeps the TSA's
    signature and certificate: only the signature check can refuse it, and it does."""
    forged_data = b'{"schema":"notarylink.evidence/1","entries":["forged"]}'
    forged = make_tst_info(
        hashlib.sha256(forged_data).digest(),
        serial_number=41,
        signer=tsa_pki.tsa,
        nonce=7,
        gen_time=datetime.now(UTC) - timedelta(days=30),
    )
    # control: the same surgery with the original TSTInfo leaves a valid token
    untouched = with_tst_info(token, tst_info_of(token))
    assert verify_timestamp(untouched, MANIFEST, [tsa_pki.root.cert_pem]).serial_number == 41
    with pytest.raises(TimestampError, match="altered after the TSA signed it"):
        verify_timestamp(with_tst_info(token, forged), forged_data, [tsa_pki.root.cert_pem])


@unit
def test_each_of_the_two_signature_checks_refuses_a_forgery_on_its_own(
    token: bytes, tsa_pki: TestPKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The token's CMS signature is checked twice, by recorder.timestamp itself and by
    rfc3161-client (OpenSSL); either one alone refuses a rewritten TSTInfo."""
    import recorder.timestamp as module

    forged_data = MANIFEST + b"forged"
    forged = with_tst_info(
        token,
        make_tst_info(
            hashlib.sha256(forged_data).digest(), serial_number=41, signer=tsa_pki.tsa, nonce=7
        ),
    )
    roots = [tsa_pki.root.cert_pem]

    class AcceptAll:
        def __init__(self, **_: object) -> None: ...

        def build(self) -> AcceptAll:
            return self

        def verify(self, *_: object) -> bool:
            return True

    with monkeypatch.context() as patch:  # rfc3161-client switched off: ours refuses
        patch.setattr(module, "VerifierBuilder", AcceptAll)
        assert verify_timestamp(token, MANIFEST, roots).serial_number == 41
        with pytest.raises(TimestampError, match="altered after the TSA signed it"):
            verify_timestamp(forged, forged_data, roots)
    with monkeypatch.context() as patch:  # ours switched off: rfc3161-client refuses
        patch.setattr(module, "_check_signature", lambda *_: None)
        assert verify_timestamp(token, MANIFEST, roots).serial_number == 41
        with pytest.raises(TimestampError, match="altered after the TSA signed it") as caught:
            verify_timestamp(forged, forged_data, roots)
        assert caught.value.detail is not None and "signature failure" in caught.value.detail


@unit
def test_a_substituted_tsa_certificate_is_refused(tsa_pki: TestPKI) -> None:
    """Same key, another certificate (say, re-issued without restrictions): the signed ESS
    attribute still names the original certificate, so the swap is detected."""
    twin = make_tsa_certificate(tsa_pki.root, "NotaryLink Test TSA", key=tsa_pki.tsa.key)
    info = make_tst_info(
        hashlib.sha256(MANIFEST).digest(), serial_number=1, signer=twin, nonce=None
    )
    der = granted(sign_tst_info(info, twin, ess_certificate=tsa_pki.tsa.cert))
    with pytest.raises(TimestampError, match="substituted certificate"):
        verify_timestamp(der, MANIFEST, [tsa_pki.root.cert_pem])


@unit
def test_an_rsa_tsa_is_verified_too(tsa_pki: TestPKI) -> None:
    rsa_tsa = make_tsa_certificate(tsa_pki.root, "RSA TSA", rsa_key=True)
    der = token_for(MANIFEST, rsa_tsa, serial_number=5)
    info = verify_timestamp(der, MANIFEST, [tsa_pki.root.cert_pem])
    assert (info.serial_number, info.tsa_name) == (5, "CN=RSA TSA,O=NotaryLink tests")
    with pytest.raises(TimestampError, match="altered after"):
        verify_timestamp(
            with_tst_info(
                der, make_tst_info(b"\0" * 32, serial_number=5, signer=rsa_tsa, nonce=None)
            ),
            MANIFEST,
            [tsa_pki.root.cert_pem],
        )


@unit
@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_no_single_bit_flip_anywhere_yields_a_different_accepted_fact(
    token: bytes, tsa_pki: TestPKI
) -> None:
    """Flip the low and the high bit of every byte in turn: each variant is refused with a
    TimestampError (never another exception), or still attests exactly the same facts: that
    happens only in bytes no signature covers and no verifier reads (CMS version numbers, the
    hash named in the signature algorithm where the digest algorithm is what counts)."""
    roots = [tsa_pki.root.cert_pem]
    original = verify_timestamp(token, MANIFEST, roots)
    accepted: list[int] = []
    kinds: set[str] = set()
    for at in range(len(token)):
        for mask in (0x01, 0x80):
            try:
                info = verify_timestamp(flip(token, at, mask), MANIFEST, roots)
            except TimestampError as exc:
                kinds.add(exc.kind)
                continue
            assert info == original, f"flipping byte {at} changed what the token attests"
            accepted.append(at)
    assert len(accepted) <= 4, f"too many flips accepted, is anything checked? {accepted}"
    assert {"malformed", "signature", "untrusted"} <= kinds


@unit
def test_a_rejection_says_the_tsa_refused(tsa_pki: TestPKI) -> None:
    with pytest.raises(TimestampError, match=r"TSA refused.*rejection.*out of paper") as caught:
        verify_timestamp(rejection("out of paper"), MANIFEST, [tsa_pki.root.cert_pem])
    assert caught.value.kind == "rejected"


@unit
def test_a_token_without_the_tsa_certificate_cannot_be_verified_offline(
    tsa_pki: TestPKI,
) -> None:
    info = make_tst_info(
        hashlib.sha256(MANIFEST).digest(), serial_number=1, signer=tsa_pki.tsa, nonce=1
    )
    der = granted(sign_tst_info(info, tsa_pki.tsa, include_certificate=False))
    with pytest.raises(TimestampError, match="does not contain the certificate"):
        verify_timestamp(der, MANIFEST, [tsa_pki.root.cert_pem])


@unit
def test_a_tsa_certificate_without_critical_timestamping_eku_is_refused(
    tsa_pki: TestPKI,
) -> None:
    lax = make_tsa_certificate(tsa_pki.root, "Lax TSA", eku_critical=False)
    with pytest.raises(TimestampError, match="not a timestamping certificate") as caught:
        verify_timestamp(token_for(MANIFEST, lax), MANIFEST, [tsa_pki.root.cert_pem])
    assert caught.value.kind == "certificate"


@unit
def test_a_tsa_certificate_expired_at_the_time_of_the_timestamp_is_refused(
    tsa_pki: TestPKI,
) -> None:
    now = datetime.now(UTC)
    expired = make_tsa_certificate(
        tsa_pki.root,
        "Old TSA",
        not_before=now - timedelta(days=10),
        not_after=now - timedelta(days=1),
    )
    with pytest.raises(TimestampError, match="was not valid when the timestamp was made"):
        verify_timestamp(token_for(MANIFEST, expired), MANIFEST, [tsa_pki.root.cert_pem])


@unit
def test_a_token_over_another_hash_algorithm_is_refused(tsa_pki: TestPKI) -> None:
    info = make_tst_info(
        hashlib.sha512(MANIFEST).digest(),
        serial_number=1,
        signer=tsa_pki.tsa,
        nonce=None,
        hash_algorithm="sha512",
    )
    der = granted(sign_tst_info(info, tsa_pki.tsa))
    with pytest.raises(TimestampError, match="SHA-512 hash"):
        verify_timestamp(der, MANIFEST, [tsa_pki.root.cert_pem])


@unit
@pytest.mark.parametrize("roots", [[], [b"-----BEGIN CERTIFICATE-----\nAAAA\n"], [b"\x30\x00"]])
def test_unusable_trusted_roots_are_named_as_such(token: bytes, roots: list[bytes]) -> None:
    with pytest.raises(TimestampError, match="trusted") as caught:
        verify_timestamp(token, MANIFEST, roots)
    assert caught.value.kind == "roots"


@unit
def test_verification_needs_only_the_recorder_module_in_a_fresh_process(
    token: bytes, tsa_pki: TestPKI, tmp_path: Path
) -> None:
    """What an offline verifier runs: no test helper imported (they register asn1crypto types
    too), no HTTP stack, nothing but the three files."""
    (tmp_path / "manifest.json").write_bytes(MANIFEST)
    (tmp_path / "manifest.tsr").write_bytes(token)
    (tmp_path / "tsa-root.pem").write_bytes(tsa_pki.root.cert_pem)
    script = (
        "import sys, pathlib\n"
        "from recorder.timestamp import verify_timestamp\n"
        "d = pathlib.Path(sys.argv[1])\n"
        "info = verify_timestamp((d / 'manifest.tsr').read_bytes(),"
        " (d / 'manifest.json').read_bytes(), [(d / 'tsa-root.pem').read_bytes()])\n"
        "assert not {'aiohttp', 'tests', 'signaling'} & set(sys.modules), sorted(sys.modules)\n"
        "print(info.serial_number, info.gen_time.isoformat())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "41"


# --- against the local TSA ---------------------------------------------------------------------


@integration
async def test_a_token_from_the_local_tsa_verifies(
    tsa: tuple[str, bytes], tsa_server: TSAServer
) -> None:
    url, root_pem = tsa
    der = await request_timestamp(url, MANIFEST, trusted_roots=[root_pem])
    info = verify_timestamp(der, MANIFEST, [root_pem])
    assert info.sha256 == hashlib.sha256(MANIFEST).hexdigest()
    assert info.serial_number == 1
    (request,) = tsa_server.requests
    assert request["cert_req"].native is True
    assert tst_info_of(der)["nonce"].native == request["nonce"].native
    with pytest.raises(TimestampError, match="another hash"):
        verify_timestamp(der, b"another manifest", [root_pem])


@integration
@pytest.mark.parametrize(
    ("behaviour", "kind", "message"),
    [
        ("other_hash", "other_hash", "TSA answered with a timestamp for another hash"),
        ("wrong_nonce", "mismatch", "another nonce than the request"),
        ("no_nonce", "mismatch", "carries no nonce"),
        ("no_certificate", "no_certificate", "did not include its certificate"),
        ("reject", "rejected", "TSA refused to timestamp.*told to refuse"),
        ("garbage", "malformed", "token is malformed"),
        ("http_500", "http", "answered HTTP 500"),
        ("wrong_content_type", "http", "content type 'text/html'"),
        ("oversized", "http", "more than 65536 bytes"),
    ],
)
async def test_a_wrong_answer_from_the_tsa_is_refused_with_what_is_wrong(
    tsa_server: TSAServer, behaviour: str, kind: str, message: str
) -> None:
    tsa_server.behaviour = behaviour  # type: ignore[assignment]
    with pytest.raises(TimestampError, match=message) as caught:
        await request_timestamp(tsa_server.url, MANIFEST)
    assert caught.value.kind == kind


@integration
async def test_a_tsa_that_does_not_answer_times_out(tsa_server: TSAServer) -> None:
    tsa_server.behaviour = "slow"
    started = time.monotonic()
    with pytest.raises(TimestampError, match=r"did not answer within 0.5 s") as caught:
        await request_timestamp(tsa_server.url, MANIFEST, timeout=0.5)
    assert caught.value.kind == "unreachable"
    assert time.monotonic() - started < 3


@integration
async def test_the_event_loop_keeps_running_while_waiting_for_the_tsa(
    tsa_server: TSAServer,
) -> None:
    tsa_server.behaviour = "slow"
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.create_task(tick())
    with pytest.raises(TimestampError):
        await request_timestamp(tsa_server.url, MANIFEST, timeout=0.5)
    ticker.cancel()
    assert ticks >= 5


@integration
async def test_an_unreachable_tsa_is_named() -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(TimestampError, match="could not reach the TSA at") as caught:
        await request_timestamp(url, MANIFEST, timeout=2)
    assert caught.value.kind == "unreachable"


@integration
async def test_only_http_urls_are_used() -> None:
    with pytest.raises(TimestampError, match="not an http"):
        await request_timestamp("file:///etc/passwd", MANIFEST)


@integration
async def test_a_token_from_an_untrusted_tsa_fails_the_request_when_roots_are_given(
    tsa: tuple[str, bytes],
) -> None:
    url, _ = tsa
    with pytest.raises(TimestampError, match="not trusted"):
        await request_timestamp(url, MANIFEST, trusted_roots=[make_root_ca("Other").cert_pem])


# --- what a court can do with openssl ----------------------------------------------------------


@integration
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
async def test_openssl_ts_verify_accepts_the_stored_token_and_refuses_other_data(
    tsa: tuple[str, bytes], tmp_path: Path
) -> None:
    url, root_pem = tsa
    (tmp_path / "manifest.json").write_bytes(MANIFEST)
    (tmp_path / "manifest.tsr").write_bytes(await request_timestamp(url, MANIFEST))
    (tmp_path / "tsa-root.pem").write_bytes(root_pem)
    (tmp_path / "other.json").write_bytes(MANIFEST + b"\n")

    def openssl_verify(data_file: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", "ts", "-verify", "-data", data_file, "-in", "manifest.tsr",
             "-CAfile", "tsa-root.pem"],
            cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip

    good = openssl_verify("manifest.json")
    assert good.returncode == 0 and "Verification: OK" in good.stdout, good.stderr
    bad = openssl_verify("other.json")
    assert bad.returncode != 0 and "Verification: FAILED" in bad.stdout
    # the bare token OpenSSL extracts (`-token_out`) is accepted by verify_timestamp as well
    subprocess.run(
        ["openssl", "ts", "-reply", "-in", "manifest.tsr", "-token_out", "-out", "manifest.tst"],
        cwd=tmp_path, capture_output=True, timeout=30, check=True,
    )  # fmt: skip
    bare = (tmp_path / "manifest.tst").read_bytes()
    assert (
        verify_timestamp(bare, MANIFEST, [root_pem]).sha256 == hashlib.sha256(MANIFEST).hexdigest()
    )
