"""REMB feedback at most five times a second, except when the estimate drops.

aiortc 1.16.0's RemoteBitrateEstimator answers the publisher with a REMB every 500 ms, and on
every packet while its delay detector says "overusing". A server under load delays packets, the
detector sees overuse, and the server then builds, protects and sends one more RTCP packet for
every packet it receives: load that feeds itself (py-spy at 10 recorded sessions on a disturbed
machine: the REMB sends were 10 % of the event loop's busy time, against 1 % when quiet).

libwebrtc's receiver throttles the same feedback (RembThrottler: one per 200 ms, unless the
value falls by 3 % or more). So does this: the estimator itself runs on every packet exactly as
before; only a REMB that says nothing new within 200 ms of the last one is not sent.
"""

from __future__ import annotations

from aiortc import rate
from aiortc.rate import RemoteBitrateEstimator

MIN_INTERVAL_MS = 200
# A value at least this much below the last one sent goes out at once: the publisher must slow
# down without waiting.
DROP_SENDS_AT_ONCE = 0.97

ORIGINAL_ADD = RemoteBitrateEstimator.add
_LAST_SENT = "_notarylink_remb_last_sent"  # (arrival ms, bitrate) of the last REMB let out


def add(
    self: RemoteBitrateEstimator,
    arrival_time_ms: int,
    abs_send_time: int,
    payload_size: int,
    ssrc: int,
) -> tuple[int, list[int]] | None:
    feedback = ORIGINAL_ADD(self, arrival_time_ms, abs_send_time, payload_size, ssrc)
    if feedback is None:
        return None
    last: tuple[int, int] | None = getattr(self, _LAST_SENT, None)
    bitrate = feedback[0]
    if last is not None and not lets_out(last[0], last[1], arrival_time_ms, bitrate):
        return None
    setattr(self, _LAST_SENT, (arrival_time_ms, bitrate))
    return feedback


def lets_out(last_ms: int, last_bitrate: int, arrival_time_ms: int, bitrate: int) -> bool:
    """Whether a REMB of `bitrate` goes out, the last one sent being `last_bitrate` at
    `last_ms`: 200 ms later, or at once when the value fell 3 % or more."""
    return (
        arrival_time_ms - last_ms >= MIN_INTERVAL_MS or bitrate < last_bitrate * DROP_SENDS_AT_ONCE
    )


def install() -> None:
    rate.RemoteBitrateEstimator.add = add  # type: ignore[method-assign]
