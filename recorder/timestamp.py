"""RFC 3161 trusted timestamps for sealed evidence.

What is timestamped: the SHA-256 of the exact bytes of the signed manifest (see `recorder.seal`).
What is stored: the DER of the whole TimeStampResp the TSA answered (what `openssl ts` calls a
`.tsr` file): the PKIStatusInfo plus the TimeStampToken (a CMS SignedData over the TSTInfo, with
the TSA's certificate inside, because every request sets certReq). `verify_timestamp` also accepts a
bare TimeStampToken (`openssl ts -token_out`).

Verification is offline: the token, the data and the trusted TSA root certificate(s) are all it
needs. rfc3161-client (OpenSSL underneath) checks the CMS signature, the certificate chain at the
time of the timestamp and the critical EKU id-kp-timeStamping. This module checks the same things
on its own first (chain, signed attributes incl. the ESS signing certificate, signature, validity,
EKU), so that a failure is named truly, and both must accept; then it binds the token to the data
(SHA-256, this exact hash). Every failure is a `TimestampError` whose text a person can act on and
whose `kind` a program can.

The only network access is the HTTP POST to the configured TSA URL: no redirects are followed and
no proxy from the environment is used. The recorder knows no HTTP framework, so the request uses
the standard library in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any, Literal, NoReturn, TypeVar

# asn1crypto.tsp is imported for its side effect: it registers TSTInfo and the ESS
# signing-certificate attributes with asn1crypto.cms, so that their values parse.
from asn1crypto import cms, tsp  # type: ignore[import-untyped]  # noqa: F401
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

__all__ = [
    "MAX_RESPONSE_BYTES",
    "TimestampError",
    "TimestampInfo",
    "build_request",
    "request_timestamp",
    "verify_timestamp",
]

MAX_RESPONSE_BYTES = 64 * 1024  # a TimeStampResp with a short chain is 1-8 KiB
QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPES = ("application/timestamp-reply", "application/timestamp-response")
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")

ErrorKind = Literal[
    "unreachable",  # the TSA could not be reached, or did not answer in time
    "http",  # the TSA answered, but not with a timestamp reply (status, type, size)
    "rejected",  # the TSA answered with a PKIStatus other than granted
    "malformed",  # the bytes are not a well-formed RFC 3161 response/token
    "mismatch",  # the token is well-formed but not for this request (nonce, hash algorithm)
    "other_hash",  # the token is for another hash than the data's
    "no_certificate",  # the TSA certificate is not in the token
    "untrusted",  # the TSA certificate does not chain to a trusted root
    "certificate",  # the TSA certificate is unfit (validity at the time, EKU)
    "signature",  # the token's signature does not verify (altered after signing)
    "roots",  # the trusted roots given are unusable
]


class TimestampError(Exception):
    """A timestamp could not be obtained or does not prove what it should; `str()` says what."""

    def __init__(self, kind: ErrorKind, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.detail = detail  # the underlying library's words, for logs, not for people


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified timestamp attests."""

    gen_time: datetime  # when the TSA saw the hash, UTC (timezone-aware)
    tsa_name: str  # the TSTInfo's `tsa` field, or the TSA certificate's subject when absent
    tsa_certificate_subject: str  # RFC 4514 subject of the certificate that signed the token
    serial_number: int  # the TSA's serial number of this token
    policy_oid: str  # the TSA policy the token was issued under
    sha256: str  # hex SHA-256 of the data, as carried by the token


# --- the request -------------------------------------------------------------------------------


def build_request(data: bytes) -> tuple[bytes, int]:
    """A DER TimeStampReq over SHA-256(data), certReq set, and the random nonce it carries."""
    if not data:
        raise ValueError("there is nothing to timestamp: the data is empty")
    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    nonce = request.nonce
    if nonce is None:  # pragma: no cover - the builder always sets one when asked
        raise RuntimeError("rfc3161-client built a request without a nonce")
    return request.as_bytes(), nonce


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A TSA that redirects is answered with an error: we talk to the configured URL only."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: object,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _post(url: str, body: bytes, timeout: float, limit: int) -> tuple[int, str, bytes | None]:
    """POST `body`; (HTTP status, content type, the body or None when it exceeds `limit`)."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": QUERY_CONTENT_TYPE,
            "Accept": REPLY_CONTENT_TYPES[0],
            "User-Agent": "NotaryLink-recorder",
        },
    )
    deadline = time.monotonic() + timeout
    try:
        response = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, exc.headers.get_content_type(), b""
    with response:
        status, content_type = response.status, response.headers.get_content_type()
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return status, content_type, None
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            if time.monotonic() > deadline:
                raise TimeoutError("the answer did not arrive in time")
            chunk = response.read(min(16 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return status, content_type, (b"".join(chunks) if size <= limit else None)


async def request_timestamp(
    tsa_url: str,
    data: bytes,
    *,
    timeout: float = 10,
    trusted_roots: Sequence[bytes] | None = None,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> bytes:
    """Ask the TSA at `tsa_url` to timestamp SHA-256(data); the DER TimeStampResp to store.

    The answer is checked against the request (granted, same nonce, same SHA-256 imprint, TSA
    certificate included). With `trusted_roots`, the token is also fully verified
    (`verify_timestamp`) before it is returned, so a misconfigured TSA fails the seal at once.
    """
    scheme = urllib.parse.urlsplit(tsa_url).scheme
    if scheme not in ("http", "https"):
        raise TimestampError("unreachable", f"the TSA URL {tsa_url!r} is not an http(s) URL")
    query, nonce = build_request(data)
    try:
        status, content_type, body = await asyncio.wait_for(
            asyncio.to_thread(_post, tsa_url, query, timeout, max_response_bytes),
            timeout=timeout + 1,
        )
    except (TimeoutError, OSError, http.client.HTTPException, ValueError) as exc:  # URLError too
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            raise TimestampError(
                "unreachable", f"the TSA at {tsa_url} did not answer within {timeout:g} s"
            ) from exc
        raise TimestampError(
            "unreachable", f"could not reach the TSA at {tsa_url}: {reason}"
        ) from exc
    if status != 200:
        raise TimestampError(
            "http", f"the TSA at {tsa_url} answered HTTP {status}, not a timestamp"
        )
    if content_type not in REPLY_CONTENT_TYPES:
        raise TimestampError(
            "http",
            f"the TSA at {tsa_url} answered with content type {content_type!r}, "
            f"not {REPLY_CONTENT_TYPES[0]!r}",
        )
    if body is None:
        raise TimestampError(
            "http",
            f"the TSA at {tsa_url} answered with more than {max_response_bytes} bytes; "
            "that is no timestamp reply, it was refused",
        )
    response = _decode(body)
    _check_granted(response)
    _guard(lambda: _check_against_request(response, data, nonce))
    if trusted_roots is not None:
        verify_timestamp(body, data, trusted_roots)
    return body


def _check_against_request(response: TimeStampResponse, data: bytes, nonce: int) -> None:
    info = response.tst_info
    if info.nonce is None:
        raise TimestampError(
            "mismatch", "the TSA's answer carries no nonce, so it cannot be tied to the request"
        )
    if info.nonce != nonce:
        raise TimestampError(
            "mismatch",
            "the TSA's answer carries another nonce than the request "
            "(a replayed or misrouted answer)",
        )
    _check_imprint(response, data, who="the TSA answered with a timestamp")
    if not response.signed_data.certificates:
        raise TimestampError(
            "no_certificate",
            "the TSA did not include its certificate although the request asked for it; "
            "the token could not be verified offline",
        )


# --- verification ------------------------------------------------------------------------------


def verify_timestamp(token: bytes, data: bytes, trusted_roots: Sequence[bytes]) -> TimestampInfo:
    """Check offline that `token` timestamps exactly SHA-256(data), signed by a trusted TSA.

    `token`: a DER TimeStampResp (what `request_timestamp` returns) or a bare TimeStampToken.
    `trusted_roots`: the TSA's root CA certificate(s), PEM or DER, each item one certificate (a
    PEM item may hold several). Raises `TimestampError` saying what is wrong.
    """
    roots = _load_roots(trusted_roots)
    response = _decode(_as_response(token))
    _check_granted(response)
    return _guard(lambda: _verify(response, data, roots))


def _verify(
    response: TimeStampResponse, data: bytes, roots: list[x509.Certificate]
) -> TimestampInfo:
    info = response.tst_info
    algorithm = info.message_imprint.hash_algorithm
    if algorithm != SHA256_OID:
        raise TimestampError(
            "mismatch",
            f"the timestamp is over a {_hash_name(algorithm)} hash; "
            "NotaryLink timestamps SHA-256 hashes",
        )
    leaf, embedded = _signer_certificate(response)
    # Our own checks first, in the order that gives the truest message: trust (no time needed),
    # then the signature (after which the time in the token is the TSA's word), then the
    # certificate's fitness at that time. rfc3161-client then decides on its own as well.
    chain = _chain_to_root(leaf, embedded, roots)
    if chain is None:
        _not_trusted(leaf, roots)
    _check_signature(response.time_stamp_token(), leaf)
    _check_certificates(chain, info.gen_time)
    try:
        # Everything but the imprint, which is compared below for a message of its own.
        VerifierBuilder(roots=list(roots)).build().verify(response, info.message_imprint.message)
    except (VerificationError, ValueError) as exc:
        detail = str(exc)
        refused = re.search(r"Verify error: ([^\"]+)", detail)
        if refused:  # OpenSSL refused the chain for a reason the checks above do not cover
            raise TimestampError(
                "untrusted",
                f"the TSA certificate is not trusted: {refused.group(1)}",
                detail=detail,
            ) from exc
        raise TimestampError(
            "signature",
            "the timestamp token's signature does not verify: the token was altered after the "
            "TSA signed it, or is not signed by the certificate it names",
            detail=detail,
        ) from exc
    _check_imprint(response, data, who="the timestamp is")
    try:
        tsa_name = _general_name(info.name)
    except ValueError:  # the optional `tsa` field is absent
        tsa_name = leaf.subject.rfc4514_string()
    return TimestampInfo(
        gen_time=info.gen_time.astimezone(UTC),
        tsa_name=tsa_name,
        tsa_certificate_subject=leaf.subject.rfc4514_string(),
        serial_number=info.serial_number,
        policy_oid=info.policy.dotted_string,
        sha256=info.message_imprint.message.hex(),
    )


def _check_imprint(response: TimeStampResponse, data: bytes, *, who: str) -> None:
    imprint = response.tst_info.message_imprint
    if imprint.hash_algorithm != SHA256_OID:
        raise TimestampError(
            "mismatch",
            f"{who} over a {_hash_name(imprint.hash_algorithm)} hash, but SHA-256 was asked for",
        )
    expected = hashlib.sha256(data).digest()
    if imprint.message != expected:
        raise TimestampError(
            "other_hash",
            f"{who} for another hash: the token covers SHA-256 {imprint.message.hex()}, "
            f"the data's SHA-256 is {expected.hex()}",
        )


def _signer_certificate(
    response: TimeStampResponse,
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The certificate named by the (single) SignerInfo, and all certificates in the token."""
    embedded = [x509.load_der_x509_certificate(der) for der in response.signed_data.certificates]
    signers = list(response.signed_data.signer_infos)
    if len(signers) != 1:
        raise TimestampError(
            "malformed", f"the timestamp token has {len(signers)} signers; RFC 3161 requires one"
        )
    signer = signers[0]
    for cert in embedded:
        if cert.issuer == signer.issuer and cert.serial_number == signer.serial_number:
            return cert, embedded
    raise TimestampError(
        "no_certificate",
        "the timestamp token does not contain the certificate of the TSA that signed it "
        f"(issuer {signer.issuer.rfc4514_string()}, serial {signer.serial_number:x}), "
        "so it cannot be verified offline",
    )


def _not_trusted(leaf: x509.Certificate, roots: list[x509.Certificate]) -> NoReturn:
    subject, issuer = leaf.subject.rfc4514_string(), leaf.issuer.rfc4514_string()
    if any(root.subject == leaf.issuer for root in roots):
        raise TimestampError(
            "untrusted",
            f"the TSA certificate is not trusted: {subject} names the trusted root {issuer} as "
            "its issuer, but was not signed with that root's key (a look-alike CA)",
        )
    trusted = "; ".join(root.subject.rfc4514_string() for root in roots)
    raise TimestampError(
        "untrusted",
        f"the TSA certificate is not trusted: {subject} (issued by {issuer}) does not chain "
        f"to any trusted root ({trusted})",
    )


def _check_certificates(chain: list[x509.Certificate], at: datetime) -> None:
    """Each certificate valid at the (signed) time of the timestamp; the leaf a TSA's."""
    for cert in chain:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise TimestampError(
                "certificate",
                f"the certificate {cert.subject.rfc4514_string()} was not valid when the "
                f"timestamp was made ({at.isoformat()}; valid "
                f"{cert.not_valid_before_utc.isoformat()} to "
                f"{cert.not_valid_after_utc.isoformat()})",
            )
    leaf = chain[0]
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        eku = None
    if (
        eku is None
        or not eku.critical
        or x509.oid.ExtendedKeyUsageOID.TIME_STAMPING not in eku.value
    ):
        raise TimestampError(
            "certificate",
            f"the certificate {leaf.subject.rfc4514_string()} is not a timestamping "
            "certificate (RFC 3161 requires a critical extended key usage id-kp-timeStamping)",
        )


# CMS signed attributes, by OID (not by asn1crypto's names, which depend on what was imported)
_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_SIGNING_CERTIFICATE = "1.2.840.113549.1.9.16.2.12"  # ESS, RFC 2634
_SIGNING_CERTIFICATE_V2 = "1.2.840.113549.1.9.16.2.47"  # ESS v2, RFC 5035 / RFC 5816

_DIGESTS: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _check_signature(token_der: bytes, leaf: x509.Certificate) -> None:
    """The CMS signature of the token, checked here independently of rfc3161-client/OpenSSL:
    signed attributes bind the TSTInfo (message digest) and the signing certificate (ESS),
    and the signature over them verifies with the TSA certificate's key."""
    signed_data = cms.ContentInfo.load(token_der)["content"]
    (signer,) = signed_data["signer_infos"]
    digest_name = signer["digest_algorithm"]["algorithm"].native
    if digest_name not in _DIGESTS:
        raise TimestampError(
            "signature", f"the token is signed with a {digest_name} digest, which is not accepted"
        )
    digest = _DIGESTS[digest_name]()
    attrs = signer["signed_attrs"]
    if not attrs:
        raise TimestampError(
            "signature", "the token's signature covers no signed attributes, as RFC 3161 requires"
        )
    # The bytes as received, taken before any child is read: asn1crypto may re-encode a value
    # once a child with a DEFAULT is touched. They are signed as a SET OF, stored [0] IMPLICIT.
    signed_bytes = _der(0x31, bytes(attrs.contents))
    values = {attr["type"].dotted: attr["values"] for attr in attrs}
    encapsulated = signed_data["encap_content_info"]
    content = encapsulated["content"].contents
    if (
        encapsulated["content_type"].dotted != "1.2.840.113549.1.9.16.1.4"  # id-ct-TSTInfo
        or _CONTENT_TYPE not in values
        or values[_CONTENT_TYPE][0].dotted != "1.2.840.113549.1.9.16.1.4"
    ):
        raise TimestampError("malformed", "the signed content of the token is not a TSTInfo")
    if _MESSAGE_DIGEST not in values or values[_MESSAGE_DIGEST][0].native != _hash(digest, content):
        _altered()
    _check_signing_certificate(values, leaf)
    signature = signer["signature"].native
    scheme = signer["signature_algorithm"].signature_algo
    key = leaf.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and scheme == "ecdsa":
            key.verify(signature, signed_bytes, ec.ECDSA(digest))
        elif isinstance(key, rsa.RSAPublicKey) and scheme == "rsassa_pkcs1v15":
            key.verify(signature, signed_bytes, padding.PKCS1v15(), digest)
        elif isinstance(key, rsa.RSAPublicKey) and scheme == "rsassa_pss":
            params = signer["signature_algorithm"]["parameters"]
            mgf_hash = _DIGESTS[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]
            pss = padding.PSS(padding.MGF1(mgf_hash()), params["salt_length"].native)
            key.verify(signature, signed_bytes, pss, digest)
        elif isinstance(key, ed25519.Ed25519PublicKey) and scheme == "ed25519":
            key.verify(signature, signed_bytes)
        else:
            raise TimestampError(
                "signature",
                f"the token's signature scheme {scheme} does not fit the TSA's "
                f"{type(key).__name__.lstrip('_')} key, or is not supported",
            )
    except InvalidSignature:
        _altered()


def _check_signing_certificate(values: dict[str, Any], leaf: x509.Certificate) -> None:
    """RFC 3161 / RFC 5816: the ESS signing-certificate(-v2) attribute names the TSA cert."""
    der = leaf.public_bytes(serialization.Encoding.DER)
    if _SIGNING_CERTIFICATE_V2 in values:
        first = values[_SIGNING_CERTIFICATE_V2][0]["certs"][0]
        name = first["hash_algorithm"]["algorithm"].native
        if name not in _DIGESTS:
            raise TimestampError(
                "signature", f"the token names its certificate by a {name} hash; not accepted"
            )
        expected = _hash(_DIGESTS[name](), der)
    elif _SIGNING_CERTIFICATE in values:
        first = values[_SIGNING_CERTIFICATE][0]["certs"][0]
        expected = hashlib.sha1(der).digest()  # ESSCertID is SHA-1 by definition
    else:
        raise TimestampError(
            "signature",
            "the token does not name its signing certificate (ESS signing-certificate "
            "attribute), as RFC 3161 requires",
        )
    if first["cert_hash"].native != expected:
        raise TimestampError(
            "signature",
            "the token was signed naming another certificate than the TSA certificate it "
            "carries (a substituted certificate)",
        )


def _altered() -> NoReturn:
    raise TimestampError(
        "signature",
        "the timestamp token's signature does not verify: the token was altered after the "
        "TSA signed it, or is not signed by the certificate it names",
    )


def _hash(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _chain_to_root(
    leaf: x509.Certificate,
    embedded: list[x509.Certificate],
    roots: list[x509.Certificate],
) -> list[x509.Certificate] | None:
    """leaf, intermediates..., root, when signatures link `leaf` to one of `roots`."""
    chain = [leaf]
    current = leaf
    for _ in range(8):  # no real TSA chain is deeper
        for root in roots:
            if _issued_by(current, root):
                return [*chain, root]
        parents = [c for c in embedded if c not in chain and _issued_by(current, c)]
        if not parents:
            return None
        current = parents[0]
        chain.append(current)
    return None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --- parsing -----------------------------------------------------------------------------------


def _decode(der: bytes) -> TimeStampResponse:
    try:
        return decode_timestamp_response(der)
    except ValueError as exc:
        raise TimestampError(
            "malformed",
            f"the timestamp token is malformed: not a DER-encoded RFC 3161 response ({exc})",
        ) from exc


def _check_granted(response: TimeStampResponse) -> None:
    status = response.status
    if status == PKIStatus.GRANTED:
        return  # grantedWithMods is refused too: rfc3161-client's verifier accepts granted only
    try:
        name = PKIStatus(status).name.lower().replace("_", " ")
    except ValueError:
        name = f"unknown status {status}"
    said = "; ".join(response.status_string)
    raise TimestampError(
        "rejected",
        f"the TSA refused to timestamp (status: {name}"
        + (f"; it said: {said!r})" if said else ")"),
    )


def _as_response(der: bytes) -> bytes:
    """A bare TimeStampToken (ContentInfo) wrapped as a granted TimeStampResp; else `der`."""
    # TimeStampResp ::= SEQUENCE { status SEQUENCE, ... }; ContentInfo ::= SEQUENCE { OID, [0] }
    header = _der_header_length(der)
    if header is None or len(der) <= header or der[header] != 0x06:
        return der
    granted = bytes.fromhex("3003020100")  # PKIStatusInfo { status granted(0) }
    return _der(0x30, granted + der)


def _der_header_length(der: bytes) -> int | None:
    if len(der) < 2 or der[0] != 0x30:
        return None
    if der[1] < 0x80:
        return 2
    count = der[1] & 0x7F
    return 2 + count if 0 < count <= 4 else None


def _der(tag: int, content: bytes) -> bytes:
    """One DER TLV (definite length)."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def _load_roots(trusted_roots: Sequence[bytes]) -> list[x509.Certificate]:
    roots: list[x509.Certificate] = []
    for index, item in enumerate(trusted_roots):
        try:
            if item.lstrip().startswith(b"-----BEGIN"):
                roots.extend(x509.load_pem_x509_certificates(item))
            else:
                roots.append(x509.load_der_x509_certificate(item))
        except ValueError as exc:
            raise TimestampError(
                "roots", f"trusted root #{index + 1} is not an X.509 certificate (PEM or DER)"
            ) from exc
    if not roots:
        raise TimestampError(
            "roots", "no trusted TSA root certificate was given, so no timestamp can be trusted"
        )
    unique: list[x509.Certificate] = []
    for root in roots:  # rfc3161-client refuses duplicates
        if root not in unique:
            unique.append(root)
    return unique


def _general_name(name: x509.GeneralName) -> str:
    if isinstance(name, x509.DirectoryName):
        return name.value.rfc4514_string()
    return str(name.value)


_HASH_NAMES = {
    "1.3.14.3.2.26": "SHA-1",
    "2.16.840.1.101.3.4.2.1": "SHA-256",
    "2.16.840.1.101.3.4.2.2": "SHA-384",
    "2.16.840.1.101.3.4.2.3": "SHA-512",
}


def _hash_name(oid: x509.ObjectIdentifier) -> str:
    return _HASH_NAMES.get(oid.dotted_string, oid.dotted_string)


_T = TypeVar("_T")


def _guard(check: Callable[[], _T]) -> _T:
    """Run a check over parsed token fields; a parser failure inside is a malformed token.

    rfc3161-client parses nested parts lazily and some builds of it raise a Rust panic
    (pyo3's PanicException derives from BaseException) on a malformed TSTInfo or SignedData.
    """
    try:
        return check()
    except TimestampError:
        raise
    except (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError, MemoryError):
        raise
    except BaseException as exc:
        _malformed(exc)


def _malformed(exc: BaseException) -> NoReturn:
    raise TimestampError(
        "malformed", f"the timestamp token is malformed: {type(exc).__name__}: {exc}"
    ) from exc
