"""Reading an uploaded file: only multipart forms, a declared or actual size over the limit
refused, the file name checked, the bytes as sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import BodyPartReader, web
from aiohttp.test_utils import TestClient, TestServer

from signaling.errors import ApiError
from signaling.uploads import MULTIPART_OVERHEAD, UPLOAD_CHUNK, check_multipart, read_file_part

LIMIT = 3 * UPLOAD_CHUNK  # small, so that several chunks are read before one is too many


async def echo(request: web.Request) -> web.Response:
    """The first part's checked name and size; an ApiError as its status and code."""
    try:
        check_multipart(request, LIMIT)
        part = await (await request.multipart()).next()
        assert isinstance(part, BodyPartReader)
        name, data = await read_file_part(part, LIMIT)
    except ApiError as exc:
        return web.json_response({"code": exc.code, "details": exc.details}, status=exc.status)
    return web.json_response({"name": name, "size": len(data), "head": data[:4].hex()})


@pytest.fixture
async def api() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application(client_max_size=4 * LIMIT)
    app.router.add_post("/upload", echo)
    async with TestClient(TestServer(app)) as client:
        yield client


def form(data: bytes, filename: str) -> aiohttp.FormData:
    sent = aiohttp.FormData()
    sent.add_field("file", data, filename=filename, content_type="application/octet-stream")
    return sent


async def test_the_file_is_read_whole_up_to_the_limit(api: TestClient) -> None:
    data = b"\x89PNG" + b"x" * (LIMIT - 4)
    response = await api.post("/upload", data=form(data, "身份证.png"))
    assert response.status == 200
    # The name arrives as chosen; every byte up to the limit is kept.
    assert await response.json() == {"name": "身份证.png", "size": LIMIT, "head": "89504e47"}


async def test_one_byte_over_the_limit_is_refused(api: TestClient) -> None:
    response = await api.post("/upload", data=form(b"x" * (LIMIT + 1), "big.pdf"))
    assert response.status == 413
    assert (await response.json())["code"] == "too_large"


async def test_a_declared_length_that_cannot_fit_is_refused_before_reading(
    api: TestClient,
) -> None:
    body = b"x" * (LIMIT + MULTIPART_OVERHEAD + 1)
    response = await api.post(
        "/upload", data=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert response.status == 413
    assert (await response.json())["code"] == "too_large"


async def test_only_a_multipart_form_is_read(api: TestClient) -> None:
    response = await api.post("/upload", json={"file": "x"})
    assert response.status == 415
    assert (await response.json())["code"] == "unsupported_media_type"


async def test_an_encoded_path_is_refused_as_the_path_it_is(api: TestClient) -> None:
    response = await api.post("/upload", data=form(b"%PDF-1.7", "..%2F..%2Fetc%2Fpasswd"))
    assert response.status == 400
    assert (await response.json())["details"] == {"field": "file"}
