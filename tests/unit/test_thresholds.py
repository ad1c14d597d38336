"""Threshold rules on hand-made summaries: merging the file's and the scenario's rules, each verdict and
its reason, the abort rule and the small helpers every check goes through."""

from __future__ import annotations

from typing import Any

import pytest

from load_tests.core.thresholds import Verdict, beyond_hope, evaluate, merge_rules, value_at, within


def _row(requests: int, failures: int, p95: float | None, p99: float | None, avg: float | None, rps: float,
         **extra: Any) -> dict[str, Any]:  # fmt: skip
    error_rate = 100.0 * failures / requests if requests else 0.0
    return {"requests": requests, "failures": failures, "error_rate_pct": error_rate, "p95_ms": p95, "p99_ms": p99,
            "avg_ms": avg, "rps": rps, **extra}  # fmt: skip


def _summary() -> dict[str, Any]:
    return {
        "total": _row(200, 4, 120.0, 300.0, 50.0, 20.0, corrected={"p95_ms": 180.0, "p99_ms": 400.0}),
        "protocols": {"http": _row(150, 4, 130.0, 310.0, 55.0, 15.0), "grpc": _row(50, 0, 40.0, 60.0, 30.0, 5.0)},
        "endpoints": [
            {"request_type": "POST", "name": "/predict", **_row(150, 4, 130.0, 310.0, 55.0, 15.0)},
            {"request_type": "gRPC unary", "name": "Inference/Predict", **_row(50, 0, 40.0, 60.0, 30.0, 5.0)},
        ],
    }


def test_scenario_rules_replace_the_files_and_special_sections_are_kept_apart() -> None:
    file_rules = {
        "p95_ms": 500, "error_rate_pct": 1, "avg_ms": None,
        "protocols": {"grpc": {"p95_ms": 50, "p99_ms": None}},
        "endpoints": {"POST /predict": {"p99_ms": 900}},
        "recovery": {"after_stage": 1, "p95_ms": 100, "within_s": 5},
        "abort": {"after_s": 5, "error_rate_pct": 50},
        "resources": {"target.cpu_percent": {"max": 80}},
        "custom": {"tokens_per_second": {"min": 10, "max": None}},
    }  # fmt: skip
    scenario_rules = {"p95_ms": 200, "min_rps": None, "recovery": {"after_stage": 2, "p95_ms": 50, "within_s": 3},
                      "endpoints": {"GET /health": {"p95_ms": 1}}}  # fmt: skip
    rules = merge_rules(file_rules, scenario_rules)
    assert rules == {
        "global": {"p95_ms": 200, "error_rate_pct": 1},  # the scenario's p95 wins, None values are dropped
        "protocols": {"grpc": {"p95_ms": 50}},
        "endpoints": {"POST /predict": {"p99_ms": 900}},  # a scenario's endpoints section is not a global limit
        "recovery": {"after_stage": 2, "p95_ms": 50, "within_s": 3},
        "abort": {"after_s": 5, "error_rate_pct": 50},
        "resources": {"target.cpu_percent": {"max": 80}},
        "custom": {"tokens_per_second": {"min": 10}},
    }
    assert merge_rules({}, {}) == {"global": {}, "protocols": {}, "endpoints": {}, "recovery": None, "abort": None,
                                   "resources": {}, "custom": {}}  # fmt: skip


def test_within_a_maximum_or_a_minimum_and_its_reason() -> None:
    assert within(80.0, 100, is_max=True) == (True, "80.00 <= 100")
    assert within(100.0, 100, is_max=True) == (True, "100.00 <= 100")  # the limit itself keeps to it
    assert within(100.01, 100, is_max=True) == (False, "100.01 > 100")
    assert within(5.0, 5, is_max=False) == (True, "5.00 >= 5")
    assert within(4.99, 5, is_max=False) == (False, "4.99 < 5")
    assert within(None, 5, is_max=False) == (False, "no data")
    assert within(0.123456, 0.5, is_max=True, digits=".3g") == (True, "0.123 <= 0.5")


def test_value_at_follows_a_dotted_path_and_gives_none_where_a_step_is_missing() -> None:
    row = {"p95_ms": 3.5, "corrected": {"p99_ms": 12.5}, "empty": None}
    assert value_at(row, "p95_ms") == 3.5
    assert value_at(row, "corrected.p99_ms") == 12.5
    assert value_at(row, "corrected.p95_ms") is None
    assert value_at(row, "empty.p99_ms") is None
    assert value_at(row, "p95_ms.deeper") is None  # a number has no fields
    assert value_at(None, "p95_ms") is None


def test_every_scope_gets_its_verdicts_in_order_with_actual_figures() -> None:
    rules = merge_rules(
        {"p95_ms": 100, "error_rate_pct": 5, "min_rps": 25, "corrected_p99_ms": 500,
         "protocols": {"grpc": {"p99_ms": 50}, "websocket": {"p95_ms": 10}},
         "endpoints": {"POST /predict": {"p95_ms": 150, "avg_ms": 50}, "GET /missing": {"p95_ms": 1}}},
        {},
    )  # fmt: skip
    verdicts = evaluate(_summary(), rules)
    assert [(v.scope, v.metric, v.limit, v.actual, v.passed, v.reason) for v in verdicts] == [
        ("global", "p95_ms", 100.0, 120.0, False, "120.00 > 100"),
        ("global", "error_rate_pct", 5.0, 2.0, True, "2.00 <= 5"),
        ("global", "min_rps", 25.0, 20.0, False, "20.00 < 25"),
        ("global", "corrected_p99_ms", 500.0, 400.0, True, "400.00 <= 500"),
        ("protocol grpc", "p99_ms", 50.0, 60.0, False, "60.00 > 50"),
        ("protocol websocket", "p95_ms", 10.0, None, False, "no data"),
        ("endpoint POST /predict", "p95_ms", 150.0, 130.0, True, "130.00 <= 150"),
        ("endpoint POST /predict", "avg_ms", 50.0, 55.0, False, "55.00 > 50"),
        ("endpoint GET /missing", "p95_ms", 1.0, None, False, "no data"),
    ]  # fmt: skip
    assert verdicts[0].as_dict() == {"scope": "global", "metric": "p95_ms", "limit": 100.0, "actual": 120.0,
                                     "passed": False, "reason": "120.00 > 100"}  # fmt: skip


def test_an_empty_or_aborted_run_fails_whatever_the_limits() -> None:
    empty = {"total": _row(0, 0, None, None, None, 0.0), "protocols": {}, "endpoints": []}
    assert evaluate(empty, merge_rules({}, {})) == [Verdict("global", "requests", 1, 0, False, "no requests were made")]
    aborted = {**_summary(), "aborted": "error rate 90.0% > 50% after 11s"}
    verdicts = evaluate(aborted, merge_rules({"p95_ms": 1000}, {}))
    assert [(v.scope, v.passed) for v in verdicts] == [("global", True), ("abort", False)]
    assert verdicts[-1].reason == "run aborted: error rate 90.0% > 50% after 11s"


def test_custom_and_resource_rules_are_part_of_the_verdict() -> None:
    summary = {**_summary(), "custom": {"tokens": {"kind": "counter", "value": 600.0, "per_second": 30.0}},
               "resources": {"stats": {"target.cpu_percent": {"max": 85.0}}, "gpu": {"available": False}}}  # fmt: skip
    file_rules = {"custom": {"tokens_per_second": {"min": 50}}, "resources": {"target.cpu_percent": {"max": 90}}}
    got = [(v.scope, v.metric, v.actual, v.passed, v.reason) for v in evaluate(summary, merge_rules(file_rules, {}))]
    assert got == [
        ("resource target.cpu_percent", "max", 85.0, True, "max 85.0 <= 90"),
        ("custom tokens_per_second", "min", 30.0, False, "30 < 50"),
    ]


@pytest.mark.parametrize(
    ("total", "window_p95", "rule", "elapsed", "expected"),
    [
        ({"requests": 10, "failures": 6}, 5.0, {"after_s": 10, "error_rate_pct": 50}, 9.99, None),
        ({"requests": 10, "failures": 6}, 5.0, {"after_s": 10, "error_rate_pct": 50}, 10.0,
         "error rate 60.0% > 50% after 10s"),
        ({"requests": 10, "failures": 5}, 5.0, {"error_rate_pct": 50}, 30.0, None),  # at the limit: not beyond it
        ({"requests": 10, "failures": 6}, 2500.0, {"error_rate_pct": 50, "p95_ms": 1000}, 0.0,
         "error rate 60.0% > 50% after 0s"),  # both broken: the error rate is named
        ({"requests": 10, "failures": 0}, 2500.0, {"error_rate_pct": 50, "p95_ms": 1000}, 42.4,
         "p95 2500 ms > 1000 ms after 42s"),
        ({"requests": 0, "failures": 0}, None, {"error_rate_pct": 0, "p95_ms": 1}, 60.0, None),  # nothing measured
        ({"requests": 10, "failures": 10}, 9999.0, {"after_s": None}, 60.0, None),  # no limits: never
    ],
)  # fmt: skip
def test_the_abort_rule_after_its_grace_period(
    total: dict[str, int], window_p95: float | None, rule: dict[str, Any], elapsed: float, expected: str | None
) -> None:
    assert beyond_hope(total, window_p95, rule, elapsed) == expected
