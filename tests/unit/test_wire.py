"""The worker-to-master wire format: a recorder delta as plain data and back, with nothing lost."""

from __future__ import annotations

import base64
import json
from typing import Any

import msgpack
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from load_tests.core.recorder import PERCENTILES, Recorder, Window, new_histogram
from load_tests.core.request_types import Failure
from load_tests.core.wire import add_counts, decode_delta, encode_delta, merge_delta, pack_counts


def _counts(histogram: HdrHistogram | None) -> list[tuple[int, int]] | None:
    if histogram is None:
        return None
    return [(i.value_iterated_to, i.count_at_value_iterated_to) for i in histogram.get_recorded_iterator()]


def _state(recorder: Recorder) -> dict[str, Any]:
    """Everything a recorder holds, histograms as (value, count) pairs."""
    rows = {}
    for key, r in recorder.endpoints.items():
        rows[key] = {
            "requests": r.requests, "failures": r.failures, "no_reply": r.no_reply, "total_ms": r.total_ms,
            "min_ms": r.min_ms, "max_ms": r.max_ms, "failures_by_type": r.failures_by_type, "messages": r.messages,
            "histogram": _counts(r.histogram), "gaps": _counts(r.gaps), "corrected": _counts(r.corrected),
            "windows": {b: (w.requests, w.failures, _counts(w.histogram)) for b, w in r.windows.items()},
        }  # fmt: skip
    seconds = {s: (w.requests, w.failures, _counts(w.histogram)) for s, w in recorder.seconds.items()}
    return {"rows": rows, "seconds": seconds}


def test_a_delta_survives_the_wire_exactly() -> None:
    clock = [3_000.25]
    late = [12.5]
    recorder = Recorder(lambda: clock[0], lambda: late[0])
    requests = [
        ("POST", "/predict", 12.5, None, None),
        ("POST", "/predict", 250.0, Failure("HTTP 500"), None),
        ("SIO stream", "chat", 80.0, None, {"messages": 16, "gaps_ms": [2.0, 3.5, 4.0]}),
        ("SIO first event", "chat", 9.0, None, None),
        ("SIO send", "chat", None, None, None),
        ("gRPC unary", "Inference/Predict", 4.0, ConnectionResetError("peer"), None),
    ]
    for step, (request_type, name, ms, error, context) in enumerate(requests):
        clock[0] = 3_000.25 + 2.5 * step  # across seconds and 5-second buckets
        recorder.record(request_type, name, ms, 0, error, context)
    data = encode_delta(recorder)
    assert json.loads(json.dumps(data)) == data  # plain data only: what msgpack can carry
    assert len(data["rows"]) == 5 and [s[0] for s in data["seconds"]] == [3000, 3002, 3005, 3010, 3012]
    decoded = decode_delta(json.loads(json.dumps(data)))
    assert _state(decoded) == _state(recorder)
    assert decoded.endpoints[("POST", "/predict")].failures_by_type == {"HTTP 500": 1}
    assert decoded.endpoints[("SIO send", "chat")].min_ms is None  # a row with no timed request
    assert decoded.endpoints[("SIO stream", "chat")].messages == 16
    assert decoded.totals() == recorder.totals() == {"requests": 5, "failures": 2}


def test_an_empty_delta_and_a_merged_one() -> None:
    empty = encode_delta(Recorder())
    assert (empty["rows"], empty["seconds"]) == ([], [])
    assert _state(decode_delta({})) == {"rows": {}, "seconds": {}}
    worker = Recorder(lambda: 500.0)
    for ms in (1.0, 2.0, 3.0):
        worker.record("GET", "/health", ms, 0, None)
    master = Recorder(lambda: 500.0)
    master.merge(decode_delta(encode_delta(worker.take())))
    master.merge(decode_delta(encode_delta(worker.take())))  # nothing new since the last report
    row = master.endpoints[("GET", "/health")]
    assert (row.requests, row.total_ms, row.min_ms, row.max_ms) == (3, 6.0, 1.0, 3.0)
    assert master.seconds[500].requests == 3


def _assert_same_histogram(got: HdrHistogram | None, want: HdrHistogram | None, read: bool = False) -> None:
    """Counter for counter, and (``read``) everything a report reads from a histogram."""
    assert (got is None) == (want is None)
    if got is None or want is None:
        return
    assert got.total_count == want.total_count
    assert list(got.counts) == list(want.counts)
    assert (got.get_min_value(), got.get_max_value()) == (want.get_min_value(), want.get_max_value())
    assert got.encode() == want.encode()  # what a summary stores
    if read:  # percentiles and mean follow from the counters, but say so once (pure Python: slow)
        levels = [0.0, *PERCENTILES, 100.0]
        assert got.get_percentile_to_value_dict(levels) == want.get_percentile_to_value_dict(levels)
        assert got.get_mean_value() == want.get_mean_value()


def _assert_same_windows(got: dict[int, Window], want: dict[int, Window]) -> None:
    assert sorted(got) == sorted(want)
    for key, window in want.items():
        assert (got[key].requests, got[key].failures) == (window.requests, window.failures)
        _assert_same_histogram(got[key].histogram, window.histogram)


REQUEST = st.tuples(
    st.sampled_from([("GET", "/a"), ("POST", "/b"), ("SIO stream", "chat")]),
    st.one_of(st.none(), st.floats(0.0, 5_000_000.0)),  # ms: none (no reply), sub-µs .. past the 1 h top
    st.booleans(),  # failed
    st.floats(0.0, 12.0),  # seconds since the previous request: across seconds and 5 s buckets
    st.integers(0, 2),  # the worker that sends it
    st.booleans(),  # that worker reports after it
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REQUEST, min_size=1, max_size=60), st.floats(0.0, 50.0))
def test_deltas_through_the_wire_merge_into_exactly_what_one_recorder_records(requests: list, late_ms: float) -> None:
    clock = [1_000.0]
    whole = Recorder(lambda: clock[0], lambda: late_ms)
    workers = [Recorder(lambda: clock[0], lambda: late_ms) for _ in range(3)]
    master = Recorder(lambda: clock[0])
    counted = {"requests": 0, "failures": 0}

    def report(worker: Recorder) -> None:
        data = msgpack.unpackb(msgpack.packb(encode_delta(worker.take()), use_bin_type=True), raw=False)
        for key, n in merge_delta(master, json.loads(json.dumps(data))).items():  # both of Locust's carriers
            counted[key] += n

    for (request_type, name), ms, failed, step_s, index, reports in requests:
        clock[0] += step_s
        context = {"messages": 3, "gaps_ms": [ms or 0.5, 2.0]} if request_type == "SIO stream" else None
        args = (request_type, name, ms, 0, Failure("HTTP 500") if failed else None, context)
        whole.record(*args)
        workers[index].record(*args)
        if reports:
            report(workers[index])
    for worker in workers:
        report(worker)
    assert counted == whole.totals()
    assert sorted(master.endpoints) == sorted(whole.endpoints)
    for key, want in whole.endpoints.items():
        got = master.endpoints[key]
        for figure in ("requests", "failures", "no_reply", "min_ms", "max_ms", "failures_by_type", "messages"):
            assert getattr(got, figure) == getattr(want, figure), figure
        assert got.total_ms == pytest.approx(want.total_ms, rel=1e-9, abs=1e-9)
        for histogram in ("histogram", "gaps", "corrected"):
            _assert_same_histogram(getattr(got, histogram), getattr(want, histogram))
        _assert_same_windows(got.windows, want.windows)
    _assert_same_windows(master.seconds, whole.seconds)
    assert (master.first_sent, master.last_ended) == (whole.first_sent, whole.last_ended)


def test_extreme_values_and_large_counts_survive_the_wire() -> None:
    """The range's ends, counts past one varint byte and zero runs past two: still counter for counter,
    merged into an empty recorder and into one that holds something already."""
    whole, worker, master = Recorder(lambda: 7.0), Recorder(lambda: 7.0), Recorder(lambda: 7.0)
    for ms, times in ((0.0001, 1_000), (0.001, 70), (1.0, 20_000), (3_600_000.0, 3), (9e9, 1)):
        for _ in range(times):
            worker.record("GET", "/x", ms, 0, None)
            whole.record("GET", "/x", ms, 0, None)
            whole.record("GET", "/x", ms, 0, None)
    data = encode_delta(worker)
    merge_delta(master, data)
    merge_delta(master, data)
    got, want = master.endpoints[("GET", "/x")], whole.endpoints[("GET", "/x")]
    _assert_same_histogram(got.histogram, want.histogram, read=True)
    _assert_same_windows(master.seconds, whole.seconds)
    assert (got.requests, got.min_ms, got.max_ms) == (2 * 21_074, 0.0001, 9e9)


def test_a_corrupt_histogram_is_refused_and_leaves_later_merges_exact() -> None:
    good = new_histogram()
    for value in (5, 5, 900, 70_000):
        good.record_value(value)
    into = new_histogram()
    bad = base64.b64encode(pack_counts_raw := base64.b64decode(pack_counts(good) or "")).decode("ascii")
    with pytest.raises((ValueError, IndexError)):
        add_counts(into, base64.b64encode(pack_counts_raw[:-1] + b"\x80").decode("ascii"))  # a cut-off varint
    with pytest.raises(IndexError):
        add_counts(into, base64.b64encode(b"\x01" * (into.counts_len + 1)).decode("ascii"))  # past the end
    into.reset()
    add_counts(into, bad)
    _assert_same_histogram(into, good)


def test_a_workers_totals_are_counted_as_the_runs_recorder_counts() -> None:
    """With connects counted (``count_connections``), the per-worker totals still add up to the run's."""
    worker = Recorder(lambda: 9.0)
    worker.record("GET", "/x", 3.0, 0, None)
    worker.record("WS connect", "/ws", 1.0, 0, Failure("refused"))
    for include, expected in ((False, {"requests": 1, "failures": 0}), (True, {"requests": 2, "failures": 1})):
        master = Recorder(include_connections=include)
        assert merge_delta(master, encode_delta(worker)) == expected == master.totals()
