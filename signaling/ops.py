"""Operational endpoints: liveness, readiness, metrics and the API description."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from notary.db import ping
from signaling.appkeys import API, PLATFORM
from signaling.openapi import Api

CHECK_TIMEOUT = 3.0  # seconds; a readiness probe must answer even when a dependency hangs


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _check(name: str, probe: Any) -> tuple[str, dict[str, Any]]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT)
    except TimeoutError:
        result: dict[str, Any] = {"status": "error", "reason": f"no answer in {CHECK_TIMEOUT:.0f}s"}
    except Exception as exc:
        result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:300]}
    else:
        result = {"status": "ok"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return name, result


async def readyz(request: web.Request) -> web.Response:
    platform = request.app[PLATFORM]

    async def store_probe() -> None:
        if not platform.store_bootstrapped:
            await platform.bootstrap_store()
        await asyncio.to_thread(platform.store.check, platform.buckets)

    probes = [
        _check("database", ping(platform.engine)),
        _check("object_store", store_probe()),
    ]
    if platform.redis is not None:
        probes.append(_check("redis", platform.redis.ping()))
    checks = dict(await asyncio.gather(*probes))
    for name, result in checks.items():
        platform.metrics.ready.labels(name).set(1 if result["status"] == "ok" else 0)
    ok = all(result["status"] == "ok" for result in checks.values())
    return web.json_response(
        {"status": "ok" if ok else "error", "checks": checks}, status=200 if ok else 503
    )


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[PLATFORM].metrics
    content_type, _, params = registry.content_type.partition(";")
    return web.Response(
        body=registry.render(),
        content_type=content_type.strip(),
        charset=params.partition("=")[2].strip() or "utf-8",
    )


async def openapi(request: web.Request) -> web.Response:
    base = request.app[PLATFORM].settings.public_base_url
    return web.json_response(request.app[API].document(base))


CHECK_SCHEMA = {
    "type": "object",
    "required": ["status", "ms"],
    "properties": {
        "status": {"enum": ["ok", "error"]},
        "reason": {"type": "string"},
        "ms": {"type": "number"},
    },
}


def declare(api: Api) -> None:
    api.add(
        "GET",
        "/healthz",
        healthz,
        summary="Liveness: the process answers",
        tags=("operations",),
        response_schema={"type": "object", "properties": {"status": {"const": "ok"}}},
    )
    api.add(
        "GET",
        "/readyz",
        readyz,
        summary="Readiness: database, object store (and Redis when set), each ok or error with why",
        tags=("operations",),
        responses={200: "every dependency answers", 503: "a dependency is down"},
        schema_statuses=(503,),
        response_schema={
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": {"enum": ["ok", "error"]},
                "checks": {
                    "type": "object",
                    "properties": {
                        "database": CHECK_SCHEMA,
                        "object_store": CHECK_SCHEMA,
                        "redis": CHECK_SCHEMA,
                    },
                },
            },
        },
    )
    api.add(
        "GET",
        "/metrics",
        metrics,
        summary="Prometheus metrics (text exposition format)",
        tags=("operations",),
        response_schema={"type": "string"},
        response_content_type="text/plain",
    )
    api.add(
        "GET",
        "/api/openapi.json",
        openapi,
        summary="This description of the REST API",
        tags=("operations",),
        response_schema={"type": "object"},
    )
