"""The REST API's routes and their OpenAPI description, declared together in one place.

Routes are added to the router only through `Api.add`, so `/api/openapi.json` cannot drift from
what the server answers (a test compares the router with the document).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, machine-readable"},
                "message": {"type": "string", "description": "for people"},
                "details": {"type": "object"},
            },
        }
    },
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tags: tuple[str, ...]
    responses: dict[int, str]
    response_schema: dict[str, Any] | None = None
    response_content_type: str = "application/json"
    request_schema: dict[str, Any] | None = None
    parameters: tuple[dict[str, Any], ...] = ()
    security: bool = False
    # Error statuses whose body is the response schema rather than the common Error object.
    schema_statuses: tuple[int, ...] = ()
    # Request media types besides (or instead of) JSON, e.g. {"application/pdf": {...}}.
    request_content: dict[str, Any] | None = None

    def spec(self) -> dict[str, Any]:
        responses: dict[str, Any] = {}
        for status, description in sorted(self.responses.items()):
            entry: dict[str, Any] = {"description": description}
            own_schema = status < 400 or status in self.schema_statuses
            if own_schema and self.response_schema is not None:
                entry["content"] = {self.response_content_type: {"schema": self.response_schema}}
            elif not own_schema:
                entry["content"] = {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                }
            responses[str(status)] = entry
        op: dict[str, Any] = {
            "operationId": self.handler.__name__,
            "summary": self.summary,
            "tags": list(self.tags),
            "responses": responses,
        }
        if self.parameters:
            op["parameters"] = list(self.parameters)
        content: dict[str, Any] = {}
        if self.request_schema is not None:
            content["application/json"] = {"schema": self.request_schema}
        content.update(self.request_content or {})
        if content:
            op["requestBody"] = {"required": True, "content": content}
        if self.security:
            op["security"] = [{"bearer": []}]
        return op


@dataclass
class Api:
    title: str
    version: str
    operations: list[Operation] = field(default_factory=list)

    def add(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        summary: str,
        tags: tuple[str, ...] = (),
        responses: dict[int, str] | None = None,
        **extra: Any,
    ) -> None:
        if any(op.method == method and op.path == path for op in self.operations):
            raise ValueError(f"{method} {path} is declared twice")
        self.operations.append(
            Operation(
                method=method.upper(),
                path=path,
                handler=handler,
                summary=summary,
                tags=tags,
                responses=responses or {200: "OK"},
                **extra,
            )
        )

    def install(self, router: web.UrlDispatcher) -> None:
        for op in self.operations:
            router.add_route(op.method, op.path, op.handler, name=op.handler.__name__)

    def document(self, server_url: str) -> dict[str, Any]:
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = op.spec()
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version},
            "servers": [{"url": server_url}],
            "paths": paths,
            "components": {
                "schemas": {"Error": ERROR_SCHEMA},
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }
