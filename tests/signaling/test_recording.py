"""A real call through the real server, recorded: the notary starts and ends the session, and
the evidence in the S3 server verifies, every segment decodes, the events are in the chain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp.test_utils import TestClient

from notary.roles import Role
from recorder.store_source import StoreSource
from recorder.verify import verify
from signaling.appkeys import PLATFORM
from tests.media.harness import wait_for
from tests.signaling.callclient import CallClient, admit

pytestmark = pytest.mark.integration

Login = Callable[[Role, str], Awaitable[str]]


async def test_a_recorded_session_verifies_from_the_store(
    client: TestClient,
    links: dict[str, dict[str, Any]],
    clients,
    tmp_path: Path,
) -> None:
    platform = client.app[PLATFORM]
    notary: CallClient = clients(links["notary"]["token"])
    applicant: CallClient = clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await notary.send({"type": "start"})
    await applicant.wait_for("session_state")
    await wait_for(
        lambda: applicant.frames_from(notary.participant_id, "video") >= 90, 30, "three seconds"
    )
    await notary.send({"type": "end"})
    await wait_for(lambda: any(e.get("state") == "ended" for e in applicant.events), 15, "the end")
    # The seal is written locally first, then uploaded (pending_seals tracks that part).
    await wait_for(lambda: _sealed_locally(platform), 30, "the seal")
    await platform.wait_for_seals()

    session_id = next(iter((platform.settings.data_dir / "spool").iterdir())).name
    source = StoreSource.for_session(platform.store, platform.settings.evidence_bucket, session_id)
    report = verify(source, trusted_key=platform.recorder.key.public_key())  # type: ignore[union-attr]
    assert report.ok, report.as_dict()

    manifest = json.loads(source.read("manifest.json") or b"{}")
    entries = manifest["entries"]
    segments = [e["body"] for e in entries if e["kind"] == "segment"]
    recorded = {s["participant"] for s in segments}
    assert recorded == {notary.participant_id, applicant.participant_id}
    video_frames = {notary.participant_id: 0, applicant.participant_id: 0}
    for segment in segments:  # every stored segment is a playable file
        path = tmp_path / "segment.webm"
        path.write_bytes(source.read(segment["file"]) or b"")
        with av.open(str(path)) as container:
            decoded = {"audio": 0, "video": 0}
            for packet in container.demux():
                if packet.size:
                    decoded[packet.stream.type] += len(packet.decode())
        # A participant's audio may start a moment before its video: that segment is audio.
        assert sum(decoded.values()) > 0, segment["file"]
        video_frames[segment["participant"]] += decoded["video"]
    # 90 frames at the applicant (3 s) bound the call; a subscriber that joins just after a
    # keyframe gets the frames since it at once, so a participant's recording can be shorter.
    assert all(count >= 50 for count in video_frames.values()), video_frames
    events = [e["body"] for e in entries if e["kind"] == "event"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "recording_started"
    assert {"state": "live"}.items() <= next(
        e for e in events if e["type"] == "session_state"
    ).items()
    assert kinds[-1] == "recording_stopped"
    for participant in (notary.participant_id, applicant.participant_id):
        mine = [s for s in segments if s["participant"] == participant]
        assert sum(s["duration"] for s in mine) >= 2.0


async def test_no_recording_before_the_notary_starts(
    client: TestClient,
    links: dict[str, dict[str, Any]],
    clients,
) -> None:
    notary: CallClient = clients(links["notary"]["token"])
    applicant: CallClient = clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await asyncio.sleep(1.5)
    spool = client.app[PLATFORM].settings.data_dir / "spool"
    assert not spool.exists() or not any(spool.iterdir())


async def test_no_live_session_when_the_recording_cannot_start(
    client: TestClient, links: dict[str, dict[str, Any]], clients
) -> None:
    platform = client.app[PLATFORM]
    assert platform.recorder is not None
    blocker = platform.settings.data_dir / "not-a-directory"
    blocker.write_text("x")
    platform.recorder = replace(platform.recorder, spool_root=blocker)
    notary: CallClient = clients(links["notary"]["token"])
    await notary.connect()
    await notary.send({"type": "start", "ref": "go"})
    error = await notary.wait_for("error")
    assert (error["code"], error["ref"]) == ("recording_failed", "go")
    await notary.send({"type": "start"})  # still scheduled: the notary may try again
    assert (await notary.wait_for("error", timeout=5))["code"] == "recording_failed"
    assert not [e for e in notary.events if e["type"] == "session_state"]


def _sealed_locally(platform: Any) -> bool:
    return any((platform.settings.data_dir / "spool").glob("*/sealed/manifest.json"))
