"""aiortc's RTP parse and header-extension decoding, rewritten to cost less per packet.

Every SRTP-decrypted packet the server receives goes through `RtpPacket.parse`, and its header
extensions through `HeaderExtensionsMap.get` (via `unpack_header_extensions`): py-spy put the
two at ~14 % of the event loop's busy time at 10 sessions. Here:

- the fixed header is read by one precompiled `struct.Struct` (no slice), CSRCs by another;
- the one-byte extension block (profile 0xBEDE, what browsers send) is decoded in one pass over
  the packet itself, without a copy of the block, a list of (id, bytes) pairs or a slice per
  numeric value, through a table header byte -> field built once per `configure` (aiortc
  compares each id against seven configured ids in turn and checks lengths per value); a run
  of trailing padding is skipped at once;
- the packet and its `HeaderExtensions` are created without their `__init__`, every attribute
  set in `__init__`'s order (both `__init__`s cost more than the assignments).

Only well-formed input takes these paths. Anything aiortc would reject (short header, bad
version, truncated CSRC or extension, bad padding, an extension value of the wrong length or
encoding), a subclass, a map subclass or data other than `bytes` goes to aiortc's own code, so
errors are aiortc's exactly: same type, same message, same precedence. Two-byte (0x1000) and
unknown profiles are unpacked by aiortc's `unpack_header_extensions`, then decoded by the
table. tests/media/test_fast_rtp.py runs both side by side. `install()` replaces the methods on
aiortc's classes (`configure` too, to build the table); media/compat.py checks the pin first.

Where media/_rtp.c is built, `parse` first gives the packet to its C `parse`, which does what
`parse_python` does for well-formed packets with no extension block or a one-byte one, through
the same table (as 256 bytes); for anything else it answers None and `parse_python` runs.
tests/media/test_rtp_core.py compares the two.
"""

from __future__ import annotations

import inspect
import struct
from collections.abc import Callable

from aiortc import rtp
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket, unpack_header_extensions

try:
    from media import _rtp
except ImportError:  # built optionally (pyproject.toml), as the forwarding core
    _rtp = None  # type: ignore[assignment]
else:
    _rtp.setup(RtpPacket, HeaderExtensions)

# aiortc's own functions, for side-by-side tests, measurements, and the malformed-input path.
ORIGINAL_PARSE: Callable[..., RtpPacket] = RtpPacket.parse.__func__  # type: ignore[attr-defined]
ORIGINAL_GET = HeaderExtensionsMap.get
ORIGINAL_CONFIGURE = HeaderExtensionsMap.configure
# aiortc's default argument of `parse`, an unconfigured map: kept, so that calls without a map
# decode with the same (empty) configuration.
DEFAULT_MAP: HeaderExtensionsMap = (
    inspect.signature(RtpPacket.parse).parameters["extensions_map"].default
)

IDS = "_HeaderExtensionsMap__ids"  # the map's configured ids (a HeaderExtensions of ints)
TABLES = "_fast_rtp_tables"  # our tables, stored on the map by configure()
BYTE_TABLE = "_fast_rtp_byte_table"  # the table by byte as 256 bytes, for media._rtp

HEADER = struct.Struct("!BBHLL")
EXTENSION_HEADER = struct.Struct("!HH")
WORD, HALF_WORD = struct.Struct("!L"), struct.Struct("!H")
CSRCS = [struct.Struct(f"!{count}L") for count in range(16)]
ONE_BYTE_PROFILE = 0xBEDE

# Fields, in the order aiortc's `get` compares ids: when two fields share an id, the first wins.
MID, REPAIRED_RID, RID, ABS_SEND_TIME, TOFFSET, AUDIO_LEVEL, TRANSPORT_CC = range(7)
FIELDS = (
    "mid",
    "repaired_rtp_stream_id",
    "rtp_stream_id",
    "abs_send_time",
    "transmission_offset",
    "audio_level",
    "transport_sequence_number",
)
# The value length aiortc's struct.unpack accepts (any other raises); strings take any length.
SIZES = {ABS_SEND_TIME: 3, TOFFSET: 3, AUDIO_LEVEL: 1, TRANSPORT_CC: 2}
# What a one-byte header byte (id << 4 | length - 1) means: padding, an id not configured, a
# field whose value has a length aiortc decodes, or one aiortc would raise on.
PADDING, IGNORED, INVALID = 7, 8, 9


class Malformed(Exception):
    """Input aiortc's code raises on: handled by running aiortc's code."""


Tables = tuple[dict[int, int], list[int]]


def build_tables(extensions_map: HeaderExtensionsMap) -> Tables:
    """Extension id -> field, as aiortc's chain of `x_id == ids.<field>` resolves it, and the
    same by one-byte header byte, with the length checked once here instead of per packet."""
    ids = getattr(extensions_map, IDS)
    by_id: dict[int, int] = {}
    for field, name in enumerate(FIELDS):
        x_id = getattr(ids, name)
        if x_id is not None and x_id not in by_id:
            by_id[x_id] = field
    by_byte = [PADDING]
    for byte in range(1, 256):
        field = by_id.get(byte >> 4, IGNORED)
        valid = field not in SIZES or SIZES[field] == (byte & 0x0F) + 1
        by_byte.append(field if valid else INVALID)
    tables = (by_id, by_byte)
    setattr(extensions_map, TABLES, tables)
    setattr(extensions_map, BYTE_TABLE, bytes(by_byte))
    return tables


def _tables(extensions_map: HeaderExtensionsMap) -> Tables:
    tables: Tables | None = extensions_map.__dict__.get(TABLES)
    # A map configured before install() has none yet.
    return tables if tables is not None else build_tables(extensions_map)


def _decode(field: int, value: bytes) -> object:
    """One extension's value, as aiortc decodes it; Malformed where aiortc raises."""
    try:
        if field == MID:
            return value.decode("utf8")
        if field in (REPAIRED_RID, RID):
            return value.decode("ascii")
    except UnicodeDecodeError as error:
        raise Malformed from error
    if len(value) != SIZES[field]:
        raise Malformed
    if field == AUDIO_LEVEL:
        return (value[0] & 0x80 == 0x80, value[0] & 0x7F)
    return int.from_bytes(value, "big", signed=field == TOFFSET)


def _new_extensions(values: list[object]) -> HeaderExtensions:
    extensions: HeaderExtensions = object.__new__(HeaderExtensions)
    # Every field set, in the order the dataclass's __init__ sets them.
    extensions.abs_send_time = values[ABS_SEND_TIME]  # type: ignore[assignment]
    extensions.audio_level = values[AUDIO_LEVEL]
    extensions.mid = values[MID]
    extensions.repaired_rtp_stream_id = values[REPAIRED_RID]
    extensions.rtp_stream_id = values[RID]
    extensions.transmission_offset = values[TOFFSET]  # type: ignore[assignment]
    extensions.transport_sequence_number = values[TRANSPORT_CC]  # type: ignore[assignment]
    return extensions


def _one_byte(data: bytes, pos: int, end: int, by_byte: list[int]) -> HeaderExtensions:
    """The 0xBEDE block in data[pos:end], decoded in place (RFC 8285 §4.2 as aiortc reads it:
    a zero byte is padding, wherever it is; id 15 is an ordinary id)."""
    abs_send_time = audio_level = mid = transport_cc = None
    others: list[object] | None = None  # rids and toffset: rare, decoded generically
    while pos < end:
        byte = data[pos]
        field = by_byte[byte]
        if field == PADDING:
            if data.count(0, pos, end) == end - pos:
                break  # the trailing padding, at once rather than byte by byte
            pos += 1
            continue
        start = pos + 1
        pos = start + (byte & 0x0F) + 1
        if pos > end:
            raise Malformed  # truncated value
        # The most frequent first: abs-send-time on every video packet, audio level on audio.
        if field == ABS_SEND_TIME:
            # Read with its header byte as one big-endian word: one C call.
            abs_send_time = WORD.unpack_from(data, start - 1)[0] & 0xFFFFFF
        elif field == MID:
            try:
                mid = data[start:pos].decode("utf8")
            except UnicodeDecodeError as error:
                raise Malformed from error
        elif field == AUDIO_LEVEL:
            level = data[start]
            audio_level = (level & 0x80 == 0x80, level & 0x7F)
        elif field == TRANSPORT_CC:
            transport_cc = HALF_WORD.unpack_from(data, start)[0]
        elif field == INVALID:
            raise Malformed  # a value length aiortc's struct.unpack refuses
        elif field != IGNORED:
            if others is None:
                others = [None] * 7
            others[field] = _decode(field, data[start:pos])
    extensions: HeaderExtensions = object.__new__(HeaderExtensions)
    # Every field set, in the order the dataclass's __init__ sets them.
    extensions.abs_send_time = abs_send_time
    extensions.audio_level = audio_level
    extensions.mid = mid
    if others is None:
        extensions.repaired_rtp_stream_id = None
        extensions.rtp_stream_id = None
        extensions.transmission_offset = None
    else:
        extensions.repaired_rtp_stream_id = others[REPAIRED_RID]
        extensions.rtp_stream_id = others[RID]
        extensions.transmission_offset = others[TOFFSET]  # type: ignore[assignment]
    extensions.transport_sequence_number = transport_cc
    return extensions


def _other_profile(profile: int, value: bytes, by_id: dict[int, int]) -> HeaderExtensions:
    """Two-byte (0x1000) and unknown profiles: aiortc's own unpacking (it raises ValueError on
    truncation, returns nothing for unknown profiles), then the table."""
    values: list[object] = [None] * 7
    for x_id, x_value in unpack_header_extensions(profile, value):
        field = by_id.get(x_id)
        if field is not None:
            values[field] = _decode(field, x_value)
    return _new_extensions(values)


def get(
    self: HeaderExtensionsMap, extension_profile: int, extension_value: bytes
) -> HeaderExtensions:
    if type(extension_value) is not bytes:
        return ORIGINAL_GET(self, extension_profile, extension_value)
    by_id, by_byte = _tables(self)
    try:
        if extension_profile == ONE_BYTE_PROFILE:
            return _one_byte(extension_value, 0, len(extension_value), by_byte)
        return _other_profile(extension_profile, extension_value, by_id)
    except (Malformed, ValueError):
        return ORIGINAL_GET(self, extension_profile, extension_value)  # raises as aiortc does


def configure(self: HeaderExtensionsMap, parameters: rtp.RTCRtpParameters) -> None:
    ORIGINAL_CONFIGURE(self, parameters)
    build_tables(self)


def parse(
    cls: type[RtpPacket], data: bytes, extensions_map: HeaderExtensionsMap = DEFAULT_MAP
) -> RtpPacket:
    if (
        _rtp is not None
        and type(data) is bytes
        and cls is RtpPacket
        and type(extensions_map) is HeaderExtensionsMap
    ):
        table = extensions_map.__dict__.get(BYTE_TABLE)
        if table is None:  # a map configured before install(), as in _tables()
            build_tables(extensions_map)
            table = extensions_map.__dict__[BYTE_TABLE]
        packet = _rtp.parse(data, table)
        if packet is not None:
            return packet
    return parse_python(cls, data, extensions_map)


def parse_python(
    cls: type[RtpPacket], data: bytes, extensions_map: HeaderExtensionsMap = DEFAULT_MAP
) -> RtpPacket:
    """`parse` without media._rtp: the reference of its C code, and where it answers None."""
    size = len(data)
    if (
        size < 12
        or type(data) is not bytes  # what SRTP gives; a memoryview lacks decode() and count()
        or cls is not RtpPacket
        or type(extensions_map) is not HeaderExtensionsMap
    ):
        return ORIGINAL_PARSE(cls, data, extensions_map)
    first, m_pt, sequence_number, timestamp, ssrc = HEADER.unpack_from(data)
    cc = first & 0x0F
    pos = 12 + 4 * cc
    if first >> 6 != 2 or size < pos:
        return ORIGINAL_PARSE(cls, data, extensions_map)

    packet: RtpPacket = object.__new__(RtpPacket)
    # RtpPacket.__init__'s attributes, in its order (the instance dict's key order).
    packet.version = 2
    packet.marker = m_pt >> 7
    packet.payload_type = m_pt & 0x7F
    packet.sequence_number = sequence_number
    packet.timestamp = timestamp
    packet.ssrc = ssrc
    packet.csrc = list(CSRCS[cc].unpack_from(data, 12)) if cc else []

    if first & 0x10:
        if size < pos + 4:
            return ORIGINAL_PARSE(cls, data, extensions_map)
        profile, words = EXTENSION_HEADER.unpack_from(data, pos)
        pos += 4
        end = pos + 4 * words
        if size < end:
            return ORIGINAL_PARSE(cls, data, extensions_map)
        tables = extensions_map.__dict__.get(TABLES) or build_tables(extensions_map)
        try:
            if profile == ONE_BYTE_PROFILE:
                packet.extensions = _one_byte(data, pos, end, tables[1])
            else:
                packet.extensions = _other_profile(profile, data[pos:end], tables[0])
        except (Malformed, ValueError):
            return ORIGINAL_PARSE(cls, data, extensions_map)  # raises as aiortc does
        pos = end
    else:
        packet.extensions = HeaderExtensions()

    if first & 0x20:
        padding = data[-1]
        if not padding or padding > size - pos:
            return ORIGINAL_PARSE(cls, data, extensions_map)
        packet.payload = data[pos:-padding]
        packet.padding_size = padding
    else:
        packet.payload = data[pos:]
        packet.padding_size = 0
    return packet


def install() -> None:
    rtp.RtpPacket.parse = classmethod(parse)  # type: ignore[method-assign,assignment]
    rtp.HeaderExtensionsMap.get = get  # type: ignore[method-assign]
    rtp.HeaderExtensionsMap.configure = configure  # type: ignore[method-assign]
