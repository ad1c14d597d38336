"""Comparison of run summaries built from a real Recorder (pure, but over 2 s: the slow tier)."""

from __future__ import annotations

from load_tests.core.recorder import Recorder
from load_tests.reporting.compare import Tolerance, compare
from tests.unit.test_reports import _summary


def test_compare_calls_a_real_shift_regressed_and_noise_unchanged() -> None:
    old = _summary(Recorder(), seed=1)
    same = _summary(Recorder(), seed=2)  # same distribution, other draws
    slower = _summary(Recorder(), seed=3, shift_ms={"/predict": 20.0})
    faster = _summary(Recorder(), seed=4, shift_ms={"chat": -3.0})
    assert compare(old, same)["counts"] == {"regressed": 0, "improved": 0, "unchanged": 5, "too_few": 0}  # 2 + 3 rows
    verdicts = {r["scope"]: r["verdict"] for r in compare(old, slower)["rows"]}
    assert verdicts["POST /predict"] == "regressed"
    assert verdicts["GET /health"] == verdicts["WS stream chat"] == "unchanged"
    row = next(r for r in compare(old, slower)["rows"] if r["scope"] == "POST /predict")
    assert 15 < row["delta"]["p95_ms"] < 25 and row["p95_diff_ci_ms"][0] > 2.0
    improved = {r["scope"]: r["verdict"] for r in compare(old, faster, Tolerance(latency_pct=10, latency_ms=1))["rows"]}
    assert improved["WS stream chat"] == "improved"
