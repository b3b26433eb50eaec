"""Types of media/_rtp.c (aiortc's RTP parse for well-formed packets); media/fast_rtp.py is its
Python side."""

from aiortc.rtp import HeaderExtensions, RtpPacket

MID: int
REPAIRED_RID: int
RID: int
ABS_SEND_TIME: int
TOFFSET: int
AUDIO_LEVEL: int
TRANSPORT_CC: int
PADDING: int
IGNORED: int
INVALID: int

def setup(packet_type: type[RtpPacket], extensions_type: type[HeaderExtensions]) -> None: ...
def parse(data: bytes, table: bytes) -> RtpPacket | None: ...
