"""media/_rtp.c: the C RTP parse against media/fast_rtp.py's Python path, on the same bytes.

For every input the C `parse` either answers None (fast_rtp then runs its Python code) or a
packet equal to what `fast_rtp.parse_python` makes: same types, same instance dicts, key order
included, for the packet and its HeaderExtensions. Browser-like packets must take the C path;
what the Python path hands to aiortc's code (malformed input, two-byte and unknown profiles)
must not.
"""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket

from media import fast_rtp
from tests.media.test_fast_rtp import MALFORMED, URIS, _parameters

_rtp = pytest.importorskip("media._rtp", reason="media/_rtp.c is not built here")

# Chrome's ids (its SDP offers), rids and toffset included.
CHROME_IDS = {
    "audio_level": 1,
    "abs_send_time": 2,
    "transport_sequence_number": 3,
    "mid": 4,
    "rtp_stream_id": 10,
    "repaired_rtp_stream_id": 11,
    "transmission_offset": 14,
}
VP8, OPUS = 96, 111


def _map(ids: dict[str, int]) -> HeaderExtensionsMap:
    extensions_map = HeaderExtensionsMap()
    fast_rtp.configure(extensions_map, _parameters(ids))
    return extensions_map


def _table(extensions_map: HeaderExtensionsMap) -> bytes:
    table: bytes = vars(extensions_map)[fast_rtp.BYTE_TABLE]
    return table


def _typed(value: Any) -> Any:
    """A value with the type of every part spelled out (True and 1 differ), dicts in order."""
    if isinstance(value, RtpPacket | HeaderExtensions):
        return (type(value), [(k, _typed(v)) for k, v in vars(value).items()])
    if isinstance(value, tuple | list):
        return (type(value), [_typed(v) for v in value])
    return (type(value), value)


def _python(data: bytes, extensions_map: HeaderExtensionsMap) -> Any:
    try:
        return _typed(fast_rtp.parse_python(RtpPacket, data, extensions_map))
    except Exception as error:
        return ("raised", type(error), str(error))


def _check(data: bytes, extensions_map: HeaderExtensionsMap) -> RtpPacket | None:
    """C's answer to data, which must be None or what the Python path makes."""
    packet = _rtp.parse(data, _table(extensions_map))
    if packet is not None:
        assert _typed(packet) == _python(data, extensions_map), data.hex()
        # As the wired parse gives it too.
        assert _typed(fast_rtp.parse(RtpPacket, data, extensions_map)) == _typed(packet)
    return packet


def _element(x_id: int, value: bytes) -> bytes:
    return bytes([x_id << 4 | (len(value) - 1)]) + value


def _build(
    elements: list[bytes] | None = None,
    *,
    payload_type: int = VP8,
    marker: int = 0,
    csrc: tuple[int, ...] = (),
    payload: bytes = b"\x90\x80\x00" + bytes(range(200)),
    padding: int = 0,
    profile: int = fast_rtp.ONE_BYTE_PROFILE,
) -> bytes:
    """An RTP packet; elements: the extension block's content, padded to 32 bits here."""
    extension = elements is not None
    first = 0x80 | (padding > 0) << 5 | extension << 4 | len(csrc)
    data = struct.pack("!BBHLL", first, marker << 7 | payload_type, 4321, 0xFEDCBA98, 0x12345678)
    data += struct.pack(f"!{len(csrc)}L", *csrc)
    if elements is not None:
        block = b"".join(elements)
        block += b"\x00" * (-len(block) % 4)
        data += struct.pack("!HH", profile, len(block) // 4) + block
    data += payload
    if padding:
        data += b"\x00" * (padding - 1) + bytes([padding])
    return data


def _vp8(mid: bytes = b"0", ids: dict[str, int] = CHROME_IDS) -> bytes:
    return _build(
        [
            _element(ids["abs_send_time"], b"\x12\x34\x56"),
            _element(ids["transport_sequence_number"], b"\x01\x02"),
            _element(ids["mid"], mid),
        ],
        marker=1,
    )


def _opus(level: int = 0x80 | 42, ids: dict[str, int] = CHROME_IDS) -> bytes:
    return _build(
        [
            _element(ids["audio_level"], bytes([level])),
            _element(ids["transport_sequence_number"], b"\xff\xfe"),
            _element(ids["mid"], b"1"),
        ],
        payload_type=OPUS,
        payload=bytes(range(80)),
    )


def test_codes_are_fast_rtps() -> None:
    names = ["MID", "REPAIRED_RID", "RID", "ABS_SEND_TIME", "TOFFSET", "AUDIO_LEVEL"]
    for name in [*names, "TRANSPORT_CC", "PADDING", "IGNORED", "INVALID"]:
        assert getattr(_rtp, name) == getattr(fast_rtp, name), name
    extensions_map = _map(CHROME_IDS)
    assert list(_table(extensions_map)) == vars(extensions_map)[fast_rtp.TABLES][1]


def test_browser_like_packets_take_the_c_path() -> None:
    extensions_map = _map(CHROME_IDS)
    cases = {
        "vp8": _vp8(),
        "vp8, long mid": _vp8(mid=b"video-main"),
        "vp8, utf-8 mid": _vp8(mid="ü€".encode()),
        "opus": _opus(),
        "opus, no voice": _opus(level=127),
        "vp8, mid and abs-send-time only": _build(
            [_element(4, b"0"), _element(2, b"\xff\xff\xff")]
        ),
        "opus, mid and audio level only": _build(
            [_element(4, b"1"), _element(1, b"\x05")], payload_type=OPUS
        ),
        "no extension block": _build(None),
        "empty extension block": _build([]),
        "csrcs": _build([_element(2, b"\x00\x00\x01")], csrc=(1, 0xFFFFFFFF, 7)),
        "15 csrcs": _build([_element(4, b"0")], csrc=tuple(range(15))),
        "padding": _build([_element(2, b"\x01\x02\x03")], padding=7),
        "padding only": _build(None, payload=b"", padding=255),
        "padding of 1": _build([_element(4, b"0")], padding=1),
        "empty payload": _build([_element(4, b"0")], payload=b""),
        "padding between elements": _build(
            [b"\x00", _element(4, b"0"), b"\x00\x00", _element(2, b"\x00\x00\x07"), b"\x00"]
        ),
        "padding words after the elements": _build([_element(4, b"0"), b"\x00" * 8]),
        "rids and toffset": _build(
            [
                _element(10, b"hi"),
                _element(11, b"lo"),
                _element(14, b"\xff\xff\xfe"),
                _element(4, b"0"),
            ]
        ),
        "positive toffset": _build([_element(14, b"\x00\x10\x00")]),
        "unconfigured ids": _build([_element(5, b"abc"), _element(15, b"x" * 16)]),
        "repeated id, the last wins": _build([_element(4, b"0"), _element(4, b"1")]),
        "a 16-byte mid": _build([_element(4, b"m" * 16)]),
    }
    for name, data in cases.items():
        packet = _check(data, extensions_map)
        assert packet is not None, name
    vp8 = _check(_vp8(), extensions_map)
    assert vp8 is not None
    assert (vp8.extensions.abs_send_time, vp8.extensions.mid, vp8.marker) == (0x123456, "0", 1)
    opus = _check(_opus(), extensions_map)
    assert opus is not None
    assert opus.extensions.audio_level == (True, 42)
    assert type(opus.extensions.audio_level[0]) is bool
    toffset = _check(cases["rids and toffset"], extensions_map)
    assert toffset is not None
    assert toffset.extensions.transmission_offset == -2
    assert (toffset.extensions.rtp_stream_id, toffset.extensions.repaired_rtp_stream_id) == (
        "hi",
        "lo",
    )


def test_packets_aiortc_serializes() -> None:
    rng = random.Random(11)
    extensions_map = _map({k: v for k, v in CHROME_IDS.items() if k != "transmission_offset"})
    taken = 0
    for _ in range(500):
        packet = RtpPacket(
            payload_type=rng.randrange(128),
            marker=rng.randrange(2),
            sequence_number=rng.randrange(1 << 16),
            timestamp=rng.randrange(1 << 32),
            ssrc=rng.randrange(1 << 32),
            payload=rng.randbytes(rng.choice([0, 1, 100, 1100])),
        )
        packet.csrc = [rng.randrange(1 << 32) for _ in range(rng.choice([0, 0, 1, 15]))]
        packet.padding_size = rng.choice([0, 0, 1, 255])
        packet.extensions.mid = rng.choice([None, "0", "audio", "ü"])
        packet.extensions.abs_send_time = rng.choice([None, rng.randrange(1 << 24)])
        packet.extensions.audio_level = rng.choice([None, (rng.random() < 0.5, 3)])
        packet.extensions.transport_sequence_number = rng.choice([None, rng.randrange(1 << 16)])
        packet.extensions.rtp_stream_id = rng.choice([None, "f"])
        taken += _check(packet.serialize(extensions_map), extensions_map) is not None
    assert taken == 500


def test_what_the_python_path_gives_to_aiortc_is_not_taken() -> None:
    extensions_map = _map({"mid": 1, "abs_send_time": 4, "audio_level": 6, "rtp_stream_id": 7})
    header = "90600001" + "00" * 8
    cases = {
        **MALFORMED,  # what aiortc raises on (tests/media/test_fast_rtp.py)
        "abs-send-time of 4 bytes": bytes.fromhex(header + "bede0002" + "43aabbccdd000000"),
        "mid, a lone surrogate": _build([_element(1, b"\xed\xa0\x80")]),
        "mid, a truncated sequence": _build([_element(1, b"a\xc3")]),
        "rid not ascii": _build([_element(7, b"\x80")]),
        "good mid, then truncated": bytes.fromhex(header + "bede0001" + "10303f00"),
        "good values, then bad padding": _build(
            [_element(1, b"0"), _element(4, b"\x00\x00\x01")], padding=2
        )[:-1]
        + b"\xff",
        "bad abs-send-time, a stray byte": bytes.fromhex(header + "bede0001" + "41aabb00" + "ff"),
        "two-byte profile": _build([b"\x01\x01\x30"], profile=0x1000),
        "two-byte profile, empty": _build([], profile=0x1000),
        "unknown profile": _build([_element(1, b"0")], profile=0x1234),
        "profile 0": _build([], profile=0),
    }
    for name, data in cases.items():
        assert _rtp.parse(data, _table(extensions_map)) is None, name
        # And the wired parse still answers as the Python path does (raises, or parses).
        try:
            result = _typed(fast_rtp.parse(RtpPacket, data, extensions_map))
        except Exception as error:
            result = ("raised", type(error), str(error))
        assert result == _python(data, extensions_map), name


def test_every_truncation_and_byte_of_browser_packets() -> None:
    extensions_map = _map(CHROME_IDS)
    for data in (_vp8(), _opus(), _build([_element(4, b"0")], csrc=(1, 2), padding=3)):
        for end in range(len(data) + 1):
            _check(data[:end], extensions_map)
        for at in range(min(len(data), 48)):
            for value in range(256):
                _check(data[:at] + bytes([value]) + data[at + 1 :], extensions_map)


def _mutated(rng: random.Random, data: bytes) -> bytes:
    """A packet with a few random changes, mostly in the header and extension block."""
    changed = bytearray(data)
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        kind = rng.randrange(6)
        if kind == 0 and changed:  # any byte of the first 48
            changed[rng.randrange(min(len(changed), 48))] = rng.randrange(256)
        elif kind == 1 and changed:  # one bit of the first byte: padding, extension, CC
            changed[0] ^= 1 << rng.randrange(8)
        elif kind == 2:  # truncated
            changed = changed[: rng.randrange(len(changed) + 1)]
        elif kind == 3:  # bytes inserted
            at = rng.randrange(len(changed) + 1)
            changed[at:at] = bytes(rng.choice([0, rng.randrange(256)]) for _ in range(4))
        elif kind == 4 and changed:  # the last byte (the padding length)
            changed[-1] = rng.choice([0, 1, 2, 40, 255, rng.randrange(256)])
        elif kind == 5 and len(changed) > 16:  # the extension length word
            changed[14:16] = struct.pack("!H", rng.choice([0, 1, 2, 3, 100]))
    return bytes(changed)


def _random_valid(rng: random.Random, ids: dict[str, int]) -> bytes:
    values = {
        "mid": rng.choice([b"0", b"1", b"audio", "ü".encode(), b"\xff", b"m" * 16]),
        "rtp_stream_id": rng.choice([b"h", b"low", b"\x80"]),
        "repaired_rtp_stream_id": rng.choice([b"r", b"hi"]),
        "abs_send_time": rng.randbytes(rng.choice([3, 3, 3, 2])),
        "transmission_offset": rng.randbytes(rng.choice([3, 3, 1])),
        "audio_level": rng.randbytes(rng.choice([1, 1, 1, 2])),
        "transport_sequence_number": rng.randbytes(rng.choice([2, 2, 2, 3])),
    }
    elements = []
    for field in rng.sample(list(values), rng.randrange(len(values) + 1)):
        elements.append(b"\x00" * rng.choice([0, 0, 0, 1, 3]))
        x_id = ids.get(field, 0) or rng.randrange(1, 16)
        if rng.random() < 0.1:
            x_id = rng.randrange(0, 16)  # unconfigured, or another field's id
        elements.append(_element(x_id, values[field]))
    return _build(
        elements if rng.random() < 0.9 else None,
        payload_type=rng.choice([VP8, OPUS]),
        marker=rng.randrange(2),
        csrc=tuple(rng.randrange(1 << 32) for _ in range(rng.choice([0, 0, 0, 1, 15]))),
        payload=rng.randbytes(rng.choice([0, 1, 60, 1100])),
        padding=rng.choice([0, 0, 0, 1, 4, 255]),
        profile=rng.choice([fast_rtp.ONE_BYTE_PROFILE] * 8 + [0x1000, 0x1001]),
    )


@pytest.mark.parametrize(
    "ids",
    [CHROME_IDS, {"mid": 3, "abs_send_time": 3, "audio_level": 5}, {}],
    ids=["chrome", "shared id", "unconfigured"],
)
def test_random_packets(ids: dict[str, int]) -> None:
    rng = random.Random(12)
    extensions_map = _map(ids)
    taken = declined = 0
    for _ in range(15000):
        data = _random_valid(rng, ids)
        if rng.random() < 0.6:
            data = _mutated(rng, data)
        if _check(data, extensions_map) is None:
            declined += 1
        else:
            taken += 1
    assert taken > 3000
    assert declined > 3000


def test_unconfigured_and_default_maps() -> None:
    default_map = HeaderExtensionsMap()
    fast_rtp.build_tables(default_map)
    packet = _check(_vp8(), default_map)
    assert packet is not None
    assert vars(packet.extensions) == vars(HeaderExtensions())
    assert fast_rtp.parse(RtpPacket, _vp8()).extensions == HeaderExtensions()


def test_configure_rebuilds_the_table() -> None:
    extensions_map = _map({"mid": 4})
    first = _table(extensions_map)
    packet = _check(_vp8(), extensions_map)
    assert packet is not None
    assert (packet.extensions.mid, packet.extensions.abs_send_time) == ("0", None)
    extensions_map.configure(  # the installed configure
        RTCRtpParameters(
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=2, uri=URIS["abs_send_time"])]
        )
    )
    assert _table(extensions_map) != first
    packet = fast_rtp.parse(RtpPacket, _vp8(), extensions_map)
    assert (packet.extensions.mid, packet.extensions.abs_send_time) == ("0", 0x123456)
    assert _typed(packet) == _python(_vp8(), extensions_map)


def test_map_without_tables_gets_them_on_first_parse() -> None:
    extensions_map = HeaderExtensionsMap()
    fast_rtp.ORIGINAL_CONFIGURE(extensions_map, RTCRtpParameters(headerExtensions=[]))
    assert fast_rtp.BYTE_TABLE not in vars(extensions_map)
    fast_rtp.parse(RtpPacket, _build(None), extensions_map)
    assert fast_rtp.BYTE_TABLE in vars(extensions_map)


def test_other_arguments() -> None:
    table = _table(_map(CHROME_IDS))
    for data in (bytearray(_vp8()), memoryview(_vp8())):
        assert _rtp.parse(data, table) is None  # the Python path takes them
    with pytest.raises(TypeError):
        _rtp.parse(_vp8(), table[:255])
    with pytest.raises(TypeError):
        _rtp.parse(_vp8(), list(table))
    with pytest.raises(TypeError):
        _rtp.parse(_vp8())
    # Any table, even one build_tables never makes, reads inside the block only.
    rng = random.Random(13)
    extensions_map = _map(CHROME_IDS)
    for _ in range(2000):
        table = rng.randbytes(256)
        data = _mutated(rng, _random_valid(rng, CHROME_IDS))
        _rtp.parse(data, table)
    assert _check(_vp8(), extensions_map) is not None
