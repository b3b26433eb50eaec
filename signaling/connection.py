"""One participant's WebSocket: a bounded outbox written by its own task.

A client that stops reading fills its outbox; it is then disconnected (and may rejoin), so a
stalled browser never makes the server's memory grow and never blocks the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)

OUTBOX_LIMIT = 256
CLOSE_REPLACED = 4000  # another connection of the same participant took over
CLOSE_SLOW = 4001  # the outbox overflowed
CLOSE_ENDED = 4002  # the session ended, or the participant left or was removed


class Connection:
    def __init__(self, ws: web.WebSocketResponse, participant_id: str, token_id: str = "") -> None:
        self.ws = ws
        self.participant_id = participant_id
        self.token_id = token_id  # the join link's id: what a confirmation is bound to
        self.dropped_messages = 0
        self._outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(OUTBOX_LIMIT)
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{participant_id}")
        self._closing = False

    @property
    def closed(self) -> bool:
        return self._closing or self.ws.closed

    def send(self, event: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            self._outbox.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_messages += 1
            log.warning("outbox full, disconnecting", extra={"participant": self.participant_id})
            asyncio.get_running_loop().create_task(self.close(CLOSE_SLOW, "too slow"))

    async def _write(self) -> None:
        while (event := await self._outbox.get()) is not None:
            try:
                await self.ws.send_json(event)
            except (ConnectionError, RuntimeError):
                break

    async def close(self, code: int = WSCloseCode.OK, message: str = "") -> None:
        """Send what is queued (briefly), then close the socket."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(None)
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(self._writer), 2)
        self._writer.cancel()
        await self.ws.close(code=code, message=message.encode())
