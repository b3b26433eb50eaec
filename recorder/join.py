"""Joining one participant's segments into one playable file, without re-encoding.

Packets are copied as they are; only their timestamps move, so that each segment lands at its
wall-clock offset from the first. The joined file is a convenience for people: the sealed
segments stay the evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av


@dataclass(frozen=True)
class Part:
    path: Path
    start_time: float  # wall-clock seconds of the segment's file time 0


def join_segments(
    parts: Sequence[Part], out: Path, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Write `parts` (in time order) into `out`; returns the packets copied per kind."""
    if not parts:
        raise ValueError("nothing to join")
    origin = parts[0].start_time
    fmt = "webm" if out.suffix == ".webm" else "matroska"
    copied = {"audio": 0, "video": 0}
    last_dts: dict[str, int] = {}
    with av.open(str(out), "w", format=fmt) as output:
        # Every stream is declared before the first packet: a stream added after muxing began
        # crashes libavformat (SIGFPE), and a participant's first segment is often audio only
        # (the microphone starts before the camera).
        streams = _declare_streams(parts, output)
        for index, part in enumerate(parts):
            with av.open(str(part.path)) as source:
                offset = part.start_time - origin
                for packet in source.demux():
                    kind = packet.stream.type
                    target = streams.get(kind)
                    if target is None or packet.size == 0 or packet.pts is None:
                        continue
                    shift = round(Fraction(offset) / packet.time_base)
                    packet.pts += shift
                    packet.dts = packet.pts if packet.dts is None else packet.dts + shift
                    # Jitter at a boundary must never send time backwards in the output.
                    if kind in last_dts and packet.dts <= last_dts[kind]:
                        packet.dts = last_dts[kind] + 1
                        packet.pts = max(packet.pts, packet.dts)
                    last_dts[kind] = packet.dts
                    packet.stream = target
                    output.mux(packet)
                    copied[kind] += 1
            if progress is not None:
                progress(index + 1, len(parts))
    return copied


def _declare_streams(parts: Sequence[Part], output: Any) -> dict[str, Any]:
    """One output stream per kind, from the first part that has it: parameters only (codec,
    size, OpusHead), no codec is opened."""
    streams: dict[str, Any] = {}
    for part in parts:
        with av.open(str(part.path)) as source:
            for stream in source.streams:
                if stream.type in ("audio", "video") and stream.type not in streams:
                    streams[stream.type] = output.add_stream_from_template(stream, opaque=True)
        if len(streams) == 2:
            break
    return streams
