"""A drawn signature passes only as a real, small, non-empty PNG."""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image

from notary.signature import MAX_SIGNATURE_BYTES, SignatureRejected, check_png, parse_signature
from tests.notary.signatures import data_url, drawn_png


def test_a_drawn_signature_passes_with_its_hash() -> None:
    png = drawn_png()
    signature = parse_signature(data_url(png))
    assert signature.png == png
    assert (signature.width, signature.height) == (600, 200)
    assert signature.sha256 == hashlib.sha256(png).hexdigest()
    assert base64.b64decode(signature.base64) == png


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 200), (10, 10, 10)).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (data_url(_jpeg(), "image/jpeg"), "data:image/png"),
        (data_url(_jpeg()), "not a PNG"),  # labelled PNG, a JPEG inside
        (data_url(b"%PDF-1.7\n" + b"x" * 100), "not a PNG"),
        ("data:image/png;base64,@@@notbase64", "base64"),
        (data_url(drawn_png(strokes=False)), "empty"),
        (data_url(drawn_png()[:-20]), "broken"),  # truncated
        (data_url(drawn_png() + b"<script>"), "broken"),  # something glued after IEND
        (data_url(drawn_png(width=3000)), "pixels"),
    ],
)
def test_anything_else_is_refused(url: str, reason: str) -> None:
    with pytest.raises(SignatureRejected, match=reason) as caught:
        parse_signature(url)
    assert caught.value.code == "bad_signature"


def test_an_oversized_signature_is_refused_before_decoding() -> None:
    with pytest.raises(SignatureRejected, match="at most"):
        parse_signature(data_url(b"\x89PNG\r\n\x1a\n" + b"\0" * (MAX_SIGNATURE_BYTES + 10)))


def test_a_header_claiming_a_huge_image_is_refused_from_the_header() -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 6, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    with pytest.raises(SignatureRejected, match="pixels"):
        check_png(b"\x89PNG\r\n\x1a\n" + chunk + b"\0" * 40)


def test_a_corrupt_chunk_is_refused() -> None:
    png = bytearray(drawn_png())
    png[40] ^= 0xFF  # inside the image data: its CRC no longer matches
    with pytest.raises(SignatureRejected, match="broken"):
        check_png(bytes(png))
