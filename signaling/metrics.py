"""Prometheus metrics in a registry of the application's own (several apps can live in one test)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "notarylink_http_requests",
            "HTTP requests answered, by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "notarylink_http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        # How late the event loop wakes a task that asked to sleep (signaling/live_metrics.py).
        self.loop_lag = Histogram(
            "notarylink_event_loop_lag_seconds",
            "How much later than asked the event loop woke a sleeping task",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.ready = Gauge(
            "notarylink_dependency_ready",
            "1 when the dependency answered the last readiness check, else 0",
            ["dependency"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPE_LATEST
