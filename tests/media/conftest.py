"""Fixtures of the media tests: a session of clients (the WebM and loopback ICE are shared,
in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from tests.media.harness import Session


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
