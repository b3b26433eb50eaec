"""SRTP datagrams handled where they arrive, not one task switch later.

aiortc 1.16.0 receives every datagram through aioice's protocol, which first tries to parse it
as STUN (an exception per media packet), then queues it for the DTLS transport's task, which
unprotects it and awaits the RTP handlers. Here the ICE protocol of each local candidate gets
a `datagram_received` that tells SRTP from everything else by the first byte (RFC 7983:
128-191 is RTP/RTCP), unprotects it and handles it at once: RTP as aiortc's receiver would,
without its coroutines (media/sync_receive.py), RTCP through aiortc's own handler
(media/eager.py). STUN, DTLS and everything before the handshake take aiortc's path unchanged,
and so does a relayed (TURN) candidate, whose datagrams arrive through its own protocol.

Where the C core is built (media/core.py), RTP is unprotected by the transport's core Router,
which also forwards it to the subscribers routed there before it is handled here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pylibsrtp
from aioice.ice import StunProtocol
from aiortc import RTCDtlsTransport, clock
from aiortc.rtcdtlstransport import State
from aiortc.rtp import is_rtcp

from media import core
from media.eager import run_now
from media.sync_receive import receive_rtp

logger = logging.getLogger(__name__)

# aiortc 1.16.0's private counters behind the transport's getStats() (media/compat.py pins it).
RX_BYTES = "_RTCDtlsTransport__rx_bytes"
RX_PACKETS = "_RTCDtlsTransport__rx_packets"
_MARK = "_notarylink_direct_receive"

DatagramHandler = Callable[[Any, tuple[Any, ...]], None]


def install(transport: RTCDtlsTransport) -> int:
    """Handle SRTP for `transport` on arrival; returns how many protocols were hooked."""
    hooked = 0
    for protocol in transport.transport._connection._protocols:
        if type(protocol) is StunProtocol and not getattr(protocol, _MARK, False):
            protocol.datagram_received = _direct(transport, protocol.datagram_received)  # type: ignore[method-assign,assignment]
            setattr(protocol, _MARK, True)
            hooked += 1
    return hooked


def _direct(transport: RTCDtlsTransport, fallback: DatagramHandler) -> DatagramHandler:
    router = core.router_of(transport)

    def datagram_received(data: Any, addr: tuple[Any, ...]) -> None:
        if (
            not data
            or not 127 < data[0] < 192
            or transport._state is not State.CONNECTED
            or transport._rx_srtp is None
        ):
            fallback(data, addr)
            return
        state = transport.__dict__
        state[RX_BYTES] += len(data)
        state[RX_PACKETS] += 1
        arrival_time_ms = clock.current_ms()
        session = transport._rx_srtp
        try:
            if is_rtcp(data):
                run_now(transport._handle_rtcp_data(session.unprotect_rtcp(data)))
            elif router is not None:
                if router.session is not session:
                    core.attach(router, session)
                received = router.receive(data)
                # None: rejected by SRTP, dropped as aiortc does; True: handled in C
                # (media/continuation.py).
                if received is not None and received is not True:
                    receive_rtp(transport, received[0], arrival_time_ms, received[1])
            else:
                receive_rtp(transport, session.unprotect(data), arrival_time_ms)
        except pylibsrtp.Error:
            pass  # as aiortc: a packet that fails authentication is dropped
        except Exception:
            logger.exception("packet handler failed")

    return datagram_received
