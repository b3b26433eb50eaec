"""Network statistics of one participant, from aiortc's getStats() and the taps' counters.

aiortc reports per-transport byte counters, receiver packet loss, and for each sender the
RTT and loss the remote endpoint put in its RTCP receiver reports. Bitrates and frame rates
are rates between two samples, so the sampler keeps the previous one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from aiortc.stats import (
    RTCInboundRtpStreamStats,
    RTCRemoteInboundRtpStreamStats,
    RTCStatsReport,
    RTCTransportStats,
)


@dataclass(frozen=True, slots=True)
class NetworkStats:
    """One participant's link to the server. Rates cover the interval since the last sample."""

    participant_id: str
    interval_s: float
    rtt_s: float | None  # server -> participant -> server, from RTCP receiver reports
    inbound_loss: float | None  # fraction of the participant's packets lost on the way in
    outbound_loss: float | None  # fraction lost towards the participant (its latest report)
    inbound_bitrate_bps: float
    outbound_bitrate_bps: float
    inbound_frame_rate: float | None  # video frames per second arriving from the participant
    packets_lost_inbound: int


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float
    bytes_received: int
    bytes_sent: int
    video_frames: int


class StatsSampler:
    def __init__(self, participant_id: str) -> None:
        self.participant_id = participant_id
        self._last = _Sample(time.monotonic(), 0, 0, 0)

    def sample(self, report: RTCStatsReport, video_frames: int, has_video: bool) -> NetworkStats:
        now = time.monotonic()
        transports = [s for s in report.values() if isinstance(s, RTCTransportStats)]
        inbound = [s for s in report.values() if isinstance(s, RTCInboundRtpStreamStats)]
        remote = [s for s in report.values() if isinstance(s, RTCRemoteInboundRtpStreamStats)]
        current = _Sample(
            at=now,
            bytes_received=sum(t.bytesReceived for t in transports),
            bytes_sent=sum(t.bytesSent for t in transports),
            video_frames=video_frames,
        )
        previous, self._last = self._last, current
        interval = max(current.at - previous.at, 1e-6)
        received = sum(s.packetsReceived for s in inbound)
        lost = sum(max(s.packetsLost, 0) for s in inbound)
        return NetworkStats(
            participant_id=self.participant_id,
            interval_s=interval,
            rtt_s=_mean(s.roundTripTime for s in remote),
            inbound_loss=lost / (received + lost) if received + lost else None,
            # fractionLost is RTCP's 8-bit fixed point (lost/expected * 256).
            outbound_loss=_mean(
                s.fractionLost / 256 if s.fractionLost is not None else None for s in remote
            ),
            inbound_bitrate_bps=max(current.bytes_received - previous.bytes_received, 0)
            * 8
            / interval,
            outbound_bitrate_bps=max(current.bytes_sent - previous.bytes_sent, 0) * 8 / interval,
            inbound_frame_rate=(current.video_frames - previous.video_frames) / interval
            if has_video
            else None,
            packets_lost_inbound=lost,
        )


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None
