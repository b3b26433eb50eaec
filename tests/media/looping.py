"""Playing a pre-encoded file as a participant's camera and microphone, again and again."""

from __future__ import annotations

from pathlib import Path

import av
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError


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
