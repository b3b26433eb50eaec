"""dlib's serialization (dlib/serialize.h), read and, for integers, written.

Model files and dlib objects saved from Python (`fhog_object_detector.save`) use it: integers
as a control byte (sign bit 0x80, byte count in the low nibble) plus little-endian bytes,
floats as mantissa and exponent integers, strings as length + bytes, bools as '0'/'1'.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]


class ModelFileError(RuntimeError):
    """The model file (or serialized object) is missing, truncated or not what was expected."""


class Reader:
    """Reads dlib's formats from `data` in order (tensors: 4 sizes, then raw float32 or, in
    version 1, one float each); anything malformed is a `ModelFileError`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ModelFileError(f"model file truncated at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def integer(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise ModelFileError(f"bad integer at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def expect_int(self, what: str, *allowed: int) -> int:
        value = self.integer()
        if value not in allowed:
            raise ModelFileError(f"{what}: {value} where {allowed} was expected")
        return value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        if abs(exponent) >= 32000:  # float_details' codes for inf and nan
            raise ModelFileError(f"non-finite number at byte {self.pos}")
        return math.ldexp(mantissa, exponent)

    def string(self) -> str:
        size = self.integer()
        if not 0 <= size <= 256:
            raise ModelFileError(f"bad string length {size} at byte {self.pos}")
        return self._take(size).decode("ascii", "replace")

    def expect_string(self, *allowed: str) -> str:
        found = self.string()
        if found not in allowed:
            raise ModelFileError(f"found {found!r} where {' or '.join(allowed)} was expected")
        return found

    def flag(self) -> bool:
        found = self._take(1)
        if found not in (b"0", b"1"):
            raise ModelFileError(f"bad bool at byte {self.pos - 1}")
        return found == b"1"

    def tensor(self) -> Array:
        version = self.expect_int("tensor version", 1, 2)
        shape = tuple(self.integer() for _ in range(4))
        if any(n < 0 for n in shape):
            raise ModelFileError(f"bad tensor shape {shape}")
        count = math.prod(shape)
        if version == 2:  # raw little-endian IEEE floats
            raw = self._take(4 * count)
            return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
        return np.array([self.real() for _ in range(count)], np.float32).reshape(shape)

    def alias(self) -> tuple[int, int, int, int]:
        self.expect_int("alias_tensor version", 1)
        n, k, nr, nc = (self.integer() for _ in range(4))
        return (n, k, nr, nc)


def integer_bytes(value: int) -> bytes:
    """`value` as dlib serializes an integer (what `Reader.integer` reads back)."""
    magnitude = abs(value)
    size = max(1, (magnitude.bit_length() + 7) // 8)
    if size > 8:
        raise ValueError(f"{value} does not fit dlib's 8-byte integers")
    return bytes([size | (0x80 if value < 0 else 0)]) + magnitude.to_bytes(size, "little")
