"""Exact per-endpoint figures, fed by Locust's request event: HDR histograms and failures by type.

Locust keeps response times rounded to about two significant digits (its p99 can exceed its max);
we keep every value in microseconds in an HdrHistogram with three significant digits, plus exact
min/max/sum. Pure Python, no Locust import, so it is testable anywhere. ``record`` runs for every
request of the run: keep it lean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from load_tests.metrics import Failure, is_facet, protocol_of

LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS = 1, 3_600_000_000, 3  # 1 µs .. 1 h at 0.1 % resolution
PERCENTILES = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9)


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def failure_type(exception: BaseException | str) -> str:
    """A short, stable name for grouping failures: our own messages as they are, else the class name.

    Locust's ``CatchResponseError`` carries the reason a user gave (``HTTP 500``, ``label mismatch``),
    and our ``Failure`` likewise; for anything else the message holds addresses and ids that would
    split one kind of failure into many rows, so the class name is used.
    """
    if isinstance(exception, str):
        return exception[:200]
    if isinstance(exception, Failure) or type(exception).__name__ == "CatchResponseError":
        return str(exception)[:200] or type(exception).__name__
    return type(exception).__name__


@dataclass
class EndpointRecord:
    """Everything we keep about one (request type, name) row."""

    request_type: str
    name: str
    histogram: HdrHistogram = field(default_factory=new_histogram)
    requests: int = 0
    failures: int = 0
    no_reply: int = 0  # reported with response_time=None: counted, not timed
    total_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None
    failures_by_type: dict[str, int] = field(default_factory=dict)
    messages: int = 0  # streams: messages received in all
    gaps: HdrHistogram | None = None  # streams: time between two messages
    window: HdrHistogram | None = None  # since the last per-endpoint timeline sample (reset, not reallocated)
    window_requests: int = 0
    window_failures: int = 0

    @property
    def protocol(self) -> str:
        return protocol_of(self.request_type)

    def add_stream(self, context: dict) -> None:
        self.messages += int(context.get("messages") or 0)
        gaps = context.get("gaps_ms")
        if gaps:
            if self.gaps is None:
                self.gaps = new_histogram()
            for gap in gaps:
                self.gaps.record_value(max(LOWEST_US, min(int(gap * 1000), HIGHEST_US)))

    def add(self, response_time_ms: float | None, exception: BaseException | str | None) -> None:
        self.requests += 1
        self.window_requests += 1
        if exception is not None:
            self.failures += 1
            self.window_failures += 1
            kind = failure_type(exception)
            self.failures_by_type[kind] = self.failures_by_type.get(kind, 0) + 1
        if response_time_ms is None:
            self.no_reply += 1
            return
        value = max(LOWEST_US, min(int(response_time_ms * 1000), HIGHEST_US))
        self.histogram.record_value(value)
        if self.window is None:
            self.window = new_histogram()
        self.window.record_value(value)
        self.total_ms += response_time_ms
        if self.min_ms is None or response_time_ms < self.min_ms:
            self.min_ms = response_time_ms
        if self.max_ms is None or response_time_ms > self.max_ms:
            self.max_ms = response_time_ms


class Recorder:
    """All rows of a run plus a window histogram that the timeline drains every sample."""

    def __init__(self) -> None:
        self.endpoints: dict[tuple[str, str], EndpointRecord] = {}
        self.window = new_histogram()
        self.window_requests = 0
        self.window_failures = 0

    def record(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int = 0,
        exception: BaseException | str | None = None,
        context: dict | None = None,
        **_: object,
    ) -> None:
        """Listener for Locust's ``request`` event (same keyword arguments)."""
        key = (request_type, name)
        entry = self.endpoints.get(key)
        if entry is None:
            entry = self.endpoints[key] = EndpointRecord(request_type, name)
        entry.add(response_time, exception)
        if context and "messages" in context:
            entry.add_stream(context)
        if is_facet(request_type):
            return  # the whole stream is reported too: count it once in the windows
        self.window_requests += 1
        if exception is not None:
            self.window_failures += 1
        if response_time is not None:
            self.window.record_value(max(LOWEST_US, min(int(response_time * 1000), HIGHEST_US)))

    def drain_endpoint_windows(self, span_s: float) -> dict[str, dict[str, float | None]]:
        """Per endpoint since the last call: RPS, failures/s, p50 and p95; then start new windows."""
        out: dict[str, dict[str, float | None]] = {}
        for (request_type, name), entry in self.endpoints.items():
            window = entry.window
            timed = window is not None and window.total_count > 0
            out[f"{request_type} {name}"] = {
                "rps": entry.window_requests / span_s,
                "failures_per_s": entry.window_failures / span_s,
                "p50_ms": window.get_value_at_percentile(50) / 1000.0 if timed else None,
                "p95_ms": window.get_value_at_percentile(95) / 1000.0 if timed else None,
            }
            entry.window_requests = entry.window_failures = 0
            if window is not None:
                window.reset()
        return out

    def drain_window(self) -> tuple[int, int, HdrHistogram]:
        """Requests, failures and the histogram since the last drain; starts a new window."""
        window = (self.window_requests, self.window_failures, self.window)
        self.window, self.window_requests, self.window_failures = new_histogram(), 0, 0
        return window
