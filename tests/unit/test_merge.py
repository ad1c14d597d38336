"""Merging run summaries: two recorders' summaries merged give exactly the summary of one recorder that
saw every request (counts, failures by type, percentiles, streams, corrected latency)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from load_tests.core.merge import merge_summaries
from load_tests.core.recorder import Recorder
from load_tests.core.request_types import Failure
from load_tests.core.summary import build_summary

KINDS = [("POST", "/predict"), ("gRPC unary", "Inference/Predict"), ("WS stream", "chat"),
         ("WS first message", "chat"), ("WS send", "chat")]  # fmt: skip


def _feed(whole: Recorder, halves: list[Recorder], late: list[float], n: int = 600) -> None:
    """The same ``n`` requests into ``whole`` and, alternately, into each of ``halves``."""
    rng = random.Random(11)
    for i in range(n):
        request_type, name = rng.choice(KINDS)
        ms = None if request_type == "WS send" else round(rng.lognormvariate(2.5, 0.7), 3)
        error = rng.choice([Failure("HTTP 503"), ConnectionResetError("peer"), None, None, None, None, None, None])
        context = {"messages": 8, "gaps_ms": [rng.uniform(0.5, 4.0) for _ in range(7)]} if name == "chat" else {}
        late[0] = rng.uniform(0.0, 30.0)  # paced load: how late this iteration started
        for recorder in (whole, halves[i % 2]):
            recorder.record(request_type=request_type, name=name, response_time=ms, response_length=10,
                            exception=error, context=context)  # fmt: skip


def _meta(label: str, duration_s: float) -> dict[str, Any]:
    return {"partial": False, "scenario": {"name": label, "profile": "normal", "stages": []}, "test_types": ["rest"],
            "duration_s": duration_s}  # fmt: skip


def _rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [summary["total"], *summary["protocols"].values(), *summary["endpoints"]]


def test_two_recorders_merged_equal_one_recorder_that_saw_everything() -> None:
    late = [0.0]
    whole = Recorder(lambda: 1_000.0, lambda: late[0])
    halves = [Recorder(lambda: 1_000.0, lambda: late[0]), Recorder(lambda: 1_000.0, lambda: late[0])]
    _feed(whole, halves, late)
    one = build_summary(whole, _meta("first", 30.0), 30.0)
    parts = [
        build_summary(halves[0], _meta("first", 30.0), 30.0),
        build_summary(halves[1], _meta("second", 30.0), 30.0),
    ]
    assert parts[0]["total"]["requests"] + parts[1]["total"]["requests"] == one["total"]["requests"]
    merged = merge_summaries(parts)

    assert merged["merged_from"] == 2 and merged["duration_s"] == 30.0
    assert merged["scenario"]["name"] == "first"  # metadata from the first summary
    assert sorted(merged["protocols"]) == ["grpc", "http", "websocket"]
    assert [(r["request_type"], r["name"]) for r in merged["endpoints"]] == [
        (r["request_type"], r["name"]) for r in one["endpoints"]
    ]
    assert len(_rows(one)) == 1 + 3 + 5
    for want, got in zip(_rows(one), _rows(merged), strict=True):
        avg = want.pop("avg_ms")
        assert got.pop("avg_ms") == (None if avg is None else pytest.approx(avg, rel=1e-12))
        assert got == want  # requests, failures by type, min, max, every percentile, histograms, streams, corrected
    assert "corrected" in merged["total"] and merged["endpoints"][-1]["stream"]["messages"] > 0
    first = next(r for r in one["endpoints"] if r["request_type"] == "WS first message")
    assert first["requests"] > 0 and one["protocols"]["websocket"]["requests"] == sum(
        r["requests"] for r in one["endpoints"] if r["protocol"] == "websocket" and r is not first
    )  # a facet row merges as a row of its own and never counts as a request


def test_repeated_runs_add_their_durations_and_same_period_parts_do_not() -> None:
    late = [0.0]
    whole = Recorder(lambda: 1_000.0)
    halves = [Recorder(lambda: 1_000.0), Recorder(lambda: 1_000.0)]
    _feed(whole, halves, late, n=200)
    parts = [build_summary(halves[0], _meta("a", 20.0), 20.0), build_summary(halves[1], _meta("b", 25.0), 25.0)]
    same_period = merge_summaries(parts)
    repeated = merge_summaries(parts, sequential=True)
    requests = whole.totals()["requests"]
    assert same_period["duration_s"] == 25.0 and same_period["total"]["rps"] == pytest.approx(requests / 25.0)
    assert repeated["duration_s"] == 45.0 and repeated["total"]["rps"] == pytest.approx(requests / 45.0)
    assert "corrected" not in repeated["total"]  # no lateness recorded: no corrected figures invented
    with pytest.raises(ValueError, match="nothing to merge"):
        merge_summaries([])
