"""The recorder fed as Locust's ``request`` event feeds it: failure types, wall-clock windows, facets,
corrected latency, and the take/merge/drain cycle of a worker."""

from __future__ import annotations

import pytest

from load_tests.core.recorder import ENDPOINT_BUCKET_S, Recorder, Window, failure_type
from load_tests.core.request_types import Failure


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CatchResponseError(Exception):
    """Named like Locust's: the reason a user gave when failing a response."""


class ReadTimeout(Exception):
    """Named like requests' timeout."""


class RetriesExceeded(Exception):
    """Named like geventhttpclient's wrapper of the real cause."""

    def __init__(self, original: BaseException) -> None:
        super().__init__("retries exceeded")
        self.original = original


def _request(recorder: Recorder, request_type: str, name: str, ms: float | None,
             exception: BaseException | None = None, context: dict | None = None) -> None:  # fmt: skip
    """Every keyword argument Locust's ``request`` event passes, extra ones included."""
    recorder.record(request_type=request_type, name=name, response_time=ms, response_length=128, response=None,
                    context=context or {}, exception=exception, start_time=0.0, url=f"http://h{name}")  # fmt: skip


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        ("HTTP 500", "HTTP 500"),
        ("x" * 300, "x" * 200),
        (Failure("label mismatch: expected a, got b"), "label mismatch: expected a, got b"),
        (Failure(""), "Failure"),
        (CatchResponseError("HTTP 429"), "HTTP 429"),
        (ConnectionRefusedError("[Errno 111] 127.0.0.1:8000"), "ConnectionRefusedError"),
        (TimeoutError("timed out after 5 s"), "timeout"),
        (ReadTimeout("read timed out (host 10.0.0.7)"), "timeout"),
        (RetriesExceeded(ConnectionResetError("peer 10.0.0.7")), "ConnectionResetError"),
        (RetriesExceeded(TimeoutError()), "timeout"),
    ],
)
def test_failures_are_grouped_by_a_short_stable_type(exception: BaseException | str, kind: str) -> None:
    assert failure_type(exception) == kind


def test_requests_fall_into_the_wall_clock_second_and_bucket_they_ended_in() -> None:
    clock = _Clock(1_000.2)
    recorder = Recorder(clock)
    _request(recorder, "POST", "/predict", 10.0)
    clock.now = 1_000.9
    _request(recorder, "POST", "/predict", 30.0, Failure("HTTP 500"))
    clock.now = 1_001.1
    _request(recorder, "SSE first token", "/v1/chat (stream)", 5.0)  # a facet: a row, not a request
    clock.now = 1_004.99
    _request(recorder, "GET", "/health", 1.0)
    clock.now = 1_005.0
    _request(recorder, "GET", "/health", None)  # no reply: counted, not timed
    assert {s: (w.requests, w.failures) for s, w in recorder.seconds.items()} == {1000: (2, 1), 1004: (1, 0),
                                                                                  1005: (1, 0)}  # fmt: skip
    assert recorder.seconds[1005].histogram is None and recorder.seconds[1004].histogram.total_count == 1
    health = recorder.endpoints[("GET", "/health")]
    assert {b: w.requests for b, w in health.windows.items()} == {1_004 // ENDPOINT_BUCKET_S: 1, 201: 1}
    assert (health.requests, health.no_reply, health.min_ms, health.max_ms, health.total_ms) == (2, 1, 1.0, 1.0, 1.0)
    predict = recorder.endpoints[("POST", "/predict")]
    assert (predict.requests, predict.failures, predict.failures_by_type) == (2, 1, {"HTTP 500": 1})
    assert (predict.min_ms, predict.max_ms, predict.total_ms, predict.protocol) == (10.0, 30.0, 40.0, "http")
    assert recorder.endpoints[("SSE first token", "/v1/chat (stream)")].windows[200].requests == 1
    assert recorder.totals() == {"requests": 4, "failures": 1}


def test_streams_and_the_lateness_of_paced_iterations_are_kept() -> None:
    late: list[float | None] = [25.0]
    recorder = Recorder(_Clock(1_000.0), lambda: late[0])
    _request(recorder, "WS stream", "chat", 40.0, context={"messages": 3, "gaps_ms": [1.0, 1.5]})
    late[0] = None  # an unpaced user (its lateness is unknown): no corrected time
    _request(recorder, "WS stream", "chat", 20.0, context={"messages": 5, "gaps_ms": [2.0]})
    late[0] = 10.0
    _request(recorder, "WS send", "chat", None)  # no reply: nothing to correct
    stream = recorder.endpoints[("WS stream", "chat")]
    assert stream.messages == 8 and stream.gaps is not None and stream.gaps.total_count == 3
    assert stream.gaps.get_max_value() == 2000  # µs
    assert stream.corrected is not None and stream.corrected.total_count == 1
    assert stream.corrected.get_max_value() == pytest.approx(65_000, rel=1e-3)  # 40 ms + 25 ms late
    assert recorder.endpoints[("WS send", "chat")].corrected is None


def test_take_merge_and_drain_lose_nothing_and_count_nothing_twice() -> None:
    clock = _Clock(2_000.5)
    worker, master = Recorder(clock), Recorder(clock)
    for i in range(10):
        clock.now = 2_000.5 + i  # one request a second, 2000.5 .. 2009.5
        _request(
            worker, "gRPC unary", "Inference/Predict", float(i + 1), Failure("UNAVAILABLE") if i % 4 == 0 else None
        )
        if i in (3, 9):
            master.merge(worker.take())
    assert worker.endpoints == {} and worker.seconds == {}  # take() leaves the worker empty
    row = master.endpoints[("gRPC unary", "Inference/Predict")]
    assert (row.requests, row.failures, row.min_ms, row.max_ms, row.total_ms) == (10, 3, 1.0, 10.0, 55.0)
    assert row.failures_by_type == {"UNAVAILABLE": 3} and row.histogram.total_count == 10
    early = master.drain_seconds(2_004)
    assert [s for s, _ in early] == [2000, 2001, 2002, 2003] and all(w.requests == 1 for _, w in early)
    assert sorted(master.seconds) == list(range(2004, 2010))  # drained seconds are forgotten
    assert master.drain_seconds(2_004) == []
    buckets = master.drain_endpoint_buckets(401)  # bucket 400 = epoch 2000..2004
    assert list(buckets) == [400] and buckets[400]["gRPC unary Inference/Predict"].requests == 5
    assert sorted(row.windows) == [401]


def test_a_window_gives_rates_over_its_span_and_percentiles_of_its_values() -> None:
    window = Window()
    for value_us, failed in ((10_000, False), (10_000, False), (20_000, True), (None, False)):
        window.add(value_us, failed)
    figures = window.figures(0.5)
    assert (figures["rps"], figures["failures_per_s"]) == (8.0, 2.0)
    assert figures["p50_ms"] == pytest.approx(10.0, rel=0.01) and figures["p95_ms"] == pytest.approx(20.0, rel=0.01)
    assert Window(3, 0).figures(1.0) == {"rps": 3.0, "failures_per_s": 0.0, "p50_ms": None, "p95_ms": None}
    other = Window()
    other.add(40_000, True)
    window.merge(other)
    assert (window.requests, window.failures, window.histogram.total_count) == (5, 2, 4)


def test_the_fast_record_path_fills_histograms_exactly_as_hdrh_does() -> None:
    """``bump`` + ``exact_index``/``window_index`` replace hdrh's ``record_value`` on the hot path: the same
    counts, totals, min and max for values across the whole range (1 µs .. 1 h), both layouts."""
    import random

    from load_tests.core.recorder import HIGHEST_US, LOWEST_US, bump, exact_index, new_histogram
    from load_tests.core.window import new_window_histogram, window_index

    rng = random.Random(18)
    values = [LOWEST_US, 2, 1023, 1024, 2047, 2048, 65_535, 65_536, HIGHEST_US - 1, HIGHEST_US]
    values += [int(10 ** rng.uniform(0, 9.5)) for _ in range(20_000)]
    values = [max(LOWEST_US, min(v, HIGHEST_US)) for v in values]
    for make, index in ((new_histogram, exact_index), (new_window_histogram, window_index)):
        ours, theirs = make(), make()
        for value in values:
            bump(ours, index(value), value)
            theirs.record_value(value)
        assert list(ours.counts) == list(theirs.counts)
        assert (ours.total_count, ours.min_value, ours.max_value) == (
            theirs.total_count,
            theirs.min_value,
            theirs.max_value,
        )
        assert ours.get_value_at_percentile(99.9) == theirs.get_value_at_percentile(99.9)


def test_batched_records_count_exactly_what_was_reported_and_readers_never_lag() -> None:
    """record() notes requests and counts them BATCH at a time: whatever is read in between (rows, seconds,
    the traffic window) already holds every request, each counted in the second it ended, with the lateness
    of the moment it was reported, into histograms identical to hdrh's own ``record_value``."""
    import random

    from hdrh.histogram import HdrHistogram

    from load_tests.core.recorder import BATCH, HIGHEST_US, LOWEST_US, new_histogram
    from load_tests.core.window import new_window_histogram

    rng = random.Random(7)
    clock = _Clock(10_000.0)
    late: list[float | None] = [None]
    recorder = Recorder(clock, lambda: late[0])
    exact, corrected = new_histogram(), new_histogram()
    per_second: dict[int, HdrHistogram] = {}
    failures = 0
    n = 5 * BATCH + 7
    for i in range(n):
        clock.now += rng.uniform(0.0, 0.05)
        late[0] = float(i % 3) if i % 2 else None
        ms = 10 ** rng.uniform(-3.5, 6.5)  # 0.3 µs .. 1 h and more: clamped as to_us clamps
        failed = i % 7 == 0
        _request(recorder, "GET", "/x", ms, exception=CatchResponseError("HTTP 500") if failed else None)
        failures += failed
        value = max(LOWEST_US, min(int(ms * 1000), HIGHEST_US))
        exact.record_value(value)
        per_second.setdefault(int(clock.now), new_window_histogram()).record_value(value)
        if late[0] is not None:
            corrected.record_value(max(LOWEST_US, min(int((ms + late[0]) * 1000), HIGHEST_US)))
        if i == BATCH // 2:  # mid-batch: a reader sees every request so far
            assert recorder.endpoints[("GET", "/x")].requests == i + 1
            assert recorder.last_ended == clock.now
    row = recorder.endpoints[("GET", "/x")]
    assert (row.requests, row.failures, row.failures_by_type) == (n, failures, {"HTTP 500": failures})
    assert list(row.histogram.counts) == list(exact.counts)
    assert (row.histogram.total_count, row.histogram.min_value, row.histogram.max_value) == (
        exact.total_count, exact.min_value, exact.max_value)  # fmt: skip
    assert row.corrected is not None and list(row.corrected.counts) == list(corrected.counts)
    assert sorted(recorder.seconds) == sorted(per_second)
    for second, window in recorder.seconds.items():
        assert window.histogram is not None and list(window.histogram.counts) == list(per_second[second].counts)
    assert sum(w.requests for w in row.windows.values()) == n
    assert recorder.totals() == {"requests": n, "failures": failures}
