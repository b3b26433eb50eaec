"""run_now: a coroutine that never waits runs to its end at once; one that waits goes on."""

from __future__ import annotations

import asyncio
import logging

import pytest

from media.eager import run_now

pytestmark = pytest.mark.unit


async def test_a_coroutine_that_never_waits_finishes_in_the_call() -> None:
    log: list[str] = []

    async def inner() -> None:
        log.append("inner")

    async def outer() -> None:
        await inner()
        log.append("outer")

    run_now(outer())
    assert log == ["inner", "outer"]  # no loop iteration in between


async def test_a_coroutine_that_waits_is_finished_by_a_task() -> None:
    log: list[str] = []
    gate = asyncio.get_running_loop().create_future()

    async def waits() -> None:
        log.append("before")
        log.append(await gate)
        await asyncio.sleep(0)  # a bare yield too
        log.append("after")

    run_now(waits())
    assert log == ["before"]
    gate.set_result("woken")
    for _ in range(5):
        await asyncio.sleep(0)
    assert log == ["before", "woken", "after"]


async def test_failures_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def fails_now() -> None:
        raise ValueError("at once")

    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("later")

    with caplog.at_level(logging.ERROR, logger="media.eager"):
        run_now(fails_now())
        run_now(fails_later())
        for _ in range(3):
            await asyncio.sleep(0)
    messages = [r.exc_info[1].args[0] for r in caplog.records if r.exc_info and r.exc_info[1]]
    assert messages == ["at once", "later"]
