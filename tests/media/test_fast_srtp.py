"""LeanSession against pylibsrtp's own Session: the same bytes out, the same errors, and the
two interoperate both ways (it is the same libsrtp context, called with fewer steps)."""

from __future__ import annotations

import os
import struct

import pylibsrtp
import pytest
from aiortc import rtcdtlstransport
from pylibsrtp import Policy, Session

from media import fast_srtp
from media.fast_srtp import LeanSession

pytestmark = pytest.mark.unit

PROFILES = {
    "aes128_cm_sha1_80": (Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
    "aead_aes_128_gcm": (Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
}


def _pair(cls: type[Session], profile: str, key: bytes) -> tuple[Session, Session]:
    srtp_profile, _ = PROFILES[profile]
    tx = cls(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=srtp_profile))
    rx = cls(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=srtp_profile))
    return tx, rx


def _rtp(seq: int, size: int, ssrc: int = 0x1234ABCD) -> bytes:
    return struct.pack("!BBHII", 0x80, 96, seq & 0xFFFF, seq * 3000, ssrc) + bytes(
        (seq + i) & 0xFF for i in range(size)
    )


def _rtcp(ssrc: int = 0x1234ABCD) -> bytes:
    # A receiver report with no report blocks (RFC 3550 6.4.2).
    return struct.pack("!BBHI", 0x80, 201, 1, ssrc)


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_same_bytes_as_pylibsrtp_and_interoperable(profile: str) -> None:
    key = os.urandom(PROFILES[profile][1])
    ours_tx, ours_rx = _pair(LeanSession, profile, key)
    theirs_tx, theirs_rx = _pair(Session, profile, key)
    sizes = [0, 1, 100, 1200, 1500 - 12 - pylibsrtp.SRTP_MAX_TRAILER_LEN]
    # Across the 16-bit sequence wrap: the rollover counter is libsrtp's, in both.
    for seq in [*range(65530, 65536), *range(65536, 65542)]:
        packet = _rtp(seq, sizes[seq % len(sizes)])
        ours = ours_tx.protect(packet)
        assert ours == theirs_tx.protect(packet)
        assert ours != packet and len(ours) > len(packet)
        assert theirs_rx.unprotect(ours) == packet
        assert ours_rx.unprotect(ours) == packet
    report = _rtcp()
    ours_rtcp = ours_tx.protect_rtcp(report)
    assert ours_rtcp == theirs_tx.protect_rtcp(report)
    assert theirs_rx.unprotect_rtcp(ours_rtcp) == report
    assert ours_rx.unprotect_rtcp(theirs_tx.protect_rtcp(report)) == report


def test_errors_are_pylibsrtp_s() -> None:
    key = os.urandom(28)
    tx, rx = _pair(LeanSession, "aead_aes_128_gcm", key)
    protected = tx.protect(_rtp(1, 100))
    tampered = protected[:-1] + bytes([protected[-1] ^ 1])
    with pytest.raises(pylibsrtp.Error, match="authentication"):
        rx.unprotect(tampered)
    assert rx.unprotect(protected) == _rtp(1, 100)  # the session still works
    with pytest.raises(pylibsrtp.Error, match="replay"):
        rx.unprotect(protected)
    with pytest.raises(TypeError, match="bytes"):
        tx.protect(bytearray(_rtp(2, 10)))  # type: ignore[arg-type]
    too_long = _rtp(3, 1500 - 12 - pylibsrtp.SRTP_MAX_TRAILER_LEN + 1)
    with pytest.raises(ValueError, match="too long"):
        tx.protect(too_long)
    with pytest.raises(ValueError, match="too long"):
        _pair(Session, "aead_aes_128_gcm", key)[0].protect(too_long)  # pylibsrtp's limit too


def test_install_makes_aiortc_build_lean_sessions() -> None:
    import media  # noqa: F401  (installs on import)

    assert rtcdtlstransport.Session is LeanSession
    fast_srtp.uninstall()
    try:
        assert rtcdtlstransport.Session is pylibsrtp.Session
    finally:
        fast_srtp.install()
    assert rtcdtlstransport.Session is LeanSession


def test_install_keeps_pylibsrtp_s_session_where_the_lean_one_fails(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A pylibsrtp whose private members moved: LeanSession cannot be built.
    monkeypatch.setattr(LeanSession, "__init__", _raises_attribute_error)
    fast_srtp.uninstall()
    try:
        assert fast_srtp.install() is False
        assert rtcdtlstransport.Session is pylibsrtp.Session
        assert "not usable" in caplog.text
    finally:
        monkeypatch.undo()
        assert fast_srtp.install() is True
    assert rtcdtlstransport.Session is LeanSession


def _raises_attribute_error(self: LeanSession, policy: object = None) -> None:
    raise AttributeError("'Session' object has no attribute '_srtp'")
