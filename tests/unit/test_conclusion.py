"""The end of a run as a pure function: validity, verdicts, exit code, and the rates' window."""

from __future__ import annotations

import pytest

from load_tests.core.conclusion import RunRecord, conclude, pacing_record, traffic_window
from load_tests.core.domain import DomainMetrics
from load_tests.core.plan import ValidityLimits
from load_tests.core.recorder import Recorder
from load_tests.core.scenarios import Arrival


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _recorder(requests: int, every_s: float, start: float = 1000.0, latency_ms: float = 50.0) -> Recorder:
    """``requests`` calls, one ending every ``every_s`` from ``start``, plus connects, pings and a push."""
    clock = Clock(start)
    recorder = Recorder(clock=clock)
    recorder.record("WS connect", "/ws/chat", 5.0)
    for i in range(requests):
        clock.now = start + i * every_s
        recorder.record("POST", "/predict", latency_ms)
        recorder.record("WS ping", "/ws/chat", 1.0)
    recorder.record("WS push", "news", None)
    return recorder


def _record(recorder: Recorder, **meta: object) -> RunRecord:
    base = {"partial": False, "pacing": None, "resources": {"series": {}}}
    return RunRecord(recorder, {**base, **meta}, duration_s=25.0, custom=DomainMetrics())


def test_rates_are_over_the_traffic_window_not_the_wall_time() -> None:
    recorder = _recorder(201, 0.1)  # requests sent from 999.95 to 1019.95, the last ended at 1020.0
    summary, code = conclude(_record(recorder), {"global": {"min_rps": 9.5}}, ValidityLimits())
    assert summary["window_s"] == pytest.approx(20.05) and summary["duration_s"] == 25.0
    assert summary["window"]["kind"] == "requests"
    assert summary["total"]["requests"] == 201  # connects, pings and the push are no requests
    assert summary["total"]["rps"] == pytest.approx(201 / 20.05)
    assert summary["protocols"]["http"]["rps"] == summary["total"]["rps"]
    rows = {(r["request_type"], r["name"]): r for r in summary["endpoints"]}
    assert rows[("WS ping", "/ws/chat")]["requests"] == 201 and "websocket" not in summary["protocols"]
    assert code == 0 and summary["thresholds"]["passed"]  # 10.0/s > 9.5; over 25 s it would be 8.0/s


def test_connects_pings_and_pushes_count_only_when_asked() -> None:
    recorder = _recorder(10, 1.0)
    recorder.include_connections = True
    summary, _ = conclude(_record(recorder), {}, ValidityLimits())
    assert summary["total"]["requests"] == 10 + 1 + 10 + 1 and "websocket" in summary["protocols"]


def test_failed_connects_do_not_dilute_or_inflate_the_error_rate() -> None:
    recorder = _recorder(99, 0.1)
    recorder.record("POST", "/predict", 10.0, exception="error 500")
    recorder.record("WS connection", "/ws/chat", None, exception="connection dropped")
    summary, code = conclude(_record(recorder), {"global": {"error_rate_pct": 1.0}}, ValidityLimits())
    assert summary["total"]["error_rate_pct"] == pytest.approx(1.0) and code == 0


def test_domain_counter_rates_use_the_same_window() -> None:
    custom = DomainMetrics()
    custom.count("tokens", 4010.0)
    record = RunRecord(_recorder(201, 0.1), {"pacing": None, "resources": {"series": {}}}, 30.0, custom)
    summary, _ = conclude(record, {}, ValidityLimits())
    assert summary["custom"]["tokens"]["per_second"] == pytest.approx(4010.0 / 20.05)


def test_an_open_model_run_divides_by_its_scheduled_span() -> None:
    arrival = Arrival("constant_arrival_rate", 20.0, ((10.0, 20.0),), 5)
    counts = {"scheduled": 200, "started": 197, "dropped": 3, "late": 4, "lateness_max_ms": 900.0,
              "not_started": {"100100": 2, "100500": 1}}  # fmt: skip
    pacing = pacing_record(arrival, counts, ran_s=10.4, late_ms=10.0)
    assert pacing["ran_s"] == 10.0 and pacing["planned"] == 200 and pacing["not_started"] == 3
    recorder = _recorder(197, 0.05, start=1000.0)
    record = _record(recorder, pacing=pacing)
    assert traffic_window(record) == {"kind": "schedule", "seconds": 10.0}
    summary, _ = conclude(record, {}, ValidityLimits())
    assert summary["total"]["rps"] == pytest.approx(19.7)


def test_iterations_that_never_started_enter_corrected_latency_at_a_lower_bound() -> None:
    clock = Clock(1000.0)
    recorder = Recorder(clock=clock, lateness=lambda: 0.0)
    for i in range(97):
        clock.now = 1000.0 + i * 0.1
        recorder.record("POST", "/predict", 20.0)
    # three iterations never started: due at 1001.0 (twice) and 1005.0; the last request ended at 1009.6
    record = _record(recorder)
    record.not_started = {"100100": 2, "100500": 1}
    summary, _ = conclude(record, {}, ValidityLimits())
    corrected = summary["total"]["corrected"]
    assert corrected["not_started"] == 3 and corrected["started_only"] is False
    assert corrected["max_ms"] == pytest.approx(8600.0, rel=0.01)  # 1009.6 - 1001.0
    assert corrected["p99_ms"] >= 4600.0  # the 3 % that never started are the slowest 3 %
    assert corrected["p50_ms"] == pytest.approx(20.0, rel=0.01)
    endpoint = summary["endpoints"][0]["corrected"]
    assert endpoint["started_only"] is True and endpoint["max_ms"] == pytest.approx(20.0, rel=0.01)


def test_a_saturated_generator_makes_the_run_invalid_whatever_the_thresholds() -> None:
    series = {"generator.local.cpu_percent": [[1, 97.0], [2, 99.0], [3, 95.0]]}
    summary, code = conclude(_record(_recorder(10, 1.0), resources={"series": series}), {}, ValidityLimits())
    assert code == 4 and not summary["validity"]["valid"]
    assert "generator saturated (local CPU median 97% > 90%)" in summary["validity"]["reasons"][0]
    _, code = conclude(_record(_recorder(10, 1.0), resources={"series": series}), {}, ValidityLimits(99.0))
    assert code == 0


def test_a_rate_shortfall_is_invalid_except_in_a_capacity_run_that_judges_it_per_step() -> None:
    arrival = Arrival("constant_arrival_rate", 20.0, ((10.0, 20.0),), 5)
    counts = {"scheduled": 200, "started": 150, "dropped": 50, "late": 0, "lateness_max_ms": 0.0}
    pacing = pacing_record(arrival, counts, ran_s=10.0, late_ms=10.0)
    summary, code = conclude(_record(_recorder(150, 0.05), pacing=pacing), {}, ValidityLimits())
    assert code == 4 and "rate not achieved" in summary["validity"]["reasons"][0]
    capacity = {"unit": "iterations/s", "peak": {"load": 10.0}, "found": True, "saturated": False,
                "verdict": "peak capacity 10 iterations/s"}  # fmt: skip
    record = _record(_recorder(150, 0.05), pacing=pacing)
    record.capacity = capacity
    summary, code = conclude(record, {}, ValidityLimits())
    assert code == 0 and summary["validity"]["valid"] and summary["capacity"] is capacity
