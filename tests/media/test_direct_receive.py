"""Media packets reach the server's handlers on arrival, not through aiortc's receive queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from media import direct_receive
from tests.media.harness import Session, wait_for

pytestmark = pytest.mark.unit


async def test_srtp_skips_the_queue_and_everything_else_still_takes_it(
    session: Session, webm: Path
) -> None:
    player = session.player(webm)
    await session.join("applicant", [player.audio, player.video])
    peer = session.room.get("applicant")
    assert peer is not None
    (dtls,) = {t.receiver.transport for t in peer.pc.getTransceivers()}
    connection = dtls.transport._connection
    # The queue path: aioice's Connection.data_received (what the hook falls back to).
    queued: list[int] = []
    original = connection.data_received

    def counting(data: bytes, component: int) -> None:
        queued.append(data[0])
        original(data, component)

    connection.data_received = counting
    # Installing again hooks nothing more.
    assert direct_receive.install(dtls) == 0

    viewer = await session.join("notary", [], decode=False, tap=True)
    before = getattr(dtls, direct_receive.RX_PACKETS)
    await wait_for(
        lambda: sum(len(r.frames) for r in viewer.received_of("video")) >= 30,
        timeout=10,
        what="video at the viewer",
    )
    handled = getattr(dtls, direct_receive.RX_PACKETS) - before
    assert handled >= 30
    assert not [first for first in queued if 127 < first < 192], "SRTP went through the queue"
