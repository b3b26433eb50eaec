"""Fixtures of the media tests: a generated WebM, loopback-only ICE, a session of clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aioice.ice
import pytest

from tests.media.harness import Session, make_webm


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_webm(tmp_path_factory.mktemp("media") / "party.webm")


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 by default, and this machine has no other network."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda **_: ["127.0.0.1"])


@pytest.fixture
async def session(loopback_ice: None) -> AsyncIterator[Session]:
    session = Session()
    yield session
    await session.close()


@pytest.fixture
def count_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[object, str], list[int]]]:
    """Wrap `owner.name` to count its calls; returns a one-element list holding the count."""

    def wrap(owner: object, name: str) -> list[int]:
        counter = [0]
        original = getattr(owner, name)

        def counting(*args: object, **kwargs: object) -> object:
            counter[0] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)
        return counter

    yield wrap
