"""A real RFC 3161 time-stamping authority for the tests, with a test PKI made at fixture time.

Nothing here is committed key material and nothing is downloaded: `TestPKI.create()` makes a root
CA and a TSA certificate issued by it (critical EKU id-kp-timeStamping, as RFC 3161 §2.3 requires),
with `cryptography`. `sign_tst_info` builds a TimeStampToken with asn1crypto: CMS SignedData over a
TSTInfo, signed attributes with ESS signing-certificate-v2, ECDSA P-256 (or RSA-2048) / SHA-256.
`TSAServer` answers `application/timestamp-query` over HTTP with aiohttp.

`TSAServer.behaviour` makes it answer wrongly on demand, for the negative tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiohttp import web
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TEST_POLICY_OID = "1.3.6.1.4.1.99999.3161.1"  # a made-up policy for the test TSA

Behaviour = Literal[
    "ok",  # a correct answer
    "other_hash",  # a valid token, but over another message imprint
    "wrong_nonce",  # a valid token with a nonce other than the request's
    "no_nonce",  # a valid token that leaves the nonce out
    "no_certificate",  # a valid token that ignores certReq (no TSA certificate inside)
    "reject",  # PKIStatus rejection, no token
    "garbage",  # 200, right content type, bytes that are not DER
    "http_500",  # an HTTP error
    "wrong_content_type",  # a correct body served as text/html
    "oversized",  # a body far larger than any timestamp reply
    "slow",  # answers only when the test ends (for client timeouts)
]


PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CertifiedKey:
    key: PrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "NotaryLink tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_root_ca(common_name: str = "NotaryLink Test Root CA") -> CertifiedKey:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


def make_tsa_certificate(
    issuer: CertifiedKey,
    common_name: str = "NotaryLink Test TSA",
    *,
    eku_critical: bool = True,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    key: PrivateKey | None = None,
    rsa_key: bool = False,
) -> CertifiedKey:
    """A TSA certificate issued by `issuer`: a new P-256 key (RSA-2048 with `rsa_key`) or `key`."""
    if key is None:
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if rsa_key
            else ec.generate_private_key(ec.SECP256R1())
        )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=1))
        .not_valid_after(not_after or now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=eku_critical
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )
    return CertifiedKey(key, cert)


@dataclass(frozen=True)
class TestPKI:
    root: CertifiedKey
    tsa: CertifiedKey

    __test__ = False  # not a pytest test class

    @classmethod
    def create(cls) -> TestPKI:
        root = make_root_ca()
        return cls(root, make_tsa_certificate(root))


# asn1crypto's TimeStampResp makes the token mandatory; RFC 3161 makes it optional (absent on
# rejection), so the server builds its replies with this one.
class TimeStampResp(core.Sequence):
    _fields = [  # noqa: RUF012 (asn1crypto's declarative class attribute)
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _sorted_set(attrs: list[cms.CMSAttribute]) -> cms.CMSAttributes:
    # DER orders the members of a SET OF by their encodings; verifiers (OpenSSL) re-encode.
    return cms.CMSAttributes(sorted(attrs, key=lambda attr: attr.dump()))


def sign_tst_info(
    tst_info: tsp.TSTInfo,
    signer: CertifiedKey,
    *,
    include_certificate: bool = True,
    ess_certificate: x509.Certificate | None = None,
) -> cms.ContentInfo:
    """The TimeStampToken: CMS SignedData over `tst_info`, signed by `signer`.

    `ess_certificate`: the certificate the signed ESS attribute names, when not the signer's
    (to forge a substituted certificate)."""
    content = tst_info.dump()
    signer_cert = asn1_x509.Certificate.load(signer.cert_der)
    ess_der = (
        ess_certificate.public_bytes(serialization.Encoding.DER)
        if ess_certificate is not None
        else signer.cert_der
    )
    ess_cert = asn1_x509.Certificate.load(ess_der)
    signed_attrs = _sorted_set(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [hashlib.sha256(content).digest()]}
            ),
            cms.CMSAttribute(
                {
                    "type": "signing_certificate_v2",
                    "values": [
                        {
                            "certs": [
                                {
                                    "cert_hash": hashlib.sha256(ess_der).digest(),
                                    "issuer_serial": {
                                        "issuer": [
                                            asn1_x509.GeneralName(
                                                name="directory_name", value=ess_cert.issuer
                                            )
                                        ],
                                        "serial_number": ess_cert.serial_number,
                                    },
                                }
                            ]
                        }
                    ],
                }
            ),
        ]
    )
    if isinstance(signer.key, rsa.RSAPrivateKey):
        algorithm = "sha256_rsa"
        signature = signer.key.sign(signed_attrs.dump(), padding.PKCS1v15(), hashes.SHA256())
    else:
        algorithm = "sha256_ecdsa"
        signature = signer.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                name="issuer_and_serial_number",
                value={
                    "issuer": signer_cert.issuer,
                    "serial_number": signer_cert.serial_number,
                },
            ),
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
            "signed_attrs": signed_attrs,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
            "signature": signature,
        }
    )
    signed_data: dict[str, object] = {
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": "sha256"})],
        "encap_content_info": {
            "content_type": "tst_info",
            "content": core.ParsableOctetString(content),
        },
        "signer_infos": [signer_info],
    }
    if include_certificate:
        signed_data["certificates"] = [signer_cert]
    return cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})


def make_tst_info(
    digest: bytes,
    *,
    serial_number: int,
    signer: CertifiedKey,
    nonce: int | None,
    gen_time: datetime | None = None,
    policy: str = TEST_POLICY_OID,
    hash_algorithm: str = "sha256",
) -> tsp.TSTInfo:
    fields: dict[str, object] = {
        "version": "v1",
        "policy": policy,
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": hash_algorithm}),
            "hashed_message": digest,
        },
        "serial_number": serial_number,
        "gen_time": (gen_time or datetime.now(UTC)).replace(microsecond=0),
        "accuracy": {"seconds": 1},
        "tsa": asn1_x509.GeneralName(
            name="directory_name",
            value=asn1_x509.Certificate.load(signer.cert_der).subject,
        ),
    }
    if nonce is not None:
        fields["nonce"] = nonce
    return tsp.TSTInfo(fields)


def granted(token: cms.ContentInfo) -> bytes:
    return TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


def rejection(text: str, fail_info: str = "bad_request") -> bytes:
    return TimeStampResp(
        {"status": {"status": "rejection", "status_string": [text], "fail_info": {fail_info}}}
    ).dump()


def token_for(
    data_or_digest: bytes,
    signer: CertifiedKey,
    *,
    is_digest: bool = False,
    nonce: int | None = None,
    serial_number: int = 1,
) -> bytes:
    """A complete granted TimeStampResp over SHA-256(data) (or over `digest`), made offline."""
    digest = data_or_digest if is_digest else hashlib.sha256(data_or_digest).digest()
    info = make_tst_info(digest, serial_number=serial_number, signer=signer, nonce=nonce)
    return granted(sign_tst_info(info, signer))


@dataclass
class TSAServer:
    """An RFC 3161 server over HTTP on 127.0.0.1; `behaviour` picks how it answers."""

    pki: TestPKI
    behaviour: Behaviour = "ok"
    requests: list[tsp.TimeStampReq] = field(default_factory=list)
    _serial: int = 0
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def start(self) -> TSAServer:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def answer(self, request: tsp.TimeStampReq) -> bytes:
        """The DER TimeStampResp the server gives for `request` under its behaviour."""
        self._serial += 1
        imprint = request["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256":
            return rejection("only SHA-256 message imprints are accepted", "bad_alg")
        digest = imprint["hashed_message"].native
        nonce = request["nonce"].native
        if self.behaviour == "other_hash":
            digest = hashlib.sha256(b"something else entirely").digest()
        elif self.behaviour == "wrong_nonce":
            nonce = (nonce or 0) + 1
        elif self.behaviour == "no_nonce":
            nonce = None
        elif self.behaviour == "reject":
            return rejection("the test TSA was told to refuse", "system_failure")
        info = make_tst_info(digest, serial_number=self._serial, signer=self.pki.tsa, nonce=nonce)
        include_certificate = (
            bool(request["cert_req"].native) and self.behaviour != "no_certificate"
        )
        return granted(sign_tst_info(info, self.pki.tsa, include_certificate=include_certificate))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if self.behaviour == "http_500":
            return web.Response(status=500, text="the test TSA was told to fail")
        if self.behaviour == "garbage":
            return web.Response(body=b"\x30\x82garbage", content_type="application/timestamp-reply")
        if self.behaviour == "oversized":
            return web.Response(
                body=b"\x00" * (1024 * 1024), content_type="application/timestamp-reply"
            )
        if self.behaviour == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=30)
        if request.content_type != "application/timestamp-query":
            return web.Response(status=415, text="expected application/timestamp-query")
        try:
            parsed = tsp.TimeStampReq.load(body, strict=True)
            parsed.native  # noqa: B018 (forces a full parse)
        except ValueError:
            return web.Response(
                body=rejection("not a DER TimeStampReq", "bad_data_format"),
                content_type="application/timestamp-reply",
            )
        self.requests.append(parsed)
        reply = self.answer(parsed)
        content_type = (
            "text/html" if self.behaviour == "wrong_content_type" else "application/timestamp-reply"
        )
        return web.Response(body=reply, content_type=content_type)


def new_nonce() -> int:
    return secrets.randbits(63)


def _signed_data(response_der: bytes) -> cms.SignedData:
    token = TimeStampResp.load(response_der)["time_stamp_token"]
    # a fresh, independent copy that can be edited
    return cms.ContentInfo.load(token.dump())["content"]


def tst_info_of(response_der: bytes) -> tsp.TSTInfo:
    return _signed_data(response_der)["encap_content_info"]["content"].parsed


def with_tst_info(response_der: bytes, tst_info: tsp.TSTInfo) -> bytes:
    """The token with its TSTInfo replaced after signing: the TSA's signature left as it was."""
    signed = _signed_data(response_der)
    signed["encap_content_info"] = cms.EncapsulatedContentInfo(
        {"content_type": "tst_info", "content": core.ParsableOctetString(tst_info.dump())}
    )
    return granted(cms.ContentInfo({"content_type": "signed_data", "content": signed}))


def bare_token(response_der: bytes) -> bytes:
    """Only the TimeStampToken (ContentInfo) of a response, as `openssl ts -token_out` gives."""
    return bytes(TimeStampResp.load(response_der)["time_stamp_token"].dump())
