"""signaling/serve.py: the real server warms the face models in the background; the test app
(and so `make test`) never does."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from signaling import serve
from signaling.app import create_app
from signaling.appkeys import PLATFORM
from signaling.platform import Platform
from signaling.settings import Settings


class SlowWorker:
    """Stands in for FaceWorker: its warm-up waits until the test lets it finish."""

    def __init__(self, fail: bool = False) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.fail = fail

    async def warm_up(self) -> None:
        self.started.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("no models")

    def close(self) -> None:
        pass


@pytest.mark.integration
async def test_the_real_server_warms_the_face_models_without_waiting_for_them(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    platform = Platform.from_settings(settings)
    worker = SlowWorker()
    platform._face_worker = worker  # type: ignore[assignment]
    app = create_app(platform)
    app.on_startup.append(serve.warm_faces)
    runner = web.AppRunner(app)
    caplog.set_level(logging.INFO, logger="signaling.platform")
    await runner.setup()  # the startup hooks have run: the server could answer now
    try:
        await asyncio.wait_for(worker.started.wait(), 5)
        task = platform.warm_faces()  # the one task, not a second warm-up
        assert not task.done()
        worker.release.set()
        await asyncio.wait_for(task, 5)
        assert any(r.getMessage() == "face models loaded" for r in caplog.records)
    finally:
        await runner.cleanup()


@pytest.mark.integration
async def test_a_failed_warm_up_is_logged_not_raised(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    platform = Platform.from_settings(settings)
    worker = SlowWorker(fail=True)
    platform._face_worker = worker  # type: ignore[assignment]
    worker.release.set()
    try:
        await asyncio.wait_for(platform.warm_faces(), 5)
    finally:
        await platform.close()
    assert any("face models" in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.integration
async def test_the_test_app_loads_no_face_models(client: TestClient[object, object]) -> None:
    assert (await client.get("/readyz")).status == 200
    assert client.app[PLATFORM]._face_worker is None
    assert client.app[PLATFORM]._face_warm_up is None


@pytest.mark.parametrize(("kind", "module"), [("uvloop", "uvloop"), ("asyncio", "asyncio")])
def test_the_server_runs_on_the_loop_its_settings_name(kind: str, module: str) -> None:
    loop = serve.new_event_loop(kind)
    try:
        assert type(loop).__module__.split(".")[0] == module
        assert loop.run_until_complete(asyncio.sleep(0, result="ran")) == "ran"
    finally:
        loop.close()
