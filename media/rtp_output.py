"""Sending an RTP packet on an aiortc DTLS transport without going through coroutines.

aiortc 1.16.0 sends every packet through four coroutines (`RTCDtlsTransport._send_rtp`,
aioice's `Connection.send`/`sendto`, `StunProtocol.send_data`) that never wait: they encrypt
and call the UDP socket's `sendto`. The forwarder sends many packets per packet received, so
it does the same steps as plain calls. A relayed (TURN) pair keeps its own `send_data`.
"""

from __future__ import annotations

import logging

from aioice.ice import StunProtocol
from aiortc import RTCDtlsTransport
from aiortc.rtcdtlstransport import State

from media.eager import run_now

logger = logging.getLogger(__name__)

# aiortc 1.16.0's private counters behind the transport's getStats() (media/compat.py pins it).
TX_BYTES = "_RTCDtlsTransport__tx_bytes"
TX_PACKETS = "_RTCDtlsTransport__tx_packets"


class RtpOutput:
    """Encrypts and sends RTP (or RTCP) datagrams on one DTLS transport, as aiortc would."""

    def __init__(self, transport: RTCDtlsTransport) -> None:
        self.transport = transport
        self._connection = transport.transport._connection
        self.sent = 0
        self.dropped = 0  # not connected (yet, or any more)

    def send(self, data: bytes) -> bool:
        transport = self.transport
        if transport._state is not State.CONNECTED or transport._tx_srtp is None:
            self.dropped += 1
            return False
        pair = self._connection._nominated.get(1)
        if pair is None:
            self.dropped += 1
            return False
        packet = transport._tx_srtp.protect(data)
        protocol = pair.protocol
        if type(protocol) is StunProtocol:
            protocol.transport.sendto(packet, pair.remote_addr)
        else:
            run_now(protocol.send_data(packet, pair.remote_addr))
        setattr(transport, TX_BYTES, getattr(transport, TX_BYTES) + len(packet))
        setattr(transport, TX_PACKETS, getattr(transport, TX_PACKETS) + 1)
        self.sent += 1
        return True
