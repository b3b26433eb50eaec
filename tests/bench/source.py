"""The benchmark's source media: a pre-encoded VP8 + Opus WebM, made once per run."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np

FPS = 30
AUDIO_RATE = 48000
OPUS_FRAME = 960  # 20 ms, what browsers send


def make_source_webm(
    path: Path,
    *,
    seconds: int = 10,
    size: tuple[int, int] = (640, 480),
    fps: int = FPS,
    bit_rate: int = 1_000_000,
    keyframe_seconds: float = 2.0,
) -> Path:
    """VP8 at `bit_rate` with a keyframe every `keyframe_seconds`, plus a mono Opus tone.

    The picture moves and carries noise so that the encoder spends its bit rate (a flat
    pattern would compress to almost nothing and flatter every figure).
    """
    width, height = size
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format="webm") as container:
        video = container.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = bit_rate
        video.codec_context.gop_size = max(1, round(fps * keyframe_seconds))
        video.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        audio = container.add_stream("libopus", rate=AUDIO_RATE)
        audio.layout = "mono"
        audio.bit_rate = 32_000
        ys, xs = np.mgrid[0:height, 0:width]
        noise = rng.integers(0, 16, size=(8, height, width), dtype=np.uint8)
        audio_pts = 0
        for index in range(seconds * fps):
            rgb = np.empty((height, width, 3), dtype=np.uint8)
            rgb[..., 0] = (xs + 4 * index) % 256
            rgb[..., 1] = (ys + 2 * index) % 256
            rgb[..., 2] = ((xs // 40 + ys // 40 + index // 10) % 2) * 200
            rgb[..., 1] += noise[index % len(noise)]
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = fractions.Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
            while audio_pts < (index + 1) * AUDIO_RATE // fps:
                t = (np.arange(OPUS_FRAME) + audio_pts) / AUDIO_RATE
                tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
                aframe = av.AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
                aframe.sample_rate = AUDIO_RATE
                aframe.pts = audio_pts
                aframe.time_base = fractions.Fraction(1, AUDIO_RATE)
                for packet in audio.encode(aframe):
                    container.mux(packet)
                audio_pts += OPUS_FRAME
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def describe(path: Path) -> dict[str, float | int | str]:
    """Frames, duration and bit rate of the video stream (for the report)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        sizes = [p.size for p in container.demux(stream) if p.size]
        keyframes = 0
        container.seek(0)
        for packet in container.demux(stream):
            keyframes += bool(packet.size and packet.is_keyframe)
        width, height = stream.codec_context.width, stream.codec_context.height
    seconds = len(sizes) / FPS
    return {
        "video": f"VP8 {width}x{height} {FPS} fps",
        "frames": len(sizes),
        "keyframes": keyframes,
        "seconds": round(seconds, 2),
        "video_kbps": round(sum(sizes) * 8 / seconds / 1000),
    }


def media_duration(path: Path) -> float:
    """Seconds from the first packet's start to the last packet's end, over all streams."""
    end = 0.0
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return end
