"""SRTP through the same libsrtp session, with fewer Python steps per packet.

pylibsrtp 1.0.0's `Session.protect`/`unprotect` allocate a C `int` per call (`ffi.new`),
copy the packet in through a buffer slice and look up the session pointer on every call,
~1.5-2 µs of Python around libsrtp's own work (`python -m tests.bench.packet_costs`: "srtp
protect"/"srtp unprotect"). `LeanSession` is a pylibsrtp `Session` (same policy handling, same
libsrtp context, same errors) whose four per-packet methods keep the length cell and the
context pointer and copy with one `memmove`. `install()` makes aiortc's DTLS transport create
these instead (aiortc 1.16.0 builds its sessions as `rtcdtlstransport.Session(policy)`;
media/compat.py checks the pin first). It reads pylibsrtp's private members (pylibsrtp is not
pinned), so `install()` first round-trips a packet through a pair of them; if that fails,
aiortc keeps pylibsrtp's own Session and a warning says why.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pylibsrtp
from aiortc import rtcdtlstransport
from pylibsrtp import SRTP_MAX_SRTCP_TRAILER_LEN, SRTP_MAX_TRAILER_LEN, _binding

_ffi: Any = _binding.ffi
_lib: Any = _binding.lib


class LeanSession(pylibsrtp.Session):
    """pylibsrtp's Session with the per-packet calls made lean (see the module's doc)."""

    def __init__(self, policy: pylibsrtp.Policy | None = None) -> None:
        super().__init__(policy)
        self._context = self._srtp[0]
        self._length = _ffi.new("int *")
        self._capacity = len(self._cdata)

    def _process(self, data: bytes, func: Any, trailer: int) -> bytes:
        if not isinstance(data, bytes):
            raise TypeError("packet must be bytes")
        size = len(data)
        if size > self._capacity - trailer:
            raise ValueError("packet is too long")
        length = self._length
        length[0] = size
        _ffi.memmove(self._cdata, data, size)
        status = func(self._context, self._cdata, length)
        if status:
            pylibsrtp._srtp_assert(status)  # raises pylibsrtp.Error with libsrtp's reason
        return self._buffer[0 : length[0]]

    def protect(self, packet: bytes) -> bytes:
        return self._process(packet, _lib.srtp_protect, SRTP_MAX_TRAILER_LEN)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._process(packet, _lib.srtp_protect_rtcp, SRTP_MAX_SRTCP_TRAILER_LEN)

    def unprotect(self, packet: bytes) -> bytes:
        return self._process(packet, _lib.srtp_unprotect, 0)

    def unprotect_rtcp(self, packet: bytes) -> bytes:
        return self._process(packet, _lib.srtp_unprotect_rtcp, 0)


logger = logging.getLogger(__name__)


def works() -> bool:
    """Whether LeanSession runs on the installed pylibsrtp: one packet protected and back."""
    key = os.urandom(30)
    packet = bytes([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]) + bytes(100)
    try:
        sessions = [
            LeanSession(pylibsrtp.Policy(key=key, ssrc_type=ssrc_type))
            for ssrc_type in (pylibsrtp.Policy.SSRC_ANY_OUTBOUND, pylibsrtp.Policy.SSRC_ANY_INBOUND)
        ]
        return sessions[1].unprotect(sessions[0].protect(packet)) == packet
    except Exception:
        logger.warning("fast_srtp: not usable with this pylibsrtp", exc_info=True)
        return False


def install() -> bool:
    """Make aiortc build LeanSessions, if they work here; returns whether it does."""
    if not works():
        return False
    rtcdtlstransport.Session = LeanSession  # type: ignore[misc]
    return True


def uninstall() -> None:
    rtcdtlstransport.Session = pylibsrtp.Session  # type: ignore[misc]


__all__ = ["LeanSession", "install", "uninstall", "works"]
