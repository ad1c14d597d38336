"""The worker-to-master wire format: a recorder delta as plain data and back, with nothing lost."""

from __future__ import annotations

import json
from typing import Any

from hdrh.histogram import HdrHistogram

from load_tests.core.recorder import Recorder
from load_tests.core.request_types import Failure
from load_tests.core.wire import decode_delta, encode_delta


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
