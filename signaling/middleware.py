"""What every HTTP request goes through: a request id, JSON errors, an access log line, metrics."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from signaling.appkeys import PLATFORM
from signaling.errors import _HTTP_CODES, ApiError, error_response
from signaling.logs import new_request_id, request_id_var

access_log = logging.getLogger("notarylink.access")
log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"


def _route_label(request: web.Request) -> str:
    # The route's pattern, not the path: ids in paths must not explode the metric's labels.
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await _answer(request, handler)
        status = response.status
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        route = _route_label(request)
        metrics = request.app[PLATFORM].metrics
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_duration.labels(request.method, route).observe(elapsed)
        # The path only: query strings can carry join tokens.
        access_log.info(
            "%s %s %d",
            request.method,
            request.path,
            status,
            extra={"duration_ms": round(elapsed * 1000, 1), "remote": request.remote},
        )
        request_id_var.reset(token)


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        response = error_response(exc.status, code, exc.reason)
        for header in ("Allow", "Retry-After"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(
            500,
            "internal_error",
            f"internal error; quote request id {request_id_var.get()} when reporting it",
        )
