"""The naive server of tests/bench/naive_server.py, recording as the aiortc examples do.

    python -m tests.bench.naive_recording --port P --record-dir DIR

Each participant's published audio and video also go, through the room's MediaRelay, to an
aiortc `MediaRecorder` writing DIR/<participant>.mp4. The recorder encodes what aiortc decoded
(H.264 with libx264 and AAC for MP4), on top of the naive server's re-encoding for each
subscriber. MP4 is the cheaper of aiortc's usual targets: WebM re-encodes to VP8 with libvpx,
which cost about 2.5 times as much here (docs/bench/forwarding.md, SETUP-NOTES).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from pathlib import Path
from typing import Any, ClassVar

from aiortc.contrib.media import MediaRecorder

from tests.bench import naive_server


class RecordingParticipant(naive_server.NaiveParticipant):
    record_dir: ClassVar[Path] = Path(".")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder: MediaRecorder | None = None

    async def handle_offer(self, sdp: str) -> None:
        before = len(self.published)
        await super().handle_offer(sdp)
        fresh = self.published[before:]
        if fresh and self.recorder is None:
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.id)
            self.recorder = MediaRecorder(str(self.record_dir / f"{name}.mp4"))
            for track in fresh:
                self.recorder.addTrack(self.room.relay.subscribe(track))
            await self.recorder.start()

    async def close(self) -> None:
        if self.recorder is not None:
            with contextlib.suppress(Exception):  # an unfinished file is still the cost paid
                await self.recorder.stop()
        await super().close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="naive_recording")
    parser.add_argument("--record-dir", type=Path, required=True)
    args, rest = parser.parse_known_args(argv)
    args.record_dir.mkdir(parents=True, exist_ok=True)
    RecordingParticipant.record_dir = args.record_dir
    # The naive server's websocket handler creates participants through this module name.
    naive_server.NaiveParticipant = RecordingParticipant  # type: ignore[misc]
    return naive_server.main(rest)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
