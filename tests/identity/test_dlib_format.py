"""dlib's integer serialization, both ways."""

from __future__ import annotations

import pytest

from identity.dlib_format import ModelFileError, Reader, integer_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", [0, 1, -1, 80, 255, 256, 1000, -3101, 2**40, -(2**63)])
def test_integers_read_back(value: int) -> None:
    reader = Reader(integer_bytes(value) + integer_bytes(7))
    assert reader.integer() == value and reader.integer() == 7
    assert reader.pos == len(reader.data)


def test_known_encodings() -> None:
    # As dlib writes them (bytes of the frontal detector's header and its first filter).
    assert integer_bytes(1000) == bytes([0x02, 0xE8, 0x03])
    assert integer_bytes(-3101) == bytes([0x82, 0x1D, 0x0C])
    assert integer_bytes(0) == bytes([0x01, 0x00])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        integer_bytes(2**64)
    with pytest.raises(ModelFileError, match="bad integer"):
        Reader(bytes([0x19, 0])).integer()
    with pytest.raises(ModelFileError, match="truncated"):
        Reader(bytes([0x02, 0xE8])).integer()
