"""/api/openapi.json describes exactly the routes the server answers."""

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from signaling.app import NON_API_ROUTES, build_api
from signaling.openapi import Api

pytestmark = pytest.mark.integration


def _served(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if route.method == "HEAD" or route.name in NON_API_ROUTES:
            continue
        routes.add((route.method, str(path)))
    return routes


async def test_document_matches_the_router(client: TestClient) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["openapi"].startswith("3.")
    documented = {
        (method.upper(), path) for path, ops in document["paths"].items() for method in ops
    }
    served = _served(client.app)
    assert documented == served, (
        f"only served: {served - documented}; only documented: {documented - served}"
    )
    for ops in document["paths"].values():
        for op in ops.values():
            assert op["summary"] and op["responses"]


@pytest.mark.unit
def test_declaring_a_route_twice_is_an_error() -> None:
    api = build_api()
    op = api.operations[0]
    with pytest.raises(ValueError, match="twice"):
        api.add(op.method, op.path, op.handler, summary="again")


@pytest.mark.unit
def test_error_responses_refer_to_the_error_schema() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    api = Api(title="t", version="1")
    api.add("POST", "/api/x", handler, summary="x", responses={201: "made", 400: "bad"})
    spec = api.document("http://h")["paths"]["/api/x"]["post"]
    assert spec["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
