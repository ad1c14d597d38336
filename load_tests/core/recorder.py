"""Exact per-endpoint figures, fed by Locust's request event: HDR histograms and failures by type.

Locust keeps response times rounded to about two significant digits (its p99 can exceed its max);
we keep every value in microseconds in an HdrHistogram with three significant digits, plus exact
min/max/sum. Pure Python, no Locust import, so it is testable anywhere. ``record`` runs for every
request of the run: keep it lean.

Time series are kept in windows keyed by *wall-clock* time (the epoch second for the whole run, the
epoch 5-second bucket per endpoint), not by when a sampler happened to look. That is what lets a
Locust master merge the windows its workers ship every few seconds into the same seconds the
workers measured them in: a window that arrives late just merges into its own second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from hdrh.histogram import HdrHistogram

from load_tests.core.hdr_fast import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS, bump, index_of, record_all
from load_tests.core.llm_metrics import Slo
from load_tests.core.llm_record import LlmRecord, spread_over_seconds
from load_tests.core.request_types import Failure, counts_as_request, protocol_of
from load_tests.core.window import Window, summed, window_index

ENDPOINT_BUCKET_S = 5  # per-endpoint windows: enough for charts, cheap
BATCH = 64  # requests noted before they are counted (Recorder.record)
PERCENTILES = (50.0, 75.0, 90.0, 95.0, 99.0, 99.9)
T = TypeVar("T")


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def merge_by_key(mine: dict[Any, Any], theirs: dict[Any, Any]) -> None:
    """Merge ``theirs`` into ``mine`` key by key (values have ``merge``); new keys are taken over."""
    for key, value in theirs.items():
        existing = mine.get(key)
        if existing is None:
            mine[key] = value
        else:
            existing.merge(value)


def to_us(ms: float) -> int:
    return max(LOWEST_US, min(int(ms * 1000), HIGHEST_US))


exact_index = index_of(new_histogram())


TIMEOUT_CLASSES = frozenset({"Timeout", "ConnectionTimeout", "ReadTimeout", "ConnectTimeout"})


def failure_type(exception: BaseException | str) -> str:
    """A short, stable name for grouping failures: our own messages as they are, else the class name.

    Locust's ``CatchResponseError`` carries the reason a user gave (``HTTP 500``, ``label mismatch``),
    and our ``Failure`` likewise; for anything else the message holds addresses and ids that would
    split one kind of failure into many rows, so the class name is used. Timeouts of any client
    are ``timeout``.
    """
    if isinstance(exception, str):
        return exception[:200]
    if isinstance(exception, Failure) or type(exception).__name__ == "CatchResponseError":
        return str(exception)[:200] or type(exception).__name__
    original = getattr(exception, "original", None)  # geventhttpclient's RetriesExceeded wraps the cause
    if type(exception).__name__ == "RetriesExceeded" and isinstance(original, BaseException):
        exception = original
    if isinstance(exception, TimeoutError) or type(exception).__name__ in TIMEOUT_CLASSES:
        return "timeout"  # the word the WebSocket and Socket.IO clients use, so one kind reads alike
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
    windows: dict[int, Window] = field(default_factory=dict)  # epoch // ENDPOINT_BUCKET_S -> window
    corrected: HdrHistogram | None = None  # paced load: from the intended start of the iteration to the reply
    llm: LlmRecord | None = None  # token streams: TTFT, ITL, TPOT... (core/llm_record.py)

    @property
    def key(self) -> str:
        return f"{self.request_type} {self.name}"

    @property
    def protocol(self) -> str:
        return protocol_of(self.request_type)

    def add_stream(self, context: dict, failed: bool = False, slo: Slo | None = None) -> None:
        self.messages += int(context.get("messages") or 0)
        gaps = context.get("gaps_ms")
        if gaps:
            if self.gaps is None:
                self.gaps = new_histogram()
            record_all(self.gaps, gaps)
        llm = context.get("llm")
        if llm is not None:  # a token stream (engine/request_hook.TokenTimer)
            if self.llm is None:
                self.llm = LlmRecord()
            self.llm.add(llm, failed, slo)

    def add(self, response_time_ms: float | None, exception: BaseException | str | None) -> int | None:
        """Count one request; returns its time in µs (None when it had no reply) for the windows."""
        self.requests += 1
        if exception is not None:
            self.failures += 1
            kind = failure_type(exception)
            self.failures_by_type[kind] = self.failures_by_type.get(kind, 0) + 1
        if response_time_ms is None:
            self.no_reply += 1
            return None
        value = int(response_time_ms * 1000)  # to_us and bump, inlined: this runs for every request
        value = LOWEST_US if value < LOWEST_US else HIGHEST_US if value > HIGHEST_US else value
        histogram = self.histogram
        histogram.counts[exact_index(value)] += 1
        histogram.total_count += 1
        if value < histogram.min_value:
            histogram.min_value = value
        if value > histogram.max_value:
            histogram.max_value = value
        self.total_ms += response_time_ms
        if self.min_ms is None or response_time_ms < self.min_ms:
            self.min_ms = response_time_ms
        if self.max_ms is None or response_time_ms > self.max_ms:
            self.max_ms = response_time_ms
        return value

    def merge(self, other: EndpointRecord) -> None:
        """Add ``other`` (the same row measured elsewhere or later): every figure stays exact."""
        self.histogram.add(other.histogram)
        self.add_figures(
            requests=other.requests, failures=other.failures, no_reply=other.no_reply, total_ms=other.total_ms,
            min_ms=other.min_ms, max_ms=other.max_ms, failures_by_type=other.failures_by_type,
            messages=other.messages, llm=other.llm,
        )  # fmt: skip
        self.gaps = summed(self.gaps, other.gaps)
        self.corrected = summed(self.corrected, other.corrected)
        merge_by_key(self.windows, other.windows)

    def add_figures(
        self, *, requests: int, failures: int, no_reply: int, total_ms: float, min_ms: float | None,
        max_ms: float | None, failures_by_type: dict[str, int], messages: int, llm: LlmRecord | None,
    ) -> None:  # fmt: skip
        """Add the counts, sums and extremes of the same row measured elsewhere (everything but the
        histograms and windows): shared by :meth:`merge` and the master's merge of a worker's delta
        straight from the wire (core/wire.py), so both stay exact the same way."""
        self.requests += requests
        self.failures += failures
        self.no_reply += no_reply
        self.total_ms += total_ms
        if min_ms is not None and (self.min_ms is None or min_ms < self.min_ms):
            self.min_ms = min_ms
        if max_ms is not None and (self.max_ms is None or max_ms > self.max_ms):
            self.max_ms = max_ms
        for kind, n in failures_by_type.items():
            self.failures_by_type[kind] = self.failures_by_type.get(kind, 0) + n
        self.messages += messages
        if llm is not None:
            if self.llm is None:
                self.llm = LlmRecord()
            self.llm.merge(llm)


class _Flushed(Generic[T]):
    """A recorder's figure, kept in ``_<name>``: reading or replacing it counts the pending requests first,
    so a reader is never behind :meth:`Recorder.record`'s batches."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, recorder: Recorder, owner: type | None = None) -> T:
        recorder.flush()
        return cast(T, getattr(recorder, self.slot))

    def __set__(self, recorder: Recorder, value: T) -> None:
        recorder.flush()
        setattr(recorder, self.slot, value)


class Recorder:
    """All rows of a run plus per-second windows of all requests, keyed by epoch second.

    It also keeps the traffic window: the epoch the first request was sent and the epoch the last one
    ended (requests only, see :func:`~load_tests.core.request_types.counts_as_request`), which every
    rate of the run divides by.
    """

    # Every figure is read and replaced through these, and each counts what is pending first (see flush)
    endpoints: _Flushed[dict[tuple[str, str], EndpointRecord]] = _Flushed()
    seconds: _Flushed[dict[int, Window]] = _Flushed()
    first_sent: _Flushed[float | None] = _Flushed()  # epoch
    last_ended: _Flushed[float | None] = _Flushed()

    def __init__(
        self, clock: Callable[[], float] = time.time, lateness: Callable[[], float | None] | None = None,
        include_connections: bool = False, llm_slo: Slo | None = None,
    ) -> None:  # fmt: skip
        self.clock = clock
        self.lateness = lateness  # paced load: the lateness (ms) of the calling iteration, for corrected times
        self.include_connections = include_connections  # count connects, pings and pushes as requests
        self.llm_slo = llm_slo  # the per-request SLO token streams are judged by (goodput)
        self._endpoints: dict[tuple[str, str], EndpointRecord] = {}
        self._seconds: dict[int, Window] = {}
        self._first_sent: float | None = None
        self._last_ended: float | None = None
        self._counted: dict[str, bool] = {}  # request type -> counts as a request (asked once per type)
        self._pending: list[tuple[Any, ...]] = []  # requests noted by record(), not yet counted (see flush)

    def counts(self, request_type: str) -> bool:
        return counts_as_request(request_type, self.include_connections)

    def note_traffic(self, first_sent: float | None, last_ended: float | None) -> None:
        """Widen the traffic window to take in ``first_sent``..``last_ended`` (epochs; None: nothing)."""
        if first_sent is not None and (self.first_sent is None or first_sent < self.first_sent):
            self.first_sent = first_sent
        if last_ended is not None and (self.last_ended is None or last_ended > self.last_ended):
            self.last_ended = last_ended

    def traffic_s(self) -> float:
        """Seconds from the first request sent to the last request ended (0 before any)."""
        if self.first_sent is None or self.last_ended is None:
            return 0.0
        return max(self.last_ended - self.first_sent, 0.0)

    def record(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int = 0,
        exception: BaseException | str | None = None,
        context: dict | None = None,
        response: object = None,  # the rest of Locust's arguments, named so no dict is built per call
        start_time: object = None,
        url: object = None,
        **_: object,
    ) -> None:
        """Listener for Locust's ``request`` event (same keyword arguments). Runs for every request, so it only
        notes the request (its clock reading and lateness taken now); :meth:`flush` counts ``BATCH`` at a time.

        Counted one by one between two requests' other work, with the histograms and windows cold in the CPU's
        caches, a request cost about 6 µs; counted in a batch, in one warm loop, about a third of that."""
        late = self.lateness() if self.lateness is not None and response_time is not None else None
        pending = self._pending
        pending.append((request_type, name, response_time, exception, context, self.clock(), late))
        if len(pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Count the requests noted so far (every reader of the figures calls this first)."""
        if self._pending:
            pending, self._pending = self._pending, []
            for request_type, name, response_time, exception, context, now, late in pending:
                self._count(request_type, name, response_time, exception, context, now, late)

    def _count(
        self, request_type: str, name: str, response_time: float | None, exception: BaseException | str | None,
        context: dict | None, now: float, late: float | None,
    ) -> None:  # fmt: skip
        """One request into its row, its row's 5-second window, the second's window and the traffic window."""
        entry = self._endpoints.get((request_type, name))
        if entry is None:
            entry = self._endpoints[(request_type, name)] = EndpointRecord(request_type, name)
        value = entry.add(response_time, exception)
        failed = exception is not None
        if late is not None and response_time is not None:
            self._correct(entry, response_time + late)
        if context and "messages" in context:
            entry.add_stream(context, failed, self.llm_slo)
        index = None if value is None else window_index(value)  # both windows have the same layout
        second = int(now)
        bucket = second // ENDPOINT_BUCKET_S  # the same as int(now // 5) for epochs (now >= 0)
        window = entry.windows.get(bucket)
        if window is None:
            window = entry.windows[bucket] = Window()
        window.add(value, failed, index)
        counted = self._counted.get(request_type)
        if counted is None:
            counted = self._counted[request_type] = self.counts(request_type)
        if not counted:
            return  # a facet (the whole stream is reported too) or a connect, ping or push: no request
        sent = now - response_time / 1000.0 if response_time is not None else now
        if self._first_sent is None or sent < self._first_sent:  # note_traffic, inlined
            self._first_sent = sent
        if self._last_ended is None or now > self._last_ended:
            self._last_ended = now
        window = self._seconds.get(second)
        if window is None:
            window = self._seconds[second] = Window()
        window.add(value, failed, index)
        if context and "llm" in context:
            self.spread_llm(context["llm"], now)

    @staticmethod
    def _correct(entry: EndpointRecord, corrected_ms: float) -> None:
        """Paced load: the time from the iteration's intended start to the reply (coordinated omission)."""
        if entry.corrected is None:
            entry.corrected = new_histogram()
        value = to_us(corrected_ms)
        bump(entry.corrected, exact_index(value), value)

    def spread_llm(self, llm: dict, now: float) -> None:
        """A token stream's output tokens into the seconds its chunks arrived in, and its time in flight
        into the seconds it spanned (a late second is merged by the timeline like any late window)."""
        for second, tokens, busy_s in spread_over_seconds(llm, now):
            window = self._seconds.get(second)
            if window is None:
                window = self._seconds[second] = Window()
            window.tokens += tokens
            window.busy_s += busy_s

    def merge(self, other: Recorder) -> None:
        """Add everything ``other`` recorded (a worker's delta) into this recorder, exactly."""
        merge_by_key(self.endpoints, other.endpoints)
        merge_by_key(self.seconds, other.seconds)
        self.note_traffic(other.first_sent, other.last_ended)

    def take(self) -> Recorder:
        """Everything since the last take, as a recorder of its own; this one starts afresh (workers)."""
        delta = Recorder(self.clock, self.lateness, self.include_connections, self.llm_slo)
        delta.endpoints, delta.seconds = self.endpoints, self.seconds
        delta.first_sent, delta.last_ended = self.first_sent, self.last_ended
        self.endpoints, self.seconds = {}, {}
        self.first_sent = self.last_ended = None
        return delta

    def drain_seconds(self, before: int) -> list[tuple[int, Window]]:
        """The per-second windows of seconds before ``before`` (epoch), oldest first; forgets them."""
        done = sorted(s for s in self.seconds if s < before)
        return [(s, self.seconds.pop(s)) for s in done]

    def drain_endpoint_buckets(self, before: int) -> dict[int, dict[str, Window]]:
        """Per bucket (epoch // 5) before ``before``: each endpoint's window; forgets them."""
        out: dict[int, dict[str, Window]] = {}
        for entry in self.endpoints.values():
            for bucket in [b for b in entry.windows if b < before]:
                out.setdefault(bucket, {})[entry.key] = entry.windows.pop(bucket)
        return dict(sorted(out.items()))

    def totals(self) -> dict[str, Any]:
        """Requests and failures so far: requests only (no facets, connects, pings or pushes)."""
        counted = [r for r in self.endpoints.values() if self.counts(r.request_type)]
        return {"requests": sum(r.requests for r in counted), "failures": sum(r.failures for r in counted)}
