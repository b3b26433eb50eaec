"""Real calls through the real server: aiortc clients join by link, are admitted, and see and
hear each other; leave and rejoin; a dropped connection that comes back within the grace period."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from notary.roles import Role
from signaling.appkeys import HUBS
from tests.media.harness import wait_for
from tests.signaling.callclient import CallClient, admit

pytestmark = pytest.mark.integration

Login = Callable[[Role, str], Awaitable[str]]
FRAMES = 20  # video frames each must decode from each other (two thirds of a second)


def _all_see_each_other(calls: list[CallClient], kinds: tuple[str, ...] = ("video", "audio")):
    def check() -> bool:
        return all(
            other.frames_from(call.participant_id, kind) >= FRAMES
            for call in calls
            for other in calls
            if other is not call
            for kind in kinds
        )

    return check


async def test_two_parties_see_and_hear_each_other(links: dict, clients) -> None:
    notary = clients(links["notary"]["token"])
    applicant = clients(links["applicant"]["token"])
    await notary.connect()
    welcome = await applicant.connect()
    assert welcome["participant"]["presence"] == "preparing"  # the lobby comes after consent
    await admit(notary, applicant)
    await wait_for(_all_see_each_other([notary, applicant]), 20, "media both ways")
    # The notary is told about the applicant's network every few seconds.
    stats = await notary.wait_for("network", timeout=12)
    assert {"rtt_s", "inbound_loss", "inbound_bitrate_bps"} <= set(stats["stats"])


async def test_three_parties_with_a_consular_officer(links: dict, clients) -> None:
    notary = clients(links["notary"]["token"])
    applicant = clients(links["applicant"]["token"])
    officer = clients(links["site_officer"]["token"])
    await notary.connect()
    await applicant.connect()
    await officer.connect()
    await admit(notary, applicant)
    await admit(notary, officer)
    await wait_for(_all_see_each_other([notary, applicant, officer]), 30, "media among three")


async def test_leave_and_rejoin(links: dict, clients) -> None:
    notary = clients(links["notary"]["token"])
    applicant = clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await wait_for(_all_see_each_other([notary, applicant]), 20, "media before leaving")
    await applicant.send({"type": "leave"})
    await notary.wait_for("participant_left", about=applicant.participant_id)
    await applicant.close()

    again = clients(links["applicant"]["token"])
    welcome = await again.connect()
    assert welcome["participant"]["presence"] == "admitted"  # no second trip through the lobby
    before = notary.frames_from(again.participant_id, "video")
    await wait_for(
        lambda: (
            notary.frames_from(again.participant_id, "video") >= before + FRAMES
            and again.frames_from(notary.participant_id, "video") >= FRAMES
        ),
        20,
        "media after rejoining",
    )


async def test_dropped_connection_comes_back_within_grace(links: dict, clients) -> None:
    notary = clients(links["notary"]["token"])
    applicant = clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await wait_for(_all_see_each_other([notary, applicant]), 20, "media before the drop")
    await applicant.drop()
    event = await notary.wait_for("participant_reconnecting", about=applicant.participant_id)
    assert event["grace_seconds"] == 60
    await asyncio.sleep(0.5)

    back = clients(links["applicant"]["token"])
    await back.connect()
    await notary.wait_for("participant_back", about=back.participant_id)
    before = notary.frames_from(back.participant_id, "video")
    await wait_for(
        lambda: (
            notary.frames_from(back.participant_id, "video") >= before + FRAMES
            and back.frames_from(notary.participant_id, "video") >= FRAMES
            and back.frames_from(notary.participant_id, "audio") >= FRAMES
        ),
        20,
        "media after coming back",
    )


async def test_a_failed_media_connection_is_rebuilt_and_media_flows_again(
    client: TestClient, links: dict, clients
) -> None:
    notary = clients(links["notary"]["token"])
    applicant = clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await wait_for(_all_see_each_other([notary, applicant]), 20, "media before the failure")
    (hub,) = client.app[HUBS].values()
    peer = hub.media.get(applicant.participant_id)
    await peer.pc.close()  # as when ICE consent is lost: the server side of the link is gone
    await wait_for(
        lambda: sum(e["type"] == "admitted" for e in applicant.events) == 2, 10, "a new admission"
    )
    before = notary.frames_from(applicant.participant_id, "video")
    await wait_for(
        lambda: (
            notary.frames_from(applicant.participant_id, "video") >= before + FRAMES
            and applicant.frames_from(notary.participant_id, "video") >= 2 * FRAMES
        ),
        20,
        "media after the rebuild",
    )
