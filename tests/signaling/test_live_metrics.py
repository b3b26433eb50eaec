"""signaling/live_metrics.py: /metrics shows the live sessions, where their media is forwarded,
their uploads and the event loop's lateness, read from a real call through the real server."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from media import core
from signaling.live_metrics import watch_lag
from tests.media.harness import wait_for
from tests.signaling.callclient import admit

pytestmark = pytest.mark.integration


async def _scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = await (await client.get("/metrics")).text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_call_is_seen_on_metrics_and_goes_when_it_ends(
    client: TestClient, links: dict, clients
) -> None:
    before = await _scrape(client)
    assert before[("notarylink_media_peers", ())] == 0
    assert sum(v for (name, _), v in before.items() if name == "notarylink_rooms") == 0

    notary = clients(links["notary"]["token"])
    applicant = clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await wait_for(
        lambda: (
            notary.frames_from(applicant.participant_id, "video") > 10
            and applicant.frames_from(notary.participant_id, "video") > 10
        ),
        20,
        "media both ways",
    )
    during = await _scrape(client)
    assert during[("notarylink_rooms", (("state", "scheduled"),))] == 1
    assert during[("notarylink_media_peers", ())] == 2
    # Each party's audio and video to the other: four forwarded tracks, in C where it is built.
    path = "core" if core.enabled() else "python"
    assert during[("notarylink_media_forwarders", (("path", path),))] == 4
    assert sum(v for (n, _), v in during.items() if n == "notarylink_media_forwarders") == 4
    assert during[("notarylink_recording_upload_pending_segments", ())] == 0
    assert during[("notarylink_event_loop_lag_seconds_count", ())] > 0
    packets = {
        labels[0][1]: value
        for (name, labels), value in during.items()
        if name == "notarylink_media_core_packets_total"
    }
    assert set(packets) == set(core.TOTALS)
    if core.enabled():
        assert packets["received"] > packets["rejected"] and packets["sent"] > 0
        assert packets["routed"] > 0 and packets["continued"] > 0

    await notary.send({"type": "end"})
    for _ in range(100):  # the hub closes every media connection of the ended session
        after = await _scrape(client)
        if after[("notarylink_media_peers", ())] == 0:
            break
        await asyncio.sleep(0.1)
    assert after[("notarylink_media_peers", ())] == 0
    assert sum(v for (n, _), v in after.items() if n == "notarylink_media_forwarders") == 0
    # The core's counts are the process's: the session's end takes nothing away.
    for what, count in packets.items():
        assert after[("notarylink_media_core_packets_total", (("what", what),))] >= count


async def test_the_lag_watch_measures_a_blocked_loop() -> None:
    histogram = Histogram("lag", "", buckets=(0.01, 0.05, 1.0), registry=CollectorRegistry())
    task = asyncio.create_task(watch_lag(histogram, interval=0.02))
    await asyncio.sleep(0.05)
    time.sleep(0.12)  # the loop held: the watch wakes this much late
    await asyncio.sleep(0.05)
    task.cancel()
    samples = {s.name: s.value for s in histogram.collect()[0].samples if not s.labels}
    assert samples["lag_count"] >= 2
    assert samples["lag_sum"] >= 0.09
