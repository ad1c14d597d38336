"""Worker deltas merged on the master: exactly the figures of one recorder, late windows included."""

from __future__ import annotations

import random

import pytest

from load_tests.core.recorder import Recorder
from load_tests.core.summary import build_summary
from load_tests.core.timeline import Timeline
from load_tests.core.wire import decode_delta, encode_delta


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_worker_deltas_merge_into_exactly_the_figures_of_one_recorder() -> None:
    rng = random.Random(5)
    clock = _Clock()
    whole, master = Recorder(clock), Recorder(clock)
    workers = [Recorder(clock), Recorder(clock)]
    for step in range(3_000):
        clock.now += 0.01
        kind = rng.choice([("POST", "/predict"), ("gRPC unary", "Predict"), ("SSE first token", "/v1/chat")])
        value, failed = rng.lognormvariate(2, 1), rng.random() < 0.05
        context = {"messages": 3, "gaps_ms": [1.0, 2.5]} if kind[0] == "SSE first token" else None
        args = (kind[0], kind[1], value, 0, RuntimeError("x") if failed else None, context)
        whole.record(*args)
        workers[step % 2].record(*args)
        if step % 400 == 0:  # a report every so often, through the wire format the workers use
            for w in workers:
                master.merge(decode_delta(encode_delta(w.take())))
    for w in workers:
        master.merge(decode_delta(encode_delta(w.take())))
    a, b = build_summary(whole, {}, 30.0), build_summary(master, {}, 30.0)
    rows_a = [a["total"], *a["protocols"].values(), *a["endpoints"]]
    rows_b = [b["total"], *b["protocols"].values(), *b["endpoints"]]
    assert len(rows_a) == len(rows_b) == 6
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        assert row_a.pop("avg_ms") == pytest.approx(row_b.pop("avg_ms"), rel=1e-12)
        assert row_a == row_b  # counts, failures by type, min, max, every percentile, histograms, streams
    assert sorted(whole.seconds) == sorted(master.seconds)
    for second, window in whole.seconds.items():
        assert (window.requests, window.failures) == (master.seconds[second].requests, master.seconds[second].failures)


def test_a_late_window_adds_its_counts_to_the_second_already_charted() -> None:
    clock = _Clock()
    timeline = Timeline(1_000.0, None)
    early, late = Recorder(clock), Recorder(clock)
    clock.now = 1_000.5
    for _ in range(4):
        early.record("GET", "/health", 2.0, 0, None)
    for _ in range(6):
        late.record("GET", "/health", 3.0, 0, None)
    timeline.add_seconds(early.drain_seconds(1_002), now=1_002.0)
    timeline.add_seconds(late.drain_seconds(1_002), now=1_005.0)  # a slow worker's report
    [point], _ = timeline.as_lists()
    assert point["rps"] == pytest.approx(10.0) and point["t_s"] == 1.0
