"""What an operator watches on /metrics besides HTTP: the live sessions, where their media is
forwarded, their recordings' uploads, how late the event loop runs, and the C core's packets.

The session figures are read from the live hubs when Prometheus scrapes (a custom collector),
so nothing is counted twice and nothing is kept for a session that has gone; the C core's
packet counters are the process's own totals (media/_core.c), which no session's end resets.
A forwarder in Python rather than in the C core (media/core.py) costs about ten times the CPU
per packet: a rising `python` count is the first sign of a server that will not hold its
sessions. An upload backlog that only grows means the object store is not taking the evidence
(it stays in the spool, nothing is lost). The loop's lateness is what every packet and
request waits on. Send failures are loss the server caused (a subscriber's socket buffer
full); SRTP rejections are packets that were not the publisher's, or replays.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from aiohttp import web
from prometheus_client import Histogram
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from media import core
from signaling.appkeys import HUBS, PLATFORM
from signaling.hub import SessionHub
from signaling.rooms import SessionState

LAG_INTERVAL_S = 0.25


class LiveCollector(Collector):
    """The live sessions' figures, read at each scrape from `hubs`."""

    def __init__(self, hubs: Callable[[], Iterable[SessionHub]]) -> None:
        self.hubs = hubs

    def collect(self) -> Iterator[Metric]:
        rooms = GaugeMetricFamily(
            "notarylink_rooms", "Sessions with a hub in this process, by state", labels=["state"]
        )
        peers = GaugeMetricFamily("notarylink_media_peers", "Open media connections")
        forwarders = GaugeMetricFamily(
            "notarylink_media_forwarders",
            "Tracks forwarded to a subscriber, by where: the C core or Python",
            labels=["path"],
        )
        pending = GaugeMetricFamily(
            "notarylink_recording_upload_pending_segments",
            "Closed segments waiting in the spool to be uploaded",
        )
        queued = GaugeMetricFamily(
            "notarylink_recording_upload_queued_bytes", "Bytes of those segments"
        )
        by_state = dict.fromkeys(SessionState, 0)
        counts = {"peers": 0, "core": 0, "python": 0, "pending": 0, "queued": 0}
        for hub in list(self.hubs()):
            by_state[hub.room.state] += 1
            for peer in hub.media.peers:
                if peer.closed:
                    continue
                counts["peers"] += 1
                for publication in peer.publications:
                    for forwarder in publication.forwarders:
                        counts["core" if getattr(forwarder, "in_core", False) else "python"] += 1
            recorder = hub.recorder
            if recorder is not None:
                counts["pending"] += recorder.uploader.pending
                counts["queued"] += recorder.uploader.queued_bytes
        for state, count in by_state.items():
            rooms.add_metric([state.value], count)
        peers.add_metric([], counts["peers"])
        forwarders.add_metric(["core"], counts["core"])
        forwarders.add_metric(["python"], counts["python"])
        pending.add_metric([], counts["pending"])
        queued.add_metric([], counts["queued"])
        yield from (rooms, peers, forwarders, pending, queued)
        yield _core_packets()


async def watch_lag(histogram: Histogram, interval: float = LAG_INTERVAL_S) -> None:
    """Observe how much later than asked the loop wakes this task, forever."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(interval)
        histogram.observe(max(0.0, loop.time() - asked - interval))


async def background(app: web.Application) -> AsyncIterator[None]:
    """For app.cleanup_ctx: this app's hubs in its platform's registry, and the lag watch."""
    metrics = app[PLATFORM].metrics
    collector = LiveCollector(lambda: app[HUBS].values())
    metrics.registry.register(collector)
    task = asyncio.create_task(watch_lag(metrics.loop_lag), name="loop-lag")
    yield
    task.cancel()
    metrics.registry.unregister(collector)


def _core_packets() -> Metric:
    packets = CounterMetricFamily(
        "notarylink_media_core_packets",
        "RTP packets through the C core since the process started: received (and of them "
        "rejected by SRTP, routed to subscribers, handled without Python), sent to "
        "subscribers, and send failures (a full or closed socket: loss)",
        labels=["what"],
    )
    for what, count in core.totals().items():
        packets.add_metric([what], count)
    return packets
