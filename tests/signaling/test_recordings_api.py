"""Playback of a recorded session through the real server: a real call is recorded into the S3
server, then the notary who ran it (and a supervisor of the office) read it back: participants,
segments, timeline, the verifier's verdict, and each participant's segments joined into one file
that decodes and answers Range requests. Everyone else is turned away, and media tokens are
bound, short-lived and never logged."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from notary.accounts import create_account, ensure_office
from notary.roles import Role
from recorder.store_source import StoreSource
from signaling import recordings_api
from signaling.appkeys import PLATFORM
from signaling.ratelimit import RateLimiter
from signaling.tokens import TokenSigner
from tests.media.harness import wait_for
from tests.signaling.callclient import CallClient, admit
from tests.signaling.conftest import PASSWORD

pytestmark = pytest.mark.integration

Login = Callable[[Role, str], Awaitable[str]]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: TestClient, name: str) -> dict[str, Any]:
    response = await client.post("/api/auth/login", json={"login": name, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def record_a_call(
    client: TestClient, links: dict[str, dict[str, Any]], clients: Any, notary_token: str
) -> tuple[str, CallClient, CallClient]:
    """Admit, start, about three seconds of media both ways, end, wait for the seal. On the way,
    while the session is live, its recording is not sealed and has no playback yet."""
    platform = client.app[PLATFORM]
    notary: CallClient = clients(links["notary"]["token"])
    applicant: CallClient = clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await notary.send({"type": "start"})
    await applicant.wait_for("session_state")
    spool = platform.settings.data_dir / "spool"
    await wait_for(lambda: spool.is_dir() and any(spool.iterdir()), 10, "the recording")
    session_id = next(iter(spool.iterdir())).name
    await wait_for(
        lambda: applicant.frames_from(notary.participant_id, "video") >= 90, 30, "three seconds"
    )

    live = await client.get(f"/api/recordings/{session_id}", headers=bearer(notary_token))
    assert live.status == 200, await live.text()
    body = await live.json()
    assert body["sealed"] is False and body["participants"] == []
    assert body["verdict"]["ok"] is False
    early = await client.get(
        f"/api/recordings/{session_id}/playback/{notary.participant_id}",
        headers=bearer(notary_token),
    )
    assert early.status == 409
    assert (await early.json())["error"]["code"] == "not_sealed"

    await notary.send({"type": "end"})
    await wait_for(lambda: any(e.get("state") == "ended" for e in applicant.events), 15, "the end")
    # The seal is written locally first, then uploaded (pending_seals tracks that part).
    await wait_for(lambda: _sealed_locally(platform), 30, "the seal")
    await platform.wait_for_seals()
    return session_id, notary, applicant


async def test_the_notary_plays_back_a_recorded_session(
    client: TestClient,
    links: dict[str, dict[str, Any]],
    clients: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    platform = client.app[PLATFORM]
    platform.login_limiter = RateLimiter(rate=100, burst=100)  # several logins from one address
    caplog.set_level(logging.INFO, logger="notarylink.access")
    notary_login = await login(client, "li@example.org")
    token = notary_login["token"]
    office_id = notary_login["account"]["office_id"]
    session_id, notary, applicant = await record_a_call(client, links, clients, token)
    people = {notary.participant_id, applicant.participant_id}

    # The index and the sealed manifest name the office and the notary.
    source = StoreSource.for_session(platform.store, platform.settings.evidence_bucket, session_id)
    manifest = json.loads(source.read("manifest.json") or b"{}")
    assert manifest["session"]["office_id"] == office_id
    assert manifest["session"]["created_by"] == notary_login["account"]["id"]

    # --- the recording, as the notary sees it ---------------------------------------------
    response = await client.get(f"/api/recordings/{session_id}", headers=bearer(token))
    assert response.status == 200, await response.text()
    recording = await response.json()
    assert recording["sealed"] is True
    assert recording["verdict"]["ok"] is True, recording["verdict"]
    assert {c["name"] for c in recording["verdict"]["checks"]} >= {"signature", "segments"}
    assert "pinned platform key" in next(
        c["message"] for c in recording["verdict"]["checks"] if c["name"] == "signature"
    )
    session = recording["session"]
    assert (session["id"], session["case_ref"], session["title"]) == (session_id, "C-1", "视频询问")
    # The call lasts until the applicant saw 90 frames (3 s); a subscriber that joins just
    # after a keyframe gets the frames since it at once, so the recording may be a bit shorter.
    assert session["duration"] >= 2.5
    by_id = {p["id"]: p for p in recording["participants"]}
    assert set(by_id) == people
    assert by_id[applicant.participant_id]["name"] == "张三"
    for person in by_id.values():
        assert person["segments"], person
        assert [s["seq"] for s in person["segments"]] == list(range(len(person["segments"])))
        assert set(person["segments"][0]) == {"seq", "start", "end", "duration", "file"}
        assert 0 <= person["start_offset"] < session["duration"]
        assert person["duration"] >= 2
        assert person["playback_url"].startswith(
            f"/api/recordings/{session_id}/playback/{person['id']}?t="
        )
    events = recording["events"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "recording_started" and kinds[-1] == "recording_stopped"
    assert "session_state" in kinds
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert all(0 <= e["offset"] <= session["duration"] + 1 for e in events)
    recorded = [e for e in events if e["type"] == "participant_recorded"]
    assert {e["participant"] for e in recorded} == people

    # --- the joined files: whole, decodable, seekable -------------------------------------
    for person in by_id.values():
        media = await client.get(person["playback_url"])
        assert media.status == 200, await media.text()
        assert media.headers["Content-Type"] == "video/webm"
        assert media.headers["Accept-Ranges"] == "bytes"
        data = await media.read()
        assert len(data) == int(media.headers["Content-Length"]) > 10_000
        path = tmp_path / f"{person['id']}.webm"
        path.write_bytes(data)
        frames = {"audio": 0, "video": 0}
        with av.open(str(path)) as container:
            for packet in container.demux():
                if packet.size:
                    frames[packet.stream.type] += len(packet.decode())
        # About 2.5-3 s of a participant's video (see the duration above): 60-90 frames.
        assert frames["video"] >= 50 and frames["audio"] > 0, frames
        partial = await client.get(person["playback_url"], headers={"Range": "bytes=1000-1999"})
        assert partial.status == 206
        assert partial.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
        assert await partial.read() == data[1000:2000]
        tail = await client.get(person["playback_url"], headers={"Range": "bytes=-500"})
        assert tail.status == 206 and await tail.read() == data[-500:]
        # The bearer token works too (a download outside a video element).
        direct = f"/api/recordings/{session_id}/playback/{person['id']}"
        assert (await client.get(direct, headers=bearer(token))).status == 200
    cache = platform.settings.data_dir / "playback-cache" / session_id
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{pid}.webm" for pid in people)

    # --- one build per file, however many viewers ask at once -----------------------------
    for cached in cache.iterdir():
        cached.unlink()
    builds: list[Path] = []
    real_fetch = recordings_api.fetch_parts

    def counting_fetch(source: Any, segments: Any, workdir: Path) -> Any:
        builds.append(workdir)
        return real_fetch(source, segments, workdir)

    monkeypatch.setattr(recordings_api, "fetch_parts", counting_fetch)
    url = by_id[applicant.participant_id]["playback_url"]
    answers = await asyncio.gather(*(client.get(url) for _ in range(4)))
    assert [a.status for a in answers] == [200] * 4
    bodies = {await a.read() for a in answers}
    assert len(bodies) == 1 and len(next(iter(bodies))) > 10_000
    assert len(builds) == 1, builds
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temp left behind

    # --- a supervisor of the office sees it too --------------------------------------------
    supervisor = await _login_as(client, Role.SUPERVISOR, "sup@example.org", "TEST")
    seen = await client.get(f"/api/recordings/{session_id}", headers=bearer(supervisor))
    assert seen.status == 200 and (await seen.json())["verdict"]["ok"] is True

    # --- everyone else is turned away -------------------------------------------------------
    other_notary = await _login_as(client, Role.NOTARY, "wang@example.org", "TEST")
    other_office = await _login_as(client, Role.SUPERVISOR, "sup@other.example.org", "OTHER")
    applicant_token = await _login_as(client, Role.APPLICANT, "zhang@example.org", None)
    recording_path = f"/api/recordings/{session_id}"
    media_path = f"{recording_path}/playback/{notary.participant_id}"
    for path in (recording_path, media_path):
        for who in (other_notary, other_office):
            refused = await client.get(path, headers=bearer(who))
            assert refused.status == 404, path
            assert (await refused.json())["error"]["code"] == "recording_not_found"
        assert (await client.get(path, headers=bearer(applicant_token))).status == 403
        anonymous = await client.get(path)
        assert anonymous.status == 401
        assert (await anonymous.json())["error"]["code"] == "unauthorized"
    missing = await client.get(f"/api/recordings/r-{uuid.uuid4().hex[:16]}", headers=bearer(token))
    assert missing.status == 404

    # --- media tokens: bound, short-lived, unforgeable ------------------------------------
    signer = platform.tokens
    expired = signer.issue_media("x", session_id, notary.participant_id, ttl=-120)
    forged = TokenSigner("another secret, at least 32 bytes long!").issue_media(
        notary_login["account"]["id"], session_id, notary.participant_id, ttl=600
    )
    for_other = signer.issue_media("x", session_id, applicant.participant_id, ttl=600)
    for bad, code in (
        (expired, "token_expired"),
        (forged, "token_invalid"),
        (for_other, "token_invalid"),  # another participant's token
        (token, "token_invalid"),  # a session token is not a media token
        ("not-a-jwt", "token_invalid"),
    ):
        answer = await client.get(media_path, params={"t": bad})
        assert answer.status == 401, bad
        assert (await answer.json())["error"]["code"] == code
    # ... and a media token is not a session token.
    media_token = by_id[notary.participant_id]["playback_url"].split("?t=", 1)[1]
    assert (await client.get(recording_path, headers=bearer(media_token))).status == 401

    # --- ids are names, never paths ---------------------------------------------------------
    for bad_path in (
        f"/api/recordings/{session_id}/playback/..",
        f"/api/recordings/{session_id}/playback/.hidden",
        f"/api/recordings/{session_id}/playback/..%2F..%2Fspool",
        f"/api/recordings/{session_id}/playback/a%00b",
        "/api/recordings/..%2F..%2Fetc/playback/passwd",
        "/api/recordings/%2E%2E",
    ):
        # Sent as written: the client would resolve dot segments before sending.
        raw = URL(str(client.make_url("/")).rstrip("/") + bad_path, encoded=True)
        answer = await client.session.get(raw, headers=bearer(token))
        assert answer.status in (400, 404), (bad_path, answer.status)
        assert "error" in await answer.json()
    assert (
        not (platform.settings.data_dir / "playback-cache" / "..").resolve().is_relative_to(cache)
    )

    # --- nothing secret in the access log ----------------------------------------------------
    logged = [r.getMessage() for r in caplog.records if r.name == "notarylink.access"]
    assert any(f"/playback/{notary.participant_id}" in line for line in logged)
    assert not [line for line in logged if "?" in line or media_token in line]


async def _login_as(client: TestClient, role: Role, name: str, office_code: str | None) -> str:
    async with client.app[PLATFORM].engine.begin() as conn:
        office = (
            await ensure_office(conn, office_code, "测试公证处", "Test Office", "Asia/Shanghai")
            if office_code
            else None
        )
        await create_account(
            conn,
            role=role,
            display_name=name.split("@")[0],
            login=name,
            password=PASSWORD,
            office_id=office,
        )
    return str((await login(client, name))["token"])


@pytest.mark.unit
def test_media_tokens_are_bound_to_a_session_and_a_participant() -> None:
    signer = TokenSigner("x" * 40)
    token = signer.issue_media("acc-1", "r-1", "p-1", ttl=600)
    claims = signer.verify_media(token, "r-1", "p-1")
    assert (claims.account_id, claims.session_id, claims.participant_id) == ("acc-1", "r-1", "p-1")
    for session_id, participant_id in (("r-2", "p-1"), ("r-1", "p-2")):
        with pytest.raises(Exception, match="another recording"):
            signer.verify_media(token, session_id, participant_id)
    with pytest.raises(Exception, match="not valid"):
        signer.verify_session(token)
    with pytest.raises(Exception, match="not valid"):
        signer.verify_join(token)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("r-1a2b3c4d5e6f7a8b", True),
        ("p-abc_DEF.1", True),
        ("..", False),
        (".hidden", False),
        ("a/b", False),
        ("a\\b", False),
        ("", False),
        ("a" * 129, False),
        ("名字", False),
    ],
)
def test_ids_are_plain_names(value: str, ok: bool) -> None:
    assert bool(recordings_api.ID_PATTERN.fullmatch(value)) is ok


def _sealed_locally(platform: Any) -> bool:
    return any((platform.settings.data_dir / "spool").glob("*/sealed/manifest.json"))
