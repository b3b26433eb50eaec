"""Loopback-only ICE for the benchmark's processes (server, naive server, load generator).

aioice skips 127.0.0.1 when it lists host addresses, and this machine has no other network, so
every process of the benchmark restricts ICE to 127.0.0.1 before it creates a peer connection.
No STUN or TURN server is configured: aiortc would otherwise try a public STUN server.
"""

from __future__ import annotations

import aioice.ice
from aiortc import RTCBundlePolicy, RTCConfiguration


def allow_loopback_ice() -> None:
    aioice.ice.get_host_addresses = lambda **_: ["127.0.0.1"]


def rtc_configuration() -> RTCConfiguration:
    # max-bundle, as browsers do (and as the server's peers do).
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
