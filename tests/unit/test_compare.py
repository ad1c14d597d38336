"""Before/after comparison: a clear regression is REGRESSED where it happened and only there; identical
runs and noise are not; tolerance and the baseline's repeat spread widen what counts as noise."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from load_tests.core.errors import ConfigError
from load_tests.core.recorder import Recorder
from load_tests.core.request_types import Failure
from load_tests.core.summary import build_summary, figures_of
from load_tests.core.timeline import Timeline
from load_tests.reporting.compare import Tolerance, compare, min_samples_for, p95_difference_interval
from load_tests.reporting.quantiles import min_samples, rank_interval
from load_tests.reporting.settle import settled

SCOPES = ["protocol grpc", "protocol http", "gRPC unary Inference/Predict", "GET /health", "POST /predict"]


def _run(seed: int = 1, predict_shift_ms: float = 0.0, health_failures: int = 0, extra: bool = False,
         n: int = 400) -> dict[str, Any]:  # fmt: skip
    """A summary of ``n`` requests per endpoint: /predict about 20..30 ms, /health about 2 ms, gRPC about 15 ms."""
    rng = random.Random(seed)
    recorder = Recorder(lambda: 1_000.0)
    for i in range(n):
        recorder.record("POST", "/predict", rng.uniform(20.0, 30.0) + predict_shift_ms, 0, None)
        recorder.record(
            "GET", "/health", rng.uniform(1.5, 2.5), 0, Failure("HTTP 503") if i < health_failures else None
        )
        recorder.record("gRPC unary", "Inference/Predict", rng.uniform(12.0, 18.0), 0, None)
        if extra:
            recorder.record("GET", "/model-info", 3.0, 0, None)
    total, protocols, endpoints = figures_of(recorder, 20.0)
    return {"total": total, "protocols": protocols, "endpoints": endpoints}


def _verdicts(result: dict[str, Any]) -> dict[str, str]:
    return {row["scope"]: row["verdict"] for row in result["rows"]}


def test_a_clear_regression_is_regressed_where_it_happened_and_only_there() -> None:
    result = compare(_run(seed=1), _run(seed=2, predict_shift_ms=50.0))
    assert [row["scope"] for row in result["rows"]] == SCOPES
    assert _verdicts(result) == {"protocol grpc": "unchanged", "protocol http": "regressed",
                                 "gRPC unary Inference/Predict": "unchanged", "GET /health": "unchanged",
                                 "POST /predict": "regressed"}  # fmt: skip
    assert result["counts"] == {"regressed": 2, "improved": 0, "unchanged": 3, "too_few": 0}
    assert result["regressed"] is True
    predict = result["rows"][-1]
    assert predict["delta"]["p95_ms"] == pytest.approx(50.0, abs=1.0)
    assert predict["delta_pct"]["p95_ms"] == pytest.approx(100 * 50 / predict["old"]["p95_ms"], rel=0.03)
    low, high = predict["p95_diff_ci_ms"]
    assert 45.0 < low <= high < 55.0
    assert predict["reason"].startswith(f"p95 up {low:.1f}..{high:.1f} ms (95% CI) > ")
    assert predict["delta"]["rps"] == 0.0 and predict["delta"]["error_rate_pct"] == 0.0
    back = compare(_run(seed=2, predict_shift_ms=50.0), _run(seed=1))  # the other way round: improved
    assert _verdicts(back)["POST /predict"] == "improved" and back["counts"]["improved"] == 2 and not back["regressed"]


def test_identical_runs_and_redrawn_noise_are_unchanged() -> None:
    run = _run(seed=1)
    same = compare(run, run)
    assert same["counts"] == {"regressed": 0, "improved": 0, "unchanged": 5, "too_few": 0}
    assert same["regressed"] is False
    for row in same["rows"]:
        assert row["delta"]["p95_ms"] == 0.0 and row["reason"] == "within noise and tolerance", row["scope"]
        low, high = row["p95_diff_ci_ms"]
        assert -2.0 < low <= 0.0 <= high < 2.0, row["scope"]  # centred on no change, inside the 2 ms tolerance
    noise = compare(run, _run(seed=7))  # the same service measured again
    assert noise["counts"] == {"regressed": 0, "improved": 0, "unchanged": 5, "too_few": 0}


def test_a_rising_error_rate_is_regressed_and_a_small_one_is_not() -> None:
    result = compare(_run(), _run(health_failures=120))  # 0 % -> 30 %
    health = next(row for row in result["rows"] if row["scope"] == "GET /health")
    assert health["verdict"] == "regressed" and health["reason"] == "error rate 0.00% -> 30.00%"
    assert health["delta"]["error_rate_pct"] == 30.0
    assert _verdicts(result)["protocol http"] == "regressed"  # 120 of 800 http requests: 15 points up
    small = compare(_run(), _run(health_failures=2))  # 0.5 %: within the 1-point tolerance
    assert _verdicts(small)["GET /health"] == "unchanged"


def test_tolerance_and_the_baselines_repeat_spread_absorb_small_moves() -> None:
    old = _run(seed=1)
    nudged = compare(old, _run(seed=1, predict_shift_ms=1.5))  # exactly 1.5 ms slower: under 10 % of ~29.5 ms
    assert _verdicts(nudged)["POST /predict"] == "unchanged"
    strict = compare(old, _run(seed=1, predict_shift_ms=1.5), Tolerance(latency_pct=1.0, latency_ms=0.5))
    assert _verdicts(strict)["POST /predict"] == "regressed"
    noisy_baseline = {**old, "spread": {"POST /predict": {"p95_ms": {"range": 80.0}}}, "spread_runs": 3}
    result = compare(noisy_baseline, _run(seed=2, predict_shift_ms=50.0))
    predict = next(row for row in result["rows"] if row["scope"] == "POST /predict")
    assert predict["verdict"] == "unchanged" and predict["noise_ms"] == 80.0 and result["noise_runs"] == 3
    assert predict["reason"].endswith("(tolerance includes the p95 range of the baseline's repeats, 80.0 ms)")
    assert _verdicts(result)["protocol http"] == "regressed"  # the spread was given for /predict only


def test_rows_in_one_run_only_are_listed_not_judged() -> None:
    result = compare(_run(extra=True), _run())
    assert result["only_in_old"] == ["GET /model-info"] and len(result["rows"]) == 5
    assert compare(_run(), _run(extra=True))["only_in_old"] == []  # new rows are simply not compared
    untimed = {"requests": 3, "failures": 0, "histogram": None}
    assert p95_difference_interval(untimed, _run()["total"], Tolerance()) is None


def test_a_single_cold_call_is_too_few_samples_never_regressed() -> None:
    """Issue 19's false alarm: one cold call at 38 ms against four before was REGRESSED "p95 up 36.8..37.1 ms"."""
    old, new = Recorder(lambda: 1_000.0), Recorder(lambda: 1_000.0)
    for ms in (1.2, 1.1, 1.3, 1.2):
        old.record("GET", "/model-info", ms, 0, None)
    new.record("GET", "/model-info", 38.0, 0, None)
    for recorder in (old, new):
        for i in range(200):
            recorder.record("POST", "/predict", 20.0 + i % 7, 0, None)
    result = compare(_summary_of(old), _summary_of(new))
    row = next(r for r in result["rows"] if r["scope"] == "GET /model-info")
    assert row["verdict"] == "too_few" and row["p95_diff_ci_ms"] is None and row["samples"] == [4, 1]
    assert row["reason"].startswith("too few samples (n=4 before, n=1 now; at least 86 per run")
    assert result["regressed"] is False and result["counts"]["too_few"] == 1 and result["min_samples"] == 86


def test_the_minimum_follows_from_the_confidence() -> None:
    assert min_samples_for(0.95) == 86 and min_samples_for(0.90) == 72 and min_samples_for(0.99) == 117
    just = _run(n=86)
    assert compare(just, just)["counts"]["too_few"] == 0
    assert compare(_run(n=85), just)["counts"]["too_few"] == 4  # all but protocol http (2 x 85 requests)


def test_order_statistic_intervals_cover_the_quantile_at_small_n() -> None:
    """Coverage of the p95 interval over 2,000 exponential samples of each size: at least the level asked."""
    rng = np.random.default_rng(5)
    truth = -math.log(0.05)
    assert rank_interval(85, 0.95, 0.975) is None and min_samples(0.95, 0.975) == 86
    for n in (86, 150, 400):
        low, high = rank_interval(n, 0.95, 0.95)  # type: ignore[misc]
        samples = np.sort(rng.exponential(size=(2000, n)), axis=1)
        covered = (samples[:, low - 1] <= truth) & (truth <= samples[:, high - 1])
        assert covered.mean() >= 0.94, (n, covered.mean())


def _summary_of(recorder: Recorder) -> dict[str, Any]:
    total, protocols, endpoints = figures_of(recorder, 10.0)
    return {"total": total, "protocols": protocols, "endpoints": endpoints}


def test_a_settle_window_leaves_the_warm_up_of_both_runs_out() -> None:
    """Slow first calls in the first 5 s of the new run only: regressed with them, unchanged without them."""
    old, new = _timed_run(warm_up_ms=None), _timed_run(warm_up_ms=200.0)
    assert compare(old, new)["regressed"] is True
    settled_result = compare(old, new, Tolerance(settle_s=5.0))
    assert settled_result["regressed"] is False and settled_result["settle_s"] == 5.0
    predict = next(r for r in settled_result["rows"] if r["scope"] == "POST /predict")
    assert predict["samples"] == [300, 300] and predict["verdict"] == "unchanged"
    assert settled(new, 5.0)["endpoints"][0]["requests"] == 300
    with pytest.raises(ConfigError, match="--settle: this summary's endpoint_timeline has no histograms"):
        settled({**new, "endpoint_timeline": [{"t_s": 10.0, "endpoints": {"POST /predict": {"rps": 1.0}}}]}, 5.0)


def _timed_run(warm_up_ms: float | None) -> dict[str, Any]:
    """20 s of POST /predict at 20..26 ms, 30 requests per second, windows as a run records them; the first
    5 s bucket holds 40 extra calls at ``warm_up_ms``."""
    now = [1_000.0]
    recorder = Recorder(lambda: now[0])
    for i in range(400):
        now[0] = 1_000.0 + (i // 20) * 1.0 if i < 100 else 1_005.0 + (i - 100) / 20.0
        recorder.record("POST", "/predict", 20.0 + i % 7, 0, None)
    if warm_up_ms is not None:
        now[0] = 1_001.0
        for _ in range(40):
            recorder.record("POST", "/predict", warm_up_ms, 0, None)
    timeline = Timeline(1_000.0, None)
    timeline.add_endpoint_buckets(recorder.drain_endpoint_buckets(10_000), 1_020.0)
    summary = build_summary(recorder, {}, 20.0)
    summary["endpoint_timeline"] = timeline.as_lists()[1]
    return summary


def test_an_endpoint_failing_untimed_is_still_judged_by_its_error_rate() -> None:
    old, new = Recorder(lambda: 1_000.0), Recorder(lambda: 1_000.0)
    for _ in range(200):
        old.record("POST", "/predict", 20.0, 0, None)
        new.record("POST", "/predict", None, 0, Failure("connection refused"))  # no reply, no time
    row = compare(_summary_of(old), _summary_of(new))["rows"][-1]
    assert row["verdict"] == "regressed" and row["reason"].startswith("too few samples (n=0 now;")
    assert row["reason"].endswith("error rate 0.00% -> 100.00%")
