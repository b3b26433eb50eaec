"""Types of media/_core.c (the forwarding core); media/core.py is its Python side."""

from collections.abc import Callable
from typing import Any, Literal

HISTORY_SIZE: int
PACKET_CAPACITY: int

def ntp_now() -> int: ...
def totals() -> dict[str, int]: ...

class Output:
    forwarded: int
    octets: int
    transport_bytes: int
    transport_packets: int
    send_errors: int
    protect_errors: int
    last_serial: int
    last_ntp: int
    last_sequence: int
    last_timestamp: int
    closed: bool
    def __init__(
        self,
        protect: int,
        context: int,
        session: object,
        fd: int,
        host: str,
        port: int,
        ssrc: int,
        payload_type: int,
        mid_element: bytes,
        abs_send_time_id: int,
        audio_level_id: int,
    ) -> None: ...
    def forward(
        self, marker: int, sequence: int, timestamp: int, payload: bytes, audio_level: int, /
    ) -> bool: ...
    def send(self, data: bytes, /) -> bool: ...
    def history(self, sequence: int, /) -> bytes | None: ...
    def follow(
        self,
        source: int,
        payload_type: int,
        sequence_offset: int,
        timestamp_offset: int,
        audio_level_id: int,
    ) -> None: ...
    def close(self) -> None: ...

class Router:
    received: int
    rejected: int
    forwarded: int
    route_count: int
    session: object | None
    def attach(self, session: object, unprotect: int, context: int, /) -> None: ...
    continued: int
    def receive(self, packet: bytes, /) -> tuple[bytes, int] | Literal[True] | None: ...
    def continue_with(
        self,
        ssrc: int,
        payload_type: int,
        clock_rate: int,
        video: bool,
        abs_send_time_id: int,
        extension_lengths: bytes,
        mid_id: int,
        mid: bytes,
        statistics: object,
        nack: object,
        add_frame: Callable[[int, int, bool, bytes], Any],
        estimate: Callable[[int, int, int, int], Any] | None,
        publication: object,
        on_result: Callable[[Any], None],
        on_remb: Callable[[Any], None],
        /,
    ) -> None: ...
    def arm(self, ssrc: int, next_sequence: int, timestamp: int, /) -> bool: ...
    def disarm(self, ssrc: int, /) -> None: ...
    def forget(self, ssrc: int, /) -> bool: ...
    def armed(self, ssrc: int, /) -> int | None: ...
    def route(self, ssrc: int, output: Output, /) -> None: ...
    def unroute(self, output: Output, /) -> bool: ...
