"""Real encoded media for recorder tests: a VP8/Opus WebM demuxed into frames as they arrive."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import av

from media import CodecInfo, EncodedFrame

VP8 = CodecInfo("video/VP8", 90000)
OPUS = CodecInfo("audio/opus", 48000, 2)
SECONDS = 3  # of source media: keyframe every second (make_webm)
FRAME = 1 / 30  # make_webm frame rate


def demux_frames(path: Path, base: float, jitter: float = 0.0, seed: int = 7) -> list[EncodedFrame]:
    """The file's packets as the receiver tap would deliver them, in arrival order.

    `arrival` = base + the packet's media time, plus up to `jitter` seconds of delay; each
    track stays in order, as a jitter buffer delivers it.
    """
    rng = random.Random(seed)
    frames = []
    latest = {"audio": 0.0, "video": 0.0}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if not packet.size or packet.pts is None:
                continue
            codec = VP8 if packet.stream.type == "video" else OPUS
            seconds = packet.pts * packet.time_base
            pts = round(seconds * codec.clock_rate)
            arrival = max(base + float(seconds) + rng.random() * jitter, latest[codec.kind])
            latest[codec.kind] = arrival
            frames.append(
                EncodedFrame(codec.kind, codec, bytes(packet), pts, packet.is_keyframe, arrival)
            )
    frames.sort(key=lambda frame: frame.arrival)
    return frames


def read_segment(path: Path) -> dict[str, Any]:
    """Demux and decode every packet; per kind: packets (pts s, keyframe), decoded frames."""
    result: dict[str, Any] = {}
    with av.open(str(path)) as container:
        result["duration"] = (container.duration or 0) / 1e6
        for stream in container.streams:
            result[stream.type] = {"packets": [], "decoded": 0, "end": 0.0}
        for packet in container.demux():
            if packet.size == 0:
                continue
            entry = result[packet.stream.type]
            start = float((packet.pts or 0) * packet.time_base)
            entry["packets"].append((start, packet.is_keyframe))
            entry["end"] = max(
                entry["end"], start + float((packet.duration or 0) * packet.time_base)
            )
            entry["decoded"] += len(packet.decode())
    for kind in ("audio", "video"):
        if kind in result:
            entry = result[kind]
            entry["first"] = entry["packets"][0][0] if entry["packets"] else None
            # Matroska keeps no duration for a video block: count the last frame as 1/30 s.
            if kind == "video" and entry["packets"]:
                entry["end"] = entry["packets"][-1][0] + FRAME
    return result
