"""Exact figures from the recorder, and threshold verdicts on a summary."""

from __future__ import annotations

import math
import random

import pytest

from load_tests.core.recorder import Recorder, failure_type
from load_tests.core.request_types import Failure, protocol_of
from load_tests.core.summary import build_summary, decode_histogram, render_text, with_verdicts
from load_tests.core.thresholds import beyond_hope, evaluate, merge_rules


def _exact_percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (the 1e-9 absorbs float error such as 99.9 / 100 * 20000 = 19980.000000000004)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered) - 1e-9) - 1)]


def test_percentiles_match_raw_values_within_one_percent() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(3, 0.8) for _ in range(20_000)]  # ms, long-tailed like real latency
    recorder = Recorder()
    for v in values:
        recorder.record("POST", "/predict", v, 10, None)
    row = build_summary(recorder, {}, 10.0)["endpoints"][0]
    for p, key in ((50, "p50_ms"), (90, "p90_ms"), (95, "p95_ms"), (99, "p99_ms"), (99.9, "p99_9_ms")):
        exact = _exact_percentile(values, p)
        assert row[key] == pytest.approx(exact, rel=0.01), key
    assert row["max_ms"] == max(values) and row["min_ms"] == min(values)
    assert row["avg_ms"] == pytest.approx(sum(values) / len(values))
    assert row["p99_ms"] <= row["max_ms"]
    assert decode_histogram(row["histogram"]).total_count == len(values)


def test_no_reply_is_counted_but_not_timed_and_failures_are_grouped() -> None:
    recorder = Recorder()
    recorder.record("WS send", "chat", None, 0, None)
    recorder.record("POST", "/predict", 5.0, 0, Failure("label mismatch: expected a, got b"))
    recorder.record("POST", "/predict", 7.0, 0, ConnectionRefusedError("[Errno 111] 127.0.0.1:1"))
    recorder.record("POST", "/predict", 9.0, 0, ConnectionRefusedError("[Errno 111] 127.0.0.1:2"))
    summary = build_summary(recorder, {}, 1.0)
    rows = {r["name"]: r for r in summary["endpoints"]}
    assert rows["chat"]["requests"] == 1 and rows["chat"]["no_reply"] == 1 and rows["chat"]["avg_ms"] is None
    assert rows["/predict"]["failures_by_type"] == {"ConnectionRefusedError": 2, "label mismatch: expected a, got b": 1}
    assert summary["protocols"]["websocket"]["requests"] == 1 and summary["protocols"]["http"]["failures"] == 3
    assert failure_type("HTTP 500") == "HTTP 500"


def test_protocol_of_request_types() -> None:
    assert [protocol_of(t) for t in ("GET", "SSE stream", "WS reply", "SIO ack", "gRPC unary")] == [
        "http", "http", "websocket", "socketio", "grpc",
    ]  # fmt: skip


def _summary(latency_ms: float, failures: int, requests: int = 100) -> dict:
    recorder = Recorder()
    for i in range(requests):
        recorder.record("POST", "/predict", latency_ms, 0, Failure("HTTP 500") if i < failures else None)
    return build_summary(recorder, {}, 10.0)


def test_thresholds_pass_and_fail_on_purpose() -> None:
    rules = merge_rules(
        {"p95_ms": 100, "error_rate_pct": 1, "min_rps": 5, "endpoints": {"POST /predict": {"p99_ms": 50}}}, {}
    )
    good = evaluate(_summary(20, 0), rules)
    assert all(v.passed for v in good) and len(good) == 4
    bad = {(v.scope, v.metric): v for v in evaluate(_summary(200, 5), rules) if not v.passed}
    assert set(bad) == {("global", "p95_ms"), ("global", "error_rate_pct"), ("endpoint POST /predict", "p99_ms")}
    assert bad[("global", "error_rate_pct")].reason == "5.00 > 1"
    slow = evaluate(_summary(20, 0, requests=10), rules)
    assert [v.metric for v in slow if not v.passed] == ["min_rps"]  # 1 rps < 5
    scenario_rules = merge_rules({"p95_ms": 100}, {"p95_ms": 500})
    assert all(v.passed for v in evaluate(_summary(200, 0), scenario_rules))


def test_an_empty_run_fails_and_renders() -> None:
    summary = with_verdicts(_summary(1, 0, requests=0), evaluate(_summary(1, 0, requests=0), merge_rules({}, {})))
    assert summary["thresholds"]["passed"] is False
    assert "no requests were made" in render_text({**summary, "duration_s": 1.0})


def _timeline_summary(p95_by_second: list[float]) -> dict:
    summary = _summary(20, 0)
    summary["scenario"] = {"name": "spike", "stages": [{"duration_s": 5, "users": 1, "spawn_rate": 1},
                                                       {"duration_s": 5, "users": 9, "spawn_rate": 9},
                                                       {"duration_s": 10, "users": 1, "spawn_rate": 9}]}  # fmt: skip
    summary["timeline"] = [{"t_s": float(i + 1), "p95_ms": v} for i, v in enumerate(p95_by_second)]
    return summary


def test_recovery_after_a_spike_passes_and_fails_on_purpose() -> None:
    rule = {"after_stage": 2, "p95_ms": 100, "within_s": 3}
    spike_then_calm = [10] * 5 + [500] * 5 + [400, 300, 90, 50] + [20] * 6  # back under 100 ms 2 s after t=10
    slow_recovery = [10] * 5 + [500] * 5 + [400] * 6 + [90] * 4  # only 6 s after
    [ok] = evaluate(_timeline_summary(spike_then_calm), merge_rules({"recovery": rule}, {}))[-1:]
    assert ok.passed and ok.actual == 2.0 and ok.scope == "recovery after stage 2"
    [late] = evaluate(_timeline_summary(slow_recovery), merge_rules({"recovery": rule}, {}))[-1:]
    assert not late.passed and late.actual == 6.0
    [never] = evaluate(_timeline_summary([10] * 5 + [500] * 15), merge_rules({"recovery": rule}, {}))[-1:]
    assert not never.passed and "never back" in never.reason
    scenario_rule = merge_rules({}, {"recovery": {**rule, "after_stage": 7}})
    assert "has 3 stage(s)" in evaluate(_timeline_summary([10] * 20), scenario_rule)[-1].reason


def test_average_threshold_and_the_abort_rule() -> None:
    rules = merge_rules({"avg_ms": 30}, {})
    assert all(v.passed for v in evaluate(_summary(20, 0), rules))
    assert [v.metric for v in evaluate(_summary(40, 0), rules) if not v.passed] == ["avg_ms"]
    rule = {"after_s": 10, "error_rate_pct": 50, "p95_ms": 1000}
    assert beyond_hope({"requests": 10, "failures": 9}, 5.0, rule, 5.0) is None  # still in its grace period
    assert beyond_hope({"requests": 10, "failures": 9}, 5.0, rule, 11.0) == "error rate 90.0% > 50% after 11s"
    assert beyond_hope({"requests": 10, "failures": 1}, 2000.0, rule, 11.0) == "p95 2000 ms > 1000 ms after 11s"
    assert beyond_hope({"requests": 10, "failures": 1}, 20.0, rule, 11.0) is None


def test_protocol_thresholds_pass_and_fail_on_purpose() -> None:
    summary = _summary(50, 0)
    assert all(v.passed for v in evaluate(summary, merge_rules({"protocols": {"http": {"p95_ms": 100}}}, {})))
    [failed] = [v for v in evaluate(summary, merge_rules({"protocols": {"http": {"p95_ms": 10}}}, {})) if not v.passed]
    assert (failed.scope, failed.metric, failed.reason) == ("protocol http", "p95_ms", "50.00 > 10")
    [missing] = [v for v in evaluate(summary, merge_rules({"protocols": {"grpc": {"p95_ms": 10}}}, {})) if not v.passed]
    assert missing.reason == "no data"
