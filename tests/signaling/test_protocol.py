import json

import pytest

from signaling.protocol import MAX_MESSAGE_BYTES, ProtocolError, parse

pytestmark = pytest.mark.unit


def test_valid_messages_parse() -> None:
    message = parse(json.dumps({"type": "admit", "participant": "p-1", "ref": "7"}))
    assert (message.type, message.data["participant"], message.ref) == ("admit", "p-1", "7")
    assert parse('{"type": "mute", "audio": true}').data == {"type": "mute", "audio": True}


@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "malformed"),
        ("[1,2]", "malformed"),
        ('"type"', "malformed"),
        ("{}", "unknown_type"),
        ('{"type": "hack"}', "unknown_type"),
        ('{"type": 5}', "unknown_type"),
        ('{"type": "offer"}', "invalid"),
        ('{"type": "offer", "sdp": 1}', "invalid"),
        ('{"type": "mute", "audio": "yes"}', "invalid"),
        ('{"type": "candidate", "candidate": "x", "sdpMLineIndex": true}', "invalid"),
        ('{"type": "ping", "pad": "' + "x" * MAX_MESSAGE_BYTES + '"}', "too_large"),
        (b"\xff\xfe", "malformed"),
    ],
)
def test_bad_messages_raise_with_a_code(raw: str | bytes, code: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse(raw)
    assert refused.value.code == code


def test_overlong_ref_is_dropped_not_echoed() -> None:
    assert parse(json.dumps({"type": "ping", "ref": "r" * 500})).ref is None
