"""The forwarding path in C (media/_core.c), and how media/ hands it packets and subscribers.

Per packet, the event loop spent most of its time in the interpreter (docs/bench/README.md):
receive, unprotect, parse, then for every subscriber rewrite, protect and send. The C core
takes the part that is the same for every packet of a started subscriber:

- a `Router` per publisher's DTLS transport unprotects each incoming SRTP packet
  (media/direct_receive.py) and forwards it to the `Output`s routed to its SSRC and payload
  type, before Python sees it;
- an `Output` per subscriber's forwarder holds what RtpForwarder would use for it (offsets,
  SSRC, payload type, extensions, the 128-packet history, counters) and sends on a dup() of
  the ICE pair's socket with the subscriber transport's SRTP session.

Python keeps every decision (when a subscriber starts, restarts, codecs, RTX repairs,
statistics, NACK, REMB, the recorder) and still sees every packet: the Router tells it which
ones an output already sent (`SERIAL`). media/rtp_forwarder.py moves a started forwarder onto
an Output and keeps the sender's RTCP counters in step.

libsrtp is reached through pylibsrtp's own binding (function addresses, session contexts),
whose private members this reads; pylibsrtp is not pinned, so `enabled()` first sends one
packet through a Router and an Output on loopback and compares. Where the module was not
built (no C compiler at install), that probe fails, or NOTARYLINK_FORWARDING_CORE=0, media/
forwards in Python as before, with a log line saying why. The other C modules of the receive
path follow the same decision: the frame buffer (media/frame_buffers.py) and the bandwidth
estimator (media/fast_remb.py) are C ones only where `enabled()`.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCDtlsTransport
from aiortc.rtcdtlstransport import State
from pylibsrtp import _binding

try:
    from media import _core
    from media._core import Output, Router
except ImportError:  # built optionally (pyproject.toml): no compiler, no module
    _core = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

ENVIRONMENT = "NOTARYLINK_FORWARDING_CORE"
# The attribute of an incoming RtpPacket: the Router's serial number for it, when some
# Output forwarded it (media/sync_receive.py sets it, media/rtp_forwarder.py reads it).
SERIAL = "_core_serial"
_ROUTER = "_notarylink_core_router"

_ffi: Any = _binding.ffi
_lib: Any = _binding.lib
_enabled: bool | None = None


def _address(pointer: Any) -> int:
    return int(_ffi.cast("uintptr_t", pointer))


def _context(session: pylibsrtp.Session) -> int:
    return _address(session._srtp[0])


def _protect() -> int:
    return _address(_ffi.addressof(_lib, "srtp_protect"))


def _unprotect() -> int:
    return _address(_ffi.addressof(_lib, "srtp_unprotect"))


def enabled() -> bool:
    """Whether the C core forwards here (built, not switched off, and works): decided once."""
    global _enabled
    if _enabled is None:
        _enabled = _decide()
    return _enabled


def switch_off() -> None:
    """Forward in Python from now on (the `forwarding_core` setting; before any session)."""
    global _enabled
    _enabled = False


def _decide() -> bool:
    if os.environ.get(ENVIRONMENT, "1") == "0":
        logger.info("forwarding core switched off (%s=0): forwarding in Python", ENVIRONMENT)
        return False
    if _core is None:
        logger.warning("media._core is not built (no C compiler at install?): forwarding in Python")
        return False
    try:
        works = _round_trip()
    except Exception:
        logger.warning("forwarding core: not usable with this pylibsrtp", exc_info=True)
        return False
    if not works:
        logger.warning("forwarding core: loopback probe came back different: forwarding in Python")
    return works


def _round_trip() -> bool:
    """One packet through a Router and an Output on loopback, compared with what went in."""
    key = os.urandom(30)
    publisher = pylibsrtp.Session(
        pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    receiving = pylibsrtp.Session(
        pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
    )
    subscriber_key = os.urandom(30)
    sending = pylibsrtp.Session(
        pylibsrtp.Policy(key=subscriber_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    subscriber = pylibsrtp.Session(
        pylibsrtp.Policy(key=subscriber_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
    )
    payload = os.urandom(100)
    rtp = bytes([0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7]) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind(("127.0.0.1", 0))
        sink.settimeout(1.0)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as source:
            output = new_output(
                sending, os.dup(source.fileno()), sink.getsockname(), ssrc=0x5EB5C, payload_type=100
            )
            output.follow(
                source=7, payload_type=96, sequence_offset=9, timestamp_offset=5, audio_level_id=0
            )
            router = new_router(receiving)
            router.route(7, output)
            received = router.receive(publisher.protect(rtp))
            output.close()
            if received is None or received is True or received[0] != rtp or not received[1]:
                return False
            sent = subscriber.unprotect(sink.recv(2048))
    expected = bytes([0x80, 100, 0, 10, 0, 0, 0, 6, 0, 5, 0xEB, 0x5C]) + payload
    return sent == expected


def router_of(transport: RTCDtlsTransport) -> Router | None:
    """The Router of a publisher's transport (made on first use), or None without the core."""
    if not enabled():
        return None
    router: Router | None = transport.__dict__.get(_ROUTER)
    if router is None:
        router = _core.Router()
        setattr(transport, _ROUTER, router)
    return router


def attach(router: Router, session: pylibsrtp.Session) -> None:
    """Unprotect with `session` from now on (the transport's receiving session)."""
    router.attach(session, _unprotect(), _context(session))


def new_output(
    session: pylibsrtp.Session,
    fd: int,
    address: tuple[str, int],
    *,
    ssrc: int,
    payload_type: int,
    mid_element: bytes = b"",
    abs_send_time_id: int | None = None,
    audio_level_id: int | None = None,
) -> Output:
    """An Output protecting with `session` and sending to `address` on `fd`, which it owns
    from now on (closed with it, or here if it cannot be made)."""
    try:
        return _core.Output(
            protect=_protect(),
            context=_context(session),
            session=session,
            fd=fd,
            host=address[0],
            port=address[1],
            ssrc=ssrc,
            payload_type=payload_type,
            mid_element=mid_element,
            abs_send_time_id=abs_send_time_id or 0,
            audio_level_id=audio_level_id or 0,
        )
    except Exception:
        os.close(fd)
        raise


def output_for(
    transport: RTCDtlsTransport,
    *,
    ssrc: int,
    payload_type: int,
    mid_element: bytes,
    abs_send_time_id: int | None,
    audio_level_id: int | None,
) -> Output | None:
    """An Output sending on `transport`'s nominated pair, or None while it cannot (not
    connected yet, or a relayed pair: those keep aiortc's own send path)."""
    if transport._state is not State.CONNECTED or transport._tx_srtp is None:
        return None
    pair = transport.transport._connection._nominated.get(1)
    if pair is None or type(pair.protocol) is not StunProtocol:
        return None
    sock = pair.protocol.transport.get_extra_info("socket")
    if sock is None:
        return None
    host, port = pair.remote_addr[:2]
    return new_output(
        transport._tx_srtp,
        os.dup(sock.fileno()),
        (host, port),
        ssrc=ssrc,
        payload_type=payload_type,
        mid_element=mid_element,
        abs_send_time_id=abs_send_time_id,
        audio_level_id=audio_level_id,
    )


TOTALS = ("received", "rejected", "routed", "continued", "sent", "send_failures")


def totals() -> dict[str, int]:
    """The process's packet counts in the core, ended sessions included (zeros unbuilt)."""
    return _core.totals() if _core is not None else dict.fromkeys(TOTALS, 0)


def new_router(session: pylibsrtp.Session) -> Router:
    """A Router unprotecting with `session` (tests; transports get theirs from router_of)."""
    router = _core.Router()
    attach(router, session)
    return router


__all__ = [
    "ENVIRONMENT",
    "SERIAL",
    "TOTALS",
    "Output",
    "Router",
    "attach",
    "enabled",
    "new_output",
    "new_router",
    "output_for",
    "router_of",
    "switch_off",
    "totals",
]
