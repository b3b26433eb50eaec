"""The aiohttp application: middleware, the REST API, the static web client, start and stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

import web_client
from notary.certificate_keys import Keyring
from notary.db import migrate
from signaling import (
    aftercare_api,
    appointments_api,
    auth,
    case_session_api,
    cases_api,
    certificates_api,
    fees_api,
    identity_api,
    journal_api,
    live_metrics,
    matters_api,
    ops,
    paper_original_api,
    recordings_api,
    reminders,
    review_api,
    rooms_api,
    ws,
)
from signaling.appkeys import API, HUBS, PLATFORM, ROOMS
from signaling.middleware import observe
from signaling.openapi import Api
from signaling.platform import Platform
from signaling.rooms import RoomRegistry

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024  # JSON bodies; uploads get their own, streamed limit

# Pages, files and the WebSocket (docs/protocol.md): not REST, not in /api/openapi.json.
NON_API_ROUTES = frozenset({"index", "static", "websocket"})


def package_version() -> str:
    try:
        return version("notarylink")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+source"


def build_api() -> Api:
    api = Api(title="NotaryLink", version=package_version())
    ops.declare(api)
    auth.declare(api)
    rooms_api.declare(api)
    case_session_api.declare(api)
    identity_api.declare(api)
    recordings_api.declare(api)
    paper_original_api.declare(api)
    appointments_api.declare(api)
    matters_api.declare(api)
    cases_api.declare(api)
    review_api.declare(api)
    certificates_api.declare(api)
    fees_api.declare(api)
    journal_api.declare(api)
    aftercare_api.declare(api)
    return api


def create_app(platform: Platform) -> web.Application:
    app = web.Application(middlewares=[observe], client_max_size=MAX_REQUEST_BYTES)
    app[PLATFORM] = platform
    app[ROOMS] = RoomRegistry()
    app[HUBS] = {}
    app[certificates_api.CERTIFICATES] = certificates_api.CertificateService(
        Keyring(platform.settings.data_dir / "keys")
    )
    app[API] = build_api()
    app[API].install(app.router)
    app.router.add_get("/", _index, name="index")
    app.router.add_get("/ws", ws.websocket, name="websocket")
    app.router.add_static("/static/", web_client.STATIC_DIR, name="static", follow_symlinks=False)
    app.cleanup_ctx.append(_lifecycle)
    app.cleanup_ctx.append(reminders.background)  # after _lifecycle has migrated
    app.cleanup_ctx.append(matters_api.catalog)  # after _lifecycle has migrated
    app.cleanup_ctx.append(live_metrics.background)
    app.on_shutdown.append(ws.close_hubs)
    return app


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(web_client.STATIC_DIR / "index.html")


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    platform = app[PLATFORM]
    # The schema must be current before a request is served; a database that cannot be
    # migrated stops the start with its reason.
    await asyncio.to_thread(migrate, platform.settings.effective_database_url)
    # Taken before serving: only what a dead process left is recovered, never a new session.
    orphans = platform.unsealed_recordings()
    background = [
        asyncio.create_task(platform.keep_bootstrapping_store()),
        asyncio.create_task(platform.recover_recordings(orphans)),
    ]
    log.info("NotaryLink started", extra={"settings": platform.settings.describe()})
    yield
    for task in background:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await platform.close()
