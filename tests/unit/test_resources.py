"""Resource thresholds: limits matched to series by pattern."""

from __future__ import annotations

from load_tests.core.thresholds import check_resources


def test_resource_limits_match_series_by_pattern() -> None:
    stats = {"generator.worker-1.cpu_percent": {"max": 50.0, "avg": 20.0},
             "generator.worker-2.cpu_percent": {"max": 95.0, "avg": 80.0},
             "target.cpu_percent": {"max": 70.0, "avg": 40.0}}  # fmt: skip
    summary = {"resources": {"stats": stats, "gpu": {"available": False}}}
    verdicts = check_resources(summary, {"generator.*.cpu_percent": {"max": 90}, "target.cpu_percent": {"avg": 50},
                                         "metrics.target_db_pool_in_use": {"max": 5}})  # fmt: skip
    by_scope = {(v.scope, v.metric): v for v in verdicts}
    assert by_scope[("resource generator.worker-1.cpu_percent", "max")].passed
    assert not by_scope[("resource generator.worker-2.cpu_percent", "max")].passed
    assert by_scope[("resource target.cpu_percent", "avg")].passed
    missing = by_scope[("resource metrics.target_db_pool_in_use", "max")]
    assert not missing.passed and missing.reason == "no samples of this series"
