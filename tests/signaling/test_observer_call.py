"""An observer (e.g. a supervisor) through the real server: watches everyone, publishes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCSessionDescription

from notary.roles import Role
from tests.media.harness import wait_for
from tests.signaling.callclient import CallClient, admit

pytestmark = pytest.mark.integration

Login = Callable[[Role, str], Awaitable[str]]
FRAMES = 15


@pytest.fixture
async def observed_room(client: TestClient, login_token: Login) -> dict[str, dict[str, Any]]:
    token = await login_token(Role.NOTARY, "zhou@example.org")
    response = await client.post(
        "/api/rooms",
        json={
            "title": "督导旁听",
            "case_ref": "C-OBS",
            "participants": [
                {"role": "applicant", "name": "张三"},
                {"role": "observer", "name": "督导 李"},
            ],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201
    return {link["role"]: link for link in (await response.json())["links"]}


@pytest.fixture
async def observer(
    client: TestClient, observed_room: dict[str, dict[str, Any]], loopback_ice: None
) -> AsyncIterator[CallClient]:
    call = CallClient(client, observed_room["observer"]["token"], tracks=[])
    yield call
    await call.close()


async def test_observer_sees_whoever_publishes_later_and_sends_nothing(
    observed_room: dict[str, dict[str, Any]],
    clients: Callable[[str], CallClient],
    observer: CallClient,
) -> None:
    notary = clients(observed_room["notary"]["token"])
    applicant = clients(observed_room["applicant"]["token"])
    await notary.connect()
    await observer.connect()
    # Admitted while only the notary publishes: the observer receives the notary alone.
    await admit(notary, observer)
    await wait_for(
        lambda: observer.frames_from(notary.participant_id, "video") >= FRAMES, 20, "notary seen"
    )
    # The applicant arrives later: the server renegotiates and the observer receives them too.
    await applicant.connect()
    await admit(notary, applicant)
    await wait_for(
        lambda: all(
            observer.frames_from(applicant.participant_id, kind) >= FRAMES
            for kind in ("video", "audio")
        ),
        20,
        "applicant seen and heard by the observer",
    )
    # Nobody receives anything from the observer: it has no m-line of its own anywhere.
    for call in (notary, applicant):
        assert call.frames_from(observer.participant_id, "video") == 0
        assert call.frames_from(observer.participant_id, "audio") == 0


async def test_an_observer_offering_to_send_is_refused(
    observed_room: dict[str, dict[str, Any]],
    clients: Callable[[str], CallClient],
    observer: CallClient,
) -> None:
    notary = clients(observed_room["notary"]["token"])
    await notary.connect()
    await observer.connect()
    await admit(notary, observer)
    await observer.wait_for("answer", timeout=15)  # its own receive-only offer went through
    # Now it tries to publish a camera: the server refuses the offer and says why.
    sender = clients(observed_room["notary"]["token"])  # only borrowed for its camera tracks
    for track in sender.tracks:
        observer.pc.addTrack(track)
    await observer.pc.setLocalDescription(await observer.pc.createOffer())
    await observer.send({"type": "offer", "sdp": observer.pc.localDescription.sdp})
    error = await observer.wait_for("error", timeout=10)
    assert error["code"] == "forbidden"
    # The room keeps working for everyone: the notary's media still reaches the observer.
    await observer.pc.setLocalDescription(RTCSessionDescription("", "rollback"))
    before = observer.frames_from(notary.participant_id, "video")
    await wait_for(
        lambda: observer.frames_from(notary.participant_id, "video") >= before + FRAMES,
        20,
        "media still flows after the refusal",
    )
