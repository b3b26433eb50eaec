"""The benchmark's source media: a pre-encoded VP8 + Opus WebM, made once per run."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

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


class LoopingPlayer:
    """One participant's camera and microphone: the file, played again and again, encoded.

    aiortc's `MediaPlayer(loop=True, decode=False)` stops pacing after its first loop: its
    reader thread and its tracks pace by the packet timestamps, which start again from zero
    after the seek, so from the second pass on the file is sent as fast as it can be read
    (thousands of frames a second, measured). Here every pass is a fresh
    `MediaPlayer(path, decode=False)` (which paces itself from its own start) and the
    timestamps of pass k are moved on by k times the file's duration, so they keep rising.
    """

    def __init__(self, path: Path, duration: float) -> None:
        self.path = path
        self.duration = duration
        self._passes: dict[int, MediaPlayer] = {}
        self.audio = LoopedTrack(self, "audio")
        self.video = LoopedTrack(self, "video")

    def source(self, number: int, kind: str) -> MediaStreamTrack:
        player = self._passes.get(number)
        if player is None:
            player = self._passes[number] = MediaPlayer(str(self.path), decode=False)
            self._passes.pop(number - 2, None)  # both tracks have left that pass
        track = player.audio if kind == "audio" else player.video
        assert track is not None, f"{self.path} has no {kind}"
        return track

    def stop(self) -> None:
        for track in (self.audio, self.video):
            track.stop()
        for player in self._passes.values():
            for source in (player.audio, player.video):
                if source is not None:
                    source.stop()
        self._passes.clear()


class LoopedTrack(MediaStreamTrack):
    def __init__(self, owner: LoopingPlayer, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._owner = owner
        self._pass = 0

    async def recv(self) -> av.Packet:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._owner.source(self._pass, self.kind)
            try:
                packet = await source.recv()
            except MediaStreamError:
                source.stop()  # the last track of a pass to stop closes its file
                self._pass += 1
                continue
            assert isinstance(packet, av.Packet) and packet.time_base is not None
            assert packet.pts is not None
            if self._pass:
                packet.pts += round(self._pass * self._owner.duration / packet.time_base)
                packet.dts = packet.pts
            return packet
