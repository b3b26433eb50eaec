"""The reminder dispatcher as a background task of the server: bounded batches, fixed interval.

Every node may run it; notary.notifications claims each row before sending, so two nodes never
send the same notification. The senders default to the log (no e-mail or SMS gateway is
configured yet); a deployment with gateways puts its own Senders under SENDERS before start.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from notary.notifications import Senders, dispatch_due, log_senders
from signaling.appkeys import PLATFORM

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 30.0  # reminders are due 24 h and 1 h ahead: half a minute late is fine
BATCH = 50  # per round; a backlog drains over several rounds instead of one long burst

SENDERS = web.AppKey("notification_senders", Senders)


async def run_forever(app: web.Application) -> None:
    senders = app.get(SENDERS) or log_senders()
    engine = app[PLATFORM].engine
    while True:
        try:
            counts = await dispatch_due(engine, senders, now=dt.datetime.now(dt.UTC), batch=BATCH)
            if any(counts.values()):
                log.info("notifications dispatched", extra=counts)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup must not end reminders for the process' life
            log.exception("notification dispatch failed; retrying next round")
        await asyncio.sleep(INTERVAL_SECONDS)


async def background(app: web.Application) -> AsyncIterator[None]:
    """For app.cleanup_ctx: start after the schema is migrated, stop at shutdown."""
    task = asyncio.create_task(run_forever(app), name="notification-dispatcher")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
