"""The comparison's load generator, with no server: two parties connected to each other."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.bench.compare_loadgen import (
    Session,
    close_window,
    end_window,
    identity_window,
    loop_factory,
    open_session,
    open_window,
)
from tests.bench.latency import LOSS_GRACE_S
from tests.bench.paced_source import EncodedFile
from tests.bench.source import media_duration


@pytest.mark.timeout(60)
async def test_direct_session_measures_rates_loss_and_latency(
    webm: Path, loopback_ice: None
) -> None:
    source = EncodedFile(webm, media_duration(webm))
    config = {"server": "direct"}
    async with aiohttp.ClientSession() as http:
        session = await open_session(http, {"label": "d0"}, config, source, timeout=20)
        try:
            assert session.error == ""
            open_window([session])
            await asyncio.sleep(2.0)
            ended = end_window([session])
            await asyncio.sleep(LOSS_GRACE_S)
            result = close_window([session], 2.0, ended)
        finally:
            await session.close()
    assert result["connections"] == {"connected": 2}
    assert result["unmatched_frames"] == 0  # every frame received was one that was sent
    rows = {row["participant"]: row for row in result["subscribers"]}
    assert set(rows) == {"notary", "applicant"}
    for row in rows.values():
        assert 20 <= row["video_fps"] <= 40  # the file's 30 fps, give or take the window's edges
        assert 35 <= row["audio_fps"] <= 65  # 20 ms Opus packets
        assert row["video_sent"] >= 45
        assert row["video_settled"] == row["video_sent"]  # all had the grace to arrive
        assert row["video_lost"] == 0
        latency = row["video_latency_ms"]
        assert latency["count"] >= 40
        assert 0 < latency["p50"] < 200  # loopback, no jitter buffer
    assert len(result["video_latency_ms"]) == sum(
        r["video_latency_ms"]["count"] for r in rows.values()
    )


def test_identity_events_are_counted_over_the_window_only() -> None:
    received: list[dict[str, Any]] = []

    def event(kind: str, check: int, check_kind: str | None = "full") -> None:
        result = {"type": f"identity.{kind}", "check": check, "latency_ms": 100.0 + check}
        if check_kind is not None:  # None: a server from before presence checks
            result["check_kind"] = check_kind
        received.append({"type": "identity", "participant": "p", "result": result})

    session = Session("s0", [], lambda: [], identity=lambda: received)
    event("no_face", 1)  # acquiring, before the window
    open_window([session])
    event("match", 2)
    event("person_changed", 3)  # shares its check with the verdict after it
    event("mismatch", 3)
    event("no_face", 4, check_kind=None)
    event("present", 5, "presence")
    event("present", 6, "presence")
    event("no_face", 7, "presence")  # a presence check that lost the face
    end_window([session])
    event("match", 8)  # after the window
    counted = identity_window(session)
    assert counted["events"] == 7 and counted["checks"] == 6
    assert counted["full_checks"] == 3 and counted["presence_checks"] == 3
    assert counted["kinds"] == {
        "match": 1,
        "person_changed": 1,
        "mismatch": 1,
        "no_face": 2,
        "present": 2,
    }
    assert counted["latency_ms"] == [102.0, 103.0, 103.0, 104.0, 105.0, 106.0, 107.0]
    assert counted["before_window"] == 1
    # A session without identity checks (Janus, or no --face) reports nothing.
    plain = Session("s1", [], lambda: [])
    open_window([plain])
    assert close_window([plain], 1.0)["identity"] == []


def test_the_load_generator_runs_on_uvloop_unless_asked_otherwise() -> None:
    import uvloop

    fast, plain = loop_factory("uvloop")(), loop_factory("asyncio")()
    try:
        assert isinstance(fast, uvloop.Loop)
        assert not isinstance(plain, uvloop.Loop)
    finally:
        fast.close()
        plain.close()
    with pytest.raises(ValueError, match="uvloop"):
        loop_factory("trio")
