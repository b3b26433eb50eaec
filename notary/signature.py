"""A drawn signature: a PNG data URL from a canvas, checked by what its bytes are.

The page sends `data:image/png;base64,…`. Only a PNG passes: the magic number and the header's
dimensions are read before anything is decoded, then every chunk's CRC and the end of the file
(notary.materials' own PNG check), then the pixels are decoded to make sure something was drawn.
A JPEG or a PDF renamed, a truncated file, a bomb or an empty canvas is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import struct
from dataclasses import dataclass

from PIL import Image, ImageChops

from notary.materials import MaterialRejected, sniff

DATA_URL_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 40 * 1024  # a 600x200 canvas of strokes is 5-20 KB; fits one WS message
MAX_WIDTH = 2000
MAX_HEIGHT = 1000
MIN_INK_PIXELS = 50  # a dot or two is not a signature
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class SignatureRejected(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = "bad_signature"
        self.message = message


@dataclass(frozen=True)
class Signature:
    png: bytes
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()

    @property
    def base64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


def parse_signature(data_url: str) -> Signature:
    """The checked PNG of a `data:image/png;base64,…` URL, or SignatureRejected."""
    if not data_url.startswith(DATA_URL_PREFIX):
        raise SignatureRejected("the signature must be a data:image/png;base64 URL")
    encoded = data_url[len(DATA_URL_PREFIX) :]
    if len(encoded) > (MAX_SIGNATURE_BYTES * 4) // 3 + 4:
        raise SignatureRejected(f"the signature may have at most {MAX_SIGNATURE_BYTES} bytes")
    try:
        png = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected("the signature is not valid base64") from None
    return check_png(png)


def check_png(png: bytes) -> Signature:
    if len(png) > MAX_SIGNATURE_BYTES:
        raise SignatureRejected(f"the signature may have at most {MAX_SIGNATURE_BYTES} bytes")
    # The header first: nothing is decoded before its size is known to be small.
    if len(png) < 33 or not png.startswith(PNG_MAGIC) or png[12:16] != b"IHDR":
        raise SignatureRejected("the signature is not a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    if not (0 < width <= MAX_WIDTH and 0 < height <= MAX_HEIGHT):
        raise SignatureRejected(f"a signature image is at most {MAX_WIDTH}x{MAX_HEIGHT} pixels")
    try:
        sniff(png, "signature.png")  # chunks, CRCs, nothing after IEND, decodes whole
    except MaterialRejected as exc:
        raise SignatureRejected(f"the signature image is broken: {exc.message}") from None
    if _ink(png) < MIN_INK_PIXELS:
        raise SignatureRejected("the signature is empty: draw it on the pad")
    return Signature(png=png, width=width, height=height)


def _ink(png: bytes) -> int:
    """Pixels drawn on: opaque and darker than the paper (a canvas starts transparent or white)."""
    with Image.open(io.BytesIO(png)) as image:
        rgba = image.convert("RGBA")
    dark = rgba.convert("L").point(lambda v: 255 if v < 200 else 0)
    opaque = rgba.getchannel("A").point(lambda v: 255 if v > 64 else 0)
    return ImageChops.multiply(dark, opaque).histogram()[255]
