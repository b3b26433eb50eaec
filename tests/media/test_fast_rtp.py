"""media/fast_rtp.py against aiortc's own RTP parse, run side by side on the same bytes.

The reference runs aiortc's code only: aiortc's `RtpPacket.parse` with a map whose `get` and
`configure` are aiortc's. Results are compared attribute by attribute, with types (an audio
level of `(True, 5)` equals `(1, 5)`) and the instance dicts' key order; errors by type and
message.
"""

from __future__ import annotations

import itertools
import os
import random
import struct
from typing import Any

import pytest
from aiortc import RTCCertificate, RTCDtlsTransport, RTCIceGatherer, RTCIceTransport
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensions, HeaderExtensionsMap, RtpPacket

from media import fast_rtp

URIS = {
    "mid": "urn:ietf:params:rtp-hdrext:sdes:mid",
    "repaired_rtp_stream_id": "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
    "rtp_stream_id": "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    "abs_send_time": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "transmission_offset": "urn:ietf:params:rtp-hdrext:toffset",
    "audio_level": "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "transport_sequence_number": (
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    ),
}
# Ids that fit the one-byte profile, and ids that force aiortc's serializer to two bytes.
ONE_BYTE_IDS = dict(zip(URIS, [1, 2, 3, 4, 5, 6, 14], strict=True))
TWO_BYTE_IDS = dict(zip(URIS, [1, 15, 33, 4, 200, 6, 255], strict=True))


class ReferenceMap(HeaderExtensionsMap):
    """aiortc's map as shipped, whatever install() did to the class."""

    get = fast_rtp.ORIGINAL_GET
    configure = fast_rtp.ORIGINAL_CONFIGURE


def _parameters(ids: dict[str, int]) -> RTCRtpParameters:
    return RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=i, uri=URIS[f]) for f, i in ids.items()
        ]
    )


def _maps(ids: dict[str, int]) -> tuple[HeaderExtensionsMap, HeaderExtensionsMap]:
    parameters = _parameters(ids)
    reference, ours = ReferenceMap(), HeaderExtensionsMap()
    reference.configure(parameters)
    fast_rtp.configure(ours, parameters)
    return reference, ours


def _typed(value: Any) -> Any:
    """A value with the type of every part spelled out, so that True and 1 differ."""
    if isinstance(value, HeaderExtensions):
        return ("HeaderExtensions", [(k, _typed(v)) for k, v in vars(value).items()])
    if isinstance(value, tuple | list):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, value)


def _outcome(run: Any) -> Any:
    try:
        packet = run()
    except Exception as error:
        return ("raised", type(error), str(error))
    assert type(packet) is RtpPacket
    return ("parsed", [(k, _typed(v)) for k, v in vars(packet).items()])


def _assert_same(data: bytes, reference: HeaderExtensionsMap, ours: HeaderExtensionsMap) -> Any:
    expected = _outcome(lambda: fast_rtp.ORIGINAL_PARSE(RtpPacket, data, reference))
    assert _outcome(lambda: fast_rtp.parse(RtpPacket, data, ours)) == expected, data.hex()
    return expected


def _values(rng: random.Random) -> dict[str, Any]:
    return {
        "mid": rng.choice(["0", "1", "audio", "ü", "m" * rng.randrange(1, 40)]),
        "repaired_rtp_stream_id": rng.choice(["r", "hi", "x" * 16]),
        "rtp_stream_id": rng.choice(["f", "low", "q" * 20]),
        "abs_send_time": rng.randrange(1 << 24),
        "transmission_offset": rng.randrange(-(1 << 23), 1 << 23),
        "audio_level": (rng.random() < 0.5, rng.randrange(128)),
        "transport_sequence_number": rng.randrange(1 << 16),
    }


def _aiortc_packet(
    rng: random.Random, fields: tuple[str, ...], ids_map: HeaderExtensionsMap
) -> bytes:
    packet = RtpPacket(
        payload_type=rng.randrange(128),
        marker=rng.randrange(2),
        sequence_number=rng.randrange(1 << 16),
        timestamp=rng.randrange(1 << 32),
        ssrc=rng.randrange(1 << 32),
        payload=os.urandom(rng.choice([0, 1, 3, 90, 1100])),
    )
    packet.csrc = [rng.randrange(1 << 32) for _ in range(rng.choice([0, 0, 1, 15]))]
    packet.padding_size = rng.choice([0, 0, 1, 4, 255])
    values = _values(rng)
    for field in fields:
        setattr(packet.extensions, field, values[field])
    return packet.serialize(ids_map)


@pytest.mark.parametrize("ids", [ONE_BYTE_IDS, TWO_BYTE_IDS], ids=["one-byte", "two-byte"])
def test_packets_aiortc_serialized_with_every_extension_combination(ids: dict[str, int]) -> None:
    rng = random.Random(1)
    reference, ours = _maps(ids)
    profiles = set()
    for count in range(len(URIS) + 1):
        for fields in itertools.combinations(URIS, count):
            for _ in range(4):
                data = _aiortc_packet(rng, fields, reference)
                outcome = _assert_same(data, reference, ours)
                if "transmission_offset" in fields:
                    # aiortc writes toffset in 2 bytes and reads it from 3: its own packet
                    # raises struct.error, and so must ours.
                    assert outcome[1] is struct.error
                    continue
                assert outcome[0] == "parsed"
                extensions = dict(outcome[1])["extensions"]
                set_fields = {k for k, v in extensions[1] if v[1] is not None}
                assert set_fields == set(fields)  # and aiortc read back what it wrote
                if data[0] & 0x10:
                    profiles.add(struct.unpack_from("!H", data, 12 + 4 * (data[0] & 0x0F))[0])
    assert profiles == {0xBEDE, 0x1000}


def test_unconfigured_map_and_default_argument() -> None:
    rng = random.Random(2)
    _, configured = _maps(ONE_BYTE_IDS)
    for _ in range(50):
        data = _aiortc_packet(rng, tuple(URIS), configured)
        expected = _outcome(lambda d=data: fast_rtp.ORIGINAL_PARSE(RtpPacket, d, ReferenceMap()))
        assert _outcome(lambda d=data: fast_rtp.parse(RtpPacket, d)) == expected
        assert _outcome(lambda d=data: fast_rtp.parse(RtpPacket, d, HeaderExtensionsMap())) == (
            expected
        )
        assert dict(expected[1])["extensions"] == _typed(HeaderExtensions())


def _random_block(rng: random.Random, profile: int, ids: list[int]) -> bytes:
    """An extension block with random ids (configured or not), lengths (also those aiortc's
    decoders refuse), values and padding anywhere; a multiple of 4 bytes."""
    block = b""
    for _ in range(rng.randrange(0, 6)):
        block += b"\x00" * rng.choice([0, 0, 0, 1, 2])
        length = rng.choice([1, 1, 2, 2, 3, 3, 4, rng.randrange(1, 17)])
        value = bytes(rng.randrange(256) for _ in range(length))
        if rng.random() < 0.7:  # mostly decodable strings
            value = bytes(rng.randrange(0x30, 0x7A) for _ in range(length))
        if profile == 0xBEDE:
            x_id = rng.choice([*ids, rng.randrange(1, 16)])
            block += bytes([(x_id & 0x0F) << 4 | (length - 1)]) + value
        else:
            x_id = rng.choice([*ids, rng.randrange(1, 256)])
            length = rng.choice([length, length, 0])
            block += bytes([x_id, length]) + value[:length]
    return block + b"\x00" * (-len(block) % 4)


def _random_packet(rng: random.Random, ids: list[int]) -> bytes:
    cc = rng.choice([0, 0, 0, 1, 2, 15])
    padding = rng.choice([0, 0, 1, 2, 7, 255])
    extension = rng.random() < 0.8
    first = 0x80 | (padding > 0) << 5 | extension << 4 | cc
    data = struct.pack(
        "!BBHLL", first, rng.randrange(256), rng.randrange(1 << 16), rng.randrange(1 << 32), 7
    )
    data += os.urandom(4 * cc)
    if extension:
        profile = rng.choice([0xBEDE, 0xBEDE, 0xBEDE, 0x1000, 0x1000, 0x1000, 0x1001, 0x1234, 0])
        block = _random_block(rng, profile, ids)
        data += struct.pack("!HH", profile, len(block) // 4) + block
    data += os.urandom(rng.choice([0, 1, 50, 1200]))
    if padding:
        data += os.urandom(padding - 1) + bytes([padding])
    return data


@pytest.mark.parametrize("ids", [ONE_BYTE_IDS, TWO_BYTE_IDS], ids=["ids≤14", "large ids"])
def test_random_packets(ids: dict[str, int]) -> None:
    rng = random.Random(3)
    reference, ours = _maps(ids)
    outcomes: dict[Any, int] = {}
    for _ in range(8000):
        outcome = _assert_same(_random_packet(rng, list(ids.values())), reference, ours)
        key = outcome[1] if outcome[0] == "raised" else "parsed"
        outcomes[key] = outcomes.get(key, 0) + 1
        if outcome[0] == "parsed":
            for field, value in dict(outcome[1])["extensions"][1]:
                outcomes[field] = outcomes.get(field, 0) + (value[1] is not None)
    # The random input reached both the values and the errors of aiortc's decoders.
    assert outcomes["parsed"] > 1000
    assert outcomes.get(struct.error, 0) > 50
    assert outcomes.get(UnicodeDecodeError, 0) > 50
    assert all(outcomes[field] > 20 for field in URIS), str(outcomes)  # every decoder's values


def test_header_extensions_map_get_directly() -> None:
    rng = random.Random(4)
    reference, ours = _maps(ONE_BYTE_IDS)
    for _ in range(3000):
        profile = rng.choice([0xBEDE, 0x1000, 0x4321])
        block = _random_block(rng, profile, list(ONE_BYTE_IDS.values()))
        if rng.random() < 0.2:
            block = block[: rng.randrange(len(block) + 1)]  # truncated anywhere
        expected = _outcome_get(lambda b=block, p=profile: reference.get(p, b))
        assert _outcome_get(lambda b=block, p=profile: fast_rtp.get(ours, p, b)) == expected


def _outcome_get(run: Any) -> Any:
    try:
        return ("got", _typed(run()))
    except Exception as error:
        return ("raised", type(error), str(error))


def test_other_buffer_types_as_aiortc_takes_them() -> None:
    rng = random.Random(10)
    reference, ours = _maps(ONE_BYTE_IDS)
    for _ in range(300):
        data = _random_packet(rng, list(ONE_BYTE_IDS.values()))
        for kind in (bytearray, memoryview):
            buffer = kind(data)
            expected = _outcome(lambda d=buffer: fast_rtp.ORIGINAL_PARSE(RtpPacket, d, reference))
            assert _outcome(lambda d=buffer: fast_rtp.parse(RtpPacket, d, ours)) == expected
            block = kind(_random_block(rng, 0xBEDE, list(ONE_BYTE_IDS.values())))
            expected = _outcome_get(lambda b=block: reference.get(0xBEDE, b))
            assert _outcome_get(lambda b=block: fast_rtp.get(ours, 0xBEDE, b)) == expected


MALFORMED = {
    "empty": b"",
    "truncated header": bytes.fromhex("80600001000000000000"),
    "version 0": bytes.fromhex("00600001" + "00" * 8),
    "version 1": bytes.fromhex("40600001" + "00" * 8 + "aa"),
    "version 3": bytes.fromhex("c0600001" + "00" * 8),
    "truncated csrc": bytes.fromhex("82600001" + "00" * 8 + "00000001"),
    "truncated extension header": bytes.fromhex("90600001" + "00" * 8 + "bede"),
    "truncated extension value": bytes.fromhex("90600001" + "00" * 8 + "bede0002" + "10ff"),
    "one-byte element truncated": bytes.fromhex("90600001" + "00" * 8 + "bede0001" + "3f000000"),
    "two-byte element truncated": bytes.fromhex("90600001" + "00" * 8 + "10000001" + "0108aaaa"),
    "two-byte header truncated": bytes.fromhex("90600001" + "00" * 8 + "10000001" + "000000ff"),
    "padding length zero": bytes.fromhex("a0600001" + "00" * 8 + "aabb00"),
    "padding longer than packet": bytes.fromhex("a0600001" + "00" * 8 + "aabb04"),
    "padding into the header": bytes.fromhex(
        "b0600001" + "00" * 8 + "bede0001" + "10300000" + "02"
    ),
    "abs-send-time of 2 bytes": bytes.fromhex("90600001" + "00" * 8 + "bede0001" + "41aabb00"),
    "audio level of 2 bytes": bytes.fromhex("90600001" + "00" * 8 + "bede0001" + "61aabb00"),
    "mid not utf-8": bytes.fromhex("90600001" + "00" * 8 + "bede0001" + "10ff0000"),
    "bad mid, then truncated": bytes.fromhex("90600001" + "00" * 8 + "bede0001" + "10ff3f00"),
    "bad abs-send-time, bad padding": bytes.fromhex(
        "b0600001" + "00" * 8 + "bede0001" + "41aabb00" + "ff"
    ),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_packets_raise_what_aiortc_raises(name: str) -> None:
    reference, ours = _maps({"mid": 1, "abs_send_time": 4, "audio_level": 6})
    outcome = _assert_same(MALFORMED[name], reference, ours)
    assert outcome[0] == "raised"


def test_truncated_and_corrupted_packets() -> None:
    rng = random.Random(5)
    reference, ours = _maps(ONE_BYTE_IDS)
    raised = 0
    for _ in range(3000):
        data = bytearray(_random_packet(rng, list(ONE_BYTE_IDS.values())))
        if rng.random() < 0.5:
            data = data[: rng.randrange(len(data) + 1)]
        for _ in range(rng.randrange(3)):
            if data:
                data[rng.randrange(min(len(data), 40))] = rng.randrange(256)
        raised += _assert_same(bytes(data), reference, ours)[0] == "raised"
    assert raised > 500


def test_shared_ids_and_reconfiguration_resolve_as_aiortc_does() -> None:
    rng = random.Random(6)
    # Two fields on one id: aiortc's chain of comparisons gives it to the first (mid).
    reference, ours = _maps({"mid": 3, "abs_send_time": 3, "audio_level": 5})
    for _ in range(300):
        _assert_same(_random_packet(rng, [3, 5, 7]), reference, ours)
    # configure() again: aiortc keeps the ids the new parameters do not mention.
    parameters = RTCRtpParameters(
        headerExtensions=[RTCRtpHeaderExtensionParameters(id=7, uri=URIS["abs_send_time"])]
    )
    reference.configure(parameters)
    ours.configure(parameters)  # the installed configure: rebuilds our tables
    for _ in range(300):
        _assert_same(_random_packet(rng, [3, 5, 7]), reference, ours)
    data = bytes.fromhex("90600001" + "00" * 8 + "bede0001" + "72010203")
    assert dict(_assert_same(data, reference, ours)[1])["extensions"] == _typed(
        HeaderExtensions(abs_send_time=0x010203)
    )


def test_map_configured_before_install_gets_its_tables_on_first_use() -> None:
    reference, ours = _maps(ONE_BYTE_IDS)
    del ours.__dict__[fast_rtp.TABLES]  # as if configured by aiortc's own configure
    data = _aiortc_packet(random.Random(7), tuple(URIS), reference)
    _assert_same(data, reference, ours)
    assert fast_rtp.TABLES in vars(ours)


def test_subclasses_get_aiortcs_code() -> None:
    class Packet(RtpPacket):
        pass

    data = _aiortc_packet(random.Random(8), ("mid",), _maps(ONE_BYTE_IDS)[0])
    packet = fast_rtp.parse(Packet, data, ReferenceMap())
    assert type(packet) is Packet


async def test_installed_parse_is_what_the_receive_path_calls() -> None:
    """`import media` installed it. aiortc's DTLS transport parses every decrypted packet with
    `RtpPacket.parse` and its own map, looked up on the class per packet (as media/'s own
    receive path does), so the class attribute is what counts; here through the transport."""
    import media  # noqa: F401 - the import installs

    assert RtpPacket.parse.__func__ is fast_rtp.parse  # type: ignore[attr-defined]
    assert HeaderExtensionsMap.get is fast_rtp.get
    assert HeaderExtensionsMap.configure is fast_rtp.configure

    transport = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
    )
    extensions_map = transport._rtp_header_extensions_map
    fast_rtp.ORIGINAL_CONFIGURE(extensions_map, _parameters(ONE_BYTE_IDS))
    assert fast_rtp.TABLES not in vars(extensions_map)
    data = _aiortc_packet(random.Random(9), ("mid", "abs_send_time"), _maps(ONE_BYTE_IDS)[0])
    parsed: list[RtpPacket] = []
    transport._rtp_router.route_rtp = lambda packet: parsed.append(packet)  # type: ignore[method-assign]
    await transport._handle_rtp_data(data, arrival_time_ms=0)
    assert fast_rtp.TABLES in vars(extensions_map)  # only our parse builds them
    assert parsed and parsed[0].extensions.abs_send_time is not None
