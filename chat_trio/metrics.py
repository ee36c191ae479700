"""Prometheus metrics, in a registry of the server's own (no process-wide globals).

Counters are bumped where things happen (the intake, the store writer, the HTTP
layer); what the hub already counts is read at scrape time by a collector, so
the hub's hot loop carries no metric calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from chat_trio.bus.base import BusStatistics
from chat_trio.hub import HubStatistics

#: The exposition format's content type.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class _HubCollector(Collector):
    def __init__(self, statistics: Callable[[], HubStatistics]) -> None:
        self._statistics = statistics

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self._statistics()
        yield GaugeMetricFamily(
            "chat_trio_sessions_open", "Live WebSocket sessions.", value=stats.sessions
        )
        yield GaugeMetricFamily(
            "chat_trio_users_online", "Users with at least one live session.",
            value=stats.users_online,
        )
        yield CounterMetricFamily(
            "chat_trio_messages_delivered", "Frames handed to sessions by the hub.",
            value=stats.deliveries,
        )
        yield CounterMetricFamily(
            "chat_trio_deliveries_refused",
            "Frames the hub could not hand over (session closing, or cut off as slow).",
            value=stats.refused,
        )


class _BusCollector(Collector):
    def __init__(self, statistics: Callable[[], BusStatistics]) -> None:
        self._statistics = statistics

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        stats = self._statistics()
        yield GaugeMetricFamily(
            "chat_trio_bus_connected", "1 while the bus reaches its engine (always, in memory).",
            value=int(stats.connected),
        )
        yield GaugeMetricFamily(
            "chat_trio_bus_nodes", "Live nodes this node knows of, itself included.",
            value=stats.nodes,
        )
        yield CounterMetricFamily(
            "chat_trio_bus_published", "Messages handed to the bus for other nodes.",
            value=stats.published,
        )
        yield CounterMetricFamily(
            "chat_trio_bus_received", "Messages other nodes sent to this one.",
            value=stats.received,
        )
        yield CounterMetricFamily(
            "chat_trio_bus_dropped",
            "Messages for other nodes dropped from a full queue while the bus was down.",
            value=stats.dropped,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "chat_trio_http_requests", "HTTP requests by route and status.",
            ["route", "method", "status"], registry=r,
        )
        self.messages_received = Counter(
            "chat_trio_messages_received", "Frames accepted from clients, by kind.",
            ["kind"], registry=r,
        )
        self.messages_refused = Counter(
            "chat_trio_messages_refused", "Frames refused with an error frame, by code.",
            ["code"], registry=r,
        )
        self.messages_stored = Counter(
            "chat_trio_messages_stored", "Chat messages stored, by content type.",
            ["content_type"], registry=r,
        )
        self.store_batch_size = Histogram(
            "chat_trio_store_batch_size", "Messages per stored batch.",
            buckets=_BATCH_BUCKETS, registry=r,
        )
        self.store_batch_seconds = Histogram(
            "chat_trio_store_batch_seconds", "Time to store one batch.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )
        self.store_failures = Counter(
            "chat_trio_store_failures", "Batches the database failed to store.", registry=r,
        )
        self.slow_consumer_disconnects = Counter(
            "chat_trio_slow_consumer_disconnects",
            "Sessions closed because their outbox was full (close code 1013).", registry=r,
        )
        self.delivery_latency = Histogram(
            "chat_trio_delivery_latency_seconds",
            "From a chat message's arrival to its hand-over to the hub, stored.",
            buckets=_LATENCY_BUCKETS, registry=r,
        )

    def watch_hub(self, statistics: Callable[[], HubStatistics]) -> None:
        self.registry.register(_HubCollector(statistics))

    def watch_bus(self, statistics: Callable[[], BusStatistics]) -> None:
        self.registry.register(_BusCollector(statistics))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
