"""Before/after comparison: a clear regression is REGRESSED where it happened and only there; identical
runs and noise are not; tolerance and the baseline's repeat spread widen what counts as noise."""

from __future__ import annotations

import random
from typing import Any

import pytest

from load_tests.core.recorder import Recorder
from load_tests.core.request_types import Failure
from load_tests.core.summary import figures_of
from load_tests.reporting.compare import Tolerance, compare, p95_difference_interval

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
    assert result["counts"] == {"regressed": 2, "improved": 0, "unchanged": 3} and result["regressed"] is True
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
    assert same["counts"] == {"regressed": 0, "improved": 0, "unchanged": 5} and same["regressed"] is False
    for row in same["rows"]:
        assert row["delta"]["p95_ms"] == 0.0 and row["reason"] == "within noise and tolerance", row["scope"]
        low, high = row["p95_diff_ci_ms"]
        assert -2.0 < low <= 0.0 <= high < 2.0, row["scope"]  # centred on no change, inside the 2 ms tolerance
    noise = compare(run, _run(seed=7))  # the same service measured again
    assert noise["counts"] == {"regressed": 0, "improved": 0, "unchanged": 5}


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
