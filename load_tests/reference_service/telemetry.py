"""What the target counts about itself, exported in Prometheus text format at ``GET /metrics``.

Tests compare these counters with the harness's own figures, so each call is counted exactly once,
when it arrives, under the same endpoint name the harness reports. Label children are cached: a
``labels()`` lookup per request would be the most expensive thing the target does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector, generate_latest


class Telemetry:
    """Counters and gauges of one target instance, in a registry of its own."""

    def __init__(self, db_pool_size: int = 20) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, process_resident_memory_bytes
        self._requests = Counter("target_requests", "Calls received", ["protocol", "endpoint"], registry=self.registry)
        self._errors = Counter(
            "target_errors", "Calls answered with an error", ["protocol", "endpoint", "kind"], registry=self.registry
        )
        self._in_flight = Gauge("target_in_flight", "Calls being served", ["protocol"], registry=self.registry)
        self._open = Gauge("target_connections_open", "Open connections", ["protocol"], registry=self.registry)
        self._connections = Counter("target_connections", "Connections accepted", ["protocol"], registry=self.registry)
        self._dropped = Counter(
            "target_connections_dropped",
            "Connections dropped on purpose (faults)",
            ["protocol"],
            registry=self.registry,
        )
        self._wire_faults = Counter(
            "target_wire_faults",
            "Replies cut short (malformed) and connections reset, on purpose (faults)",
            ["protocol", "kind"],
            registry=self.registry,
        )
        self._messages = Counter(
            "target_stream_messages", "Messages sent inside streams", ["protocol", "endpoint"], registry=self.registry
        )
        self._rows = Counter(
            "target_rows", "Data rows received in accepted bodies", ["protocol", "endpoint"], registry=self.registry
        )
        self._distinct_rows = Gauge(
            "target_distinct_rows",
            "Distinct data rows received (by a hash of the row's canonical JSON)",
            ["protocol", "endpoint"],
            registry=self.registry,
        )
        self._seen_rows: dict[tuple[str, str], set[bytes]] = {}
        self.db_pool_size = Gauge("target_db_pool_size", "Simulated DB pool size", registry=self.registry)
        self.db_pool_in_use = Gauge("target_db_pool_in_use", "Simulated DB connections in use", registry=self.registry)
        self.db_pool_size.set(db_pool_size)
        self._db_pool = asyncio.Semaphore(db_pool_size)
        self._children: dict[tuple[str, ...], object] = {}
        # When the first and the last call arrived (epoch): the service's own traffic window, the truth
        # that tests hold the harness's rates against. Plain floats here, gauges only when scraped.
        self.first_request: float | None = None
        self.last_request: float | None = None
        self._first_gauge = Gauge("target_first_request_timestamp_seconds", "When the first call arrived (epoch)",
                                  registry=self.registry)  # fmt: skip
        self._last_gauge = Gauge("target_last_request_timestamp_seconds", "When the last call arrived (epoch)",
                                 registry=self.registry)  # fmt: skip

    def _child(self, metric: Counter | Gauge, *labels: str):  # type: ignore[no-untyped-def]
        key = (metric._name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request(self, protocol: str, endpoint: str) -> None:
        self._child(self._requests, protocol, endpoint).inc()
        now = time.time()
        if self.first_request is None:
            self.first_request = now
        self.last_request = now

    def error(self, protocol: str, endpoint: str, kind: str) -> None:
        self._child(self._errors, protocol, endpoint, kind).inc()

    def stream_messages(self, protocol: str, endpoint: str, count: int = 1) -> None:
        self._child(self._messages, protocol, endpoint).inc(count)

    def rows(self, protocol: str, endpoint: str, fingerprints: list[bytes]) -> None:
        """Count the rows of one body, and remember their fingerprints: rows == distinct proves no repeats."""
        seen = self._seen_rows.setdefault((protocol, endpoint), set())
        seen.update(fingerprints)
        self._child(self._rows, protocol, endpoint).inc(len(fingerprints))
        self._child(self._distinct_rows, protocol, endpoint).set(len(seen))

    def connection_opened(self, protocol: str) -> None:
        self._child(self._connections, protocol).inc()
        self._child(self._open, protocol).inc()

    def connection_closed(self, protocol: str) -> None:
        self._child(self._open, protocol).dec()

    def connection_dropped(self, protocol: str) -> None:
        self._child(self._dropped, protocol).inc()

    def wire_fault(self, protocol: str, kind: str) -> None:
        """``kind``: ``malformed`` or ``reset``."""
        self._child(self._wire_faults, protocol, kind).inc()

    @asynccontextmanager
    async def in_flight(self, protocol: str) -> AsyncIterator[None]:
        gauge = self._child(self._in_flight, protocol)
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    @asynccontextmanager
    async def db_connection(self) -> AsyncIterator[None]:
        """Hold one connection of the simulated pool; callers queue when it is exhausted."""
        async with self._db_pool:
            self.db_pool_in_use.inc()
            try:
                yield
            finally:
                self.db_pool_in_use.dec()

    def exposition(self) -> bytes:
        if self.first_request is not None and self.last_request is not None:
            self._first_gauge.set(self.first_request)
            self._last_gauge.set(self.last_request)
        return generate_latest(self.registry)
