"""Exact figures from the recorder, and threshold verdicts on a summary."""

from __future__ import annotations

import math
import random

import pytest

from load_tests.core.recorder import Recorder, failure_type
from load_tests.core.request_types import Failure, protocol_of
from load_tests.core.summary import build_summary, decode_histogram, figures_of, with_verdicts
from load_tests.core.thresholds import beyond_hope, evaluate, merge_rules
from load_tests.reporting.text import render_text


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


def _locust_request(recorder: Recorder, request_type: str, name: str, ms: float | None, **extra: object) -> None:
    """One request as Locust's ``request`` event reports it (every keyword it passes)."""
    recorder.record(request_type=request_type, name=name, response_time=ms, response_length=42, response=None,
                    context=extra.pop("context", {}), exception=extra.pop("exception", None), start_time=999.0,
                    url=f"http://127.0.0.1:8000{name}")  # fmt: skip


def test_figures_of_gives_the_total_the_protocols_and_every_endpoint() -> None:
    recorder = Recorder(lambda: 1_000.0)
    for ms in (10.0, 20.0, 30.0):
        _locust_request(recorder, "POST", "/predict", ms, exception=Failure("HTTP 500") if ms == 30.0 else None)
    _locust_request(recorder, "WS send", "chat", None)  # fire and forget: counted, not timed
    _locust_request(recorder, "WS send", "chat", None)
    _locust_request(recorder, "SSE stream", "/v1/chat (stream)", 100.0, context={"messages": 4, "gaps_ms": [1, 2, 3]})
    _locust_request(recorder, "SSE first token", "/v1/chat (stream)", 12.0)  # a facet of the stream above
    total, protocols, endpoints = figures_of(recorder, 2.0)

    assert [(r["protocol"], r["request_type"], r["name"], r["requests"]) for r in endpoints] == [
        ("http", "POST", "/predict", 3), ("http", "SSE first token", "/v1/chat (stream)", 1),
        ("http", "SSE stream", "/v1/chat (stream)", 1), ("websocket", "WS send", "chat", 2),
    ]  # fmt: skip
    # The facet row has figures of its own but is no extra request: 3 + 1 + 2 requests, 4 of them timed.
    assert (total["requests"], total["failures"], total["no_reply"], total["rps"]) == (6, 1, 2, 3.0)
    assert total["error_rate_pct"] == pytest.approx(100 / 6) and total["failures_by_type"] == {"HTTP 500": 1}
    assert (total["min_ms"], total["avg_ms"], total["max_ms"]) == (10.0, 40.0, 100.0)
    assert total["p50_ms"] == pytest.approx(20.0, rel=1e-3) and total["p75_ms"] == pytest.approx(30.0, rel=1e-3)
    assert total["p90_ms"] == total["p99_9_ms"] == 100.0  # kept within the exact maximum
    assert decode_histogram(total["histogram"]).total_count == 4
    assert sorted(protocols) == ["http", "websocket"]
    http, ws = protocols["http"], protocols["websocket"]
    assert (http["requests"], http["failures"], http["rps"], http["avg_ms"]) == (4, 1, 2.0, 40.0)
    assert http["error_rate_pct"] == 25.0
    assert (ws["requests"], ws["no_reply"], ws["avg_ms"], ws["p95_ms"], ws["histogram"]) == (2, 2, None, None, None)
    predict, first, stream, send = endpoints
    assert (predict["rps"], predict["avg_ms"], predict["min_ms"], predict["max_ms"]) == (1.5, 20.0, 10.0, 30.0)
    assert predict["error_rate_pct"] == pytest.approx(100 / 3) and "stream" not in predict
    assert (first["p50_ms"], first["p99_ms"]) == (12.0, 12.0)
    assert stream["stream"]["messages"] == 4 and stream["stream"]["gap_p50_ms"] == 2.0
    assert stream["stream"]["gap_max_ms"] == pytest.approx(3.0, rel=1e-3)
    assert send["no_reply"] == 2 and send["p50_ms"] is None
    assert figures_of(Recorder(), 0.0)[0]["rps"] == 0.0  # no duration: no rate, no division by zero
