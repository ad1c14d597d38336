"""The timing-error rule of core/validity.py: a warning beside the ITL for token streams timed by a lagging
loop, invalid only past the opt-in ``max_timing_lag_ms``, the master never judged; and the probe itself."""

from __future__ import annotations

from typing import Any

from load_tests.core.plan import ValidityLimits
from load_tests.core.validity import check_validity


def _summary(lags: dict[str, list[float]], itl_p50: float | None = 100.0) -> dict[str, Any]:
    series = {f"generator.{p}.loop_lag_ms": [[2.0 * i, v] for i, v in enumerate(values)] for p, values in lags.items()}
    summary: dict[str, Any] = {"resources": {"series": series}}
    if itl_p50 is not None:
        summary["llm"] = {"itl_ms": {"p50": itl_p50}}
    return summary


def test_token_streams_timed_by_a_lagging_loop_get_a_warning_beside_the_itl() -> None:
    # worker-1's median interval p99 is 3.0 ms (its 40 ms start-up spike is one interval of three).
    summary = _summary({"worker-1": [40.0, 3.0, 2.5], "worker-2": [0.4, 0.6, 0.5], "master": [90.0, 80.0, 70.0]})
    result = check_validity(summary, ValidityLimits())
    assert result["valid"] and result["reasons"] == []
    assert result["warnings"] == [
        "warning: token timing (worker-1 event-loop lag p99 3.0 ms > 2 ms; the run's ITL p50 is 100.0 ms: "
        "each token's arrival time carries up to that error)"
    ]
    assert result["timing"] == {"loop_lag_p99_ms": {"worker-1": 3.0, "worker-2": 0.5}, "itl_p50_ms": 100.0,
                                "warn_lag_ms": 2.0}  # fmt: skip
    assert result["limits"]["max_timing_lag_ms"] is None


def test_the_opt_in_limit_makes_it_invalid_for_any_run() -> None:
    limits = ValidityLimits(max_timing_lag_ms=2.5)
    result = check_validity(_summary({"local": [3.0, 3.0]}), limits)
    assert not result["valid"] and result["warnings"] == []
    assert result["reasons"] == [
        "invalid: timing error (local event-loop lag p99 3.0 ms > max_timing_lag_ms 2.5 ms: every reply's time "
        "is late by up to that; the run's ITL p50 is 100.0 ms)"
    ]
    plain = check_validity(_summary({"local": [3.0, 3.0]}, itl_p50=None), limits)  # no token streams
    assert not plain["valid"] and plain["reasons"][0].endswith("late by up to that)")
    assert check_validity(_summary({"local": [2.4, 2.4]}), limits)["reasons"] == []


def test_no_warning_without_token_streams_or_below_two_ms() -> None:
    assert check_validity(_summary({"local": [9.0]}, itl_p50=None), ValidityLimits())["warnings"] == []
    assert check_validity(_summary({"local": [2.0, 1.0, 5.0]}), ValidityLimits())["warnings"] == []
    assert check_validity({}, ValidityLimits())["timing"]["loop_lag_p99_ms"] == {}


def test_the_probe_measures_how_long_the_loop_was_held() -> None:
    import subprocess
    import sys
    from pathlib import Path

    # In a child: the pytest process never imports gevent's monkey patching or Locust.
    code = """
import time, gevent
from load_tests.engine.resources import LoopLagProbe
probe = LoopLagProbe()
assert probe.take() is None  # the first take starts it
gevent.sleep(0.2)
free = probe.take()
for _ in range(5):
    until = time.perf_counter() + 0.05
    while time.perf_counter() < until:
        pass
    gevent.sleep(0.015)
held = probe.take()
probe.stop()
print(free, held)
"""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True, cwd=root)
    free, held = (float(v) for v in out.stdout.split())
    assert 0.0 <= free < 20.0 and 40.0 <= held < 200.0, out.stdout
