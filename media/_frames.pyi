"""Types of media/_frames.c (the frame-assembling receive buffer); media/frame_buffers.py is
its Python side."""

from collections.abc import Callable, Iterable
from typing import Any

DEPAYLOAD_AS_IS: int
DEPAYLOAD_VP8: int
DEPAYLOAD_DONE: int
MAX_MISORDER: int
AUDIO_REORDER_PACKETS: int

class FrameBuffer:
    capacity: int
    video: bool
    origin: int | None
    held: int
    forward: Callable[[Any], None] | None
    frames_wanted: bool
    def __init__(
        self, capacity: int, video: bool, frame_type: Callable[[bytes, int], Any]
    ) -> None: ...
    def add(self, packet: Any, depayload: int = ...) -> tuple[bool, Any]: ...
    def add_continued(
        self, sequence: int, timestamp: int, marker: bool, payload: bytes
    ) -> tuple[bool, Any]: ...
    def ready_frames(self) -> list[Any]: ...
    def remove(self, count: int) -> None: ...
    def load(self, origin: int, packets: Iterable[tuple[int, int, int, bytes]]) -> None: ...
