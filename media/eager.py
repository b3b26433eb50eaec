"""Run a coroutine now, in the caller's stack, instead of scheduling a task for it.

aiortc's packet handlers are coroutines, but on the forwarding path they never really wait:
every `await` down to the socket's `sendto` completes at once. Driving them from a datagram
callback directly saves a queue hop and a task switch per packet. Should one ever suspend
(a TURN relay that waits, say), a task takes over from where it stopped, so nothing is lost;
only its order relative to later packets is no longer guaranteed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine, Generator
from typing import Any

logger = logging.getLogger(__name__)

_tasks: set[asyncio.Task[None]] = set()


def run_now(coro: Coroutine[Any, Any, Any]) -> None:
    """Run `coro` until it finishes or first suspends; a suspended one goes on in a task."""
    try:
        waiting_on = coro.send(None)
    except StopIteration:
        return
    except Exception:
        logger.exception("packet handler failed")
        return
    task = asyncio.get_running_loop().create_task(_finish(coro, waiting_on))
    # The loop holds tasks weakly.
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _finish(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
    try:
        await _Resumed(coro, waiting_on)
    except Exception:
        logger.exception("packet handler failed")


class _Resumed:
    """Awaitable that hands the task the future `coro` was waiting on, then resumes `coro`.

    A coroutine suspended on a future yields that future (its `_asyncio_future_blocking` set);
    yielding it again to the task makes the task wake this when the future is done, exactly
    as if the task had driven the coroutine from the start.
    """

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting_on: Any) -> None:
        self._coro = coro
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, None, Any]:
        waiting_on = self._waiting_on
        while True:
            try:
                yield waiting_on
            except BaseException as exc:  # cancellation reaches the coroutine
                step = functools.partial(self._coro.throw, exc)
            else:
                step = functools.partial(self._coro.send, None)
            try:
                waiting_on = step()
            except StopIteration as stop:
                return stop.value
