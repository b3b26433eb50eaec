"""A file sent as multipart/form-data: refused before reading when too large, read in bounded
chunks, its name checked like a material's."""

from __future__ import annotations

import urllib.parse

from aiohttp import BodyPartReader, web

from notary import materials
from signaling.errors import ApiError

UPLOAD_CHUNK = 64 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and the small fields around the file


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"a file may have at most {limit} bytes")


def check_multipart(request: web.Request, limit: int = materials.MAX_UPLOAD_BYTES) -> None:
    """415 for anything but a multipart form; 413 when the declared length cannot fit."""
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type", "send the file as multipart/form-data")
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise _too_large(limit)


async def read_file_part(
    part: BodyPartReader, limit: int = materials.MAX_UPLOAD_BYTES
) -> tuple[str, bytes]:
    """(checked file name, bytes) of a form's file part; 413 as soon as it passes `limit`."""
    try:
        # Some clients percent-encode non-ASCII names; decoding first also means an
        # encoded "../" is seen, and refused, as the path it is.
        file_name = materials.check_file_name(urllib.parse.unquote(part.filename or ""))
    except materials.MaterialRejected as exc:
        raise ApiError(400, exc.code, exc.message, {"field": "file"}) from None
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(UPLOAD_CHUNK):
        size += len(chunk)
        if size > limit:  # stop reading: the rest never reaches memory
            raise _too_large(limit)
        chunks.append(chunk)
    return file_name, b"".join(chunks)
