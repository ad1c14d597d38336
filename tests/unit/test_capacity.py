"""The capacity finder: stops at the step that breaks the thresholds, and says so honestly."""

from __future__ import annotations

from typing import Any

import pytest

from load_tests.core.capacity import CapacityFinder, Step, conclude, judge, step_rules, steps_of
from load_tests.core.request_types import Failure
from load_tests.core.scenarios import BUILTIN_SCENARIOS, capacity_rate_scenario, capacity_scenario, capacity_steps
from load_tests.core.thresholds import merge_rules

SLOW = ["global p95_ms 900.00 > 500"]


def _step(number: int, users: int, held: bool, cpu: float = 20.0, protocols: dict | None = None) -> dict[str, Any]:
    http = {"rps": 10.0 * users, "p95_ms": 20.0, "held": held, "reasons": [] if held else SLOW}
    return {"step": number, "load": users, "rps": 10.0 * users, "p95_ms": 20.0 if held else 900.0,
            "error_rate_pct": 0.0, "generator_cpu_pct": cpu, "saturated": cpu > 90, "held": held,
            "reasons": [] if held else SLOW, "protocols": protocols or {"http": http}}  # fmt: skip


def test_the_peak_is_the_last_step_that_held() -> None:
    result = conclude([_step(1, 10, True), _step(2, 20, True), _step(3, 30, False)], 10, 90)
    assert result["found"] and result["peak"]["load"] == 20 and result["broke"]["load"] == 30
    assert result["verdict"].startswith("peak capacity 20 users, 200.0 requests/s")
    assert "broke at 30 users: global p95_ms 900.00 > 500" in result["verdict"]


def test_a_saturated_generator_claims_no_capacity() -> None:
    result = conclude([_step(1, 10, True), _step(2, 20, True, cpu=97), _step(3, 30, False, cpu=99)], 10, 90)
    assert not result["found"] and result["peak"] is None and result["saturated"]
    assert "generator saturated at step 2 (20 users, CPU 97% > 90%)" in result["verdict"]
    assert "no capacity claimed" in result["verdict"]


def test_the_ceiling_and_the_first_step_breaking() -> None:
    ceiling = conclude([_step(1, 10, True), _step(2, 20, True)], 2, 90)
    assert ceiling["found"] and ceiling["ceiling_reached"] and "capacity is above it" in ceiling["verdict"]
    hopeless = conclude([_step(1, 10, False)], 5, 90)
    assert not hopeless["found"] and hopeless["verdict"].startswith("no step held")


def test_each_protocol_has_its_own_peak() -> None:
    def protocols(grpc_held: bool, http_held: bool) -> dict[str, Any]:
        return {name: {"rps": 5.0, "p95_ms": 10.0, "held": held, "reasons": [] if held else ["slow"]}
                for name, held in (("grpc", grpc_held), ("http", http_held))}  # fmt: skip

    steps = [_step(1, 10, True, protocols=protocols(True, True)), _step(2, 20, True, protocols=protocols(True, False)),
             _step(3, 30, False, protocols=protocols(False, False))]  # fmt: skip
    result = conclude(steps, 5, 90)
    assert result["protocols"]["grpc"]["peak"]["load"] == 20 and result["protocols"]["grpc"]["broke"]["load"] == 30
    assert result["protocols"]["http"]["peak"]["load"] == 10 and result["protocols"]["http"]["broke"]["load"] == 20


def test_a_rate_step_whose_pool_cannot_keep_up_breaks() -> None:
    step = Step(3, 60.0, 10.0, 14.0, 11.0, planned=180)
    held = judge(step, {"global": {}}, [], 90, started=178)
    short = judge(step, {"global": {}}, [], 90, started=120)
    assert not any("rate not achieved" in r for r in held["reasons"])
    assert "rate not achieved: 40.0/s of 60.0/s scheduled" in " ".join(short["reasons"])


def test_rate_steps_are_runs_of_one_target_after_the_warm_up() -> None:
    scenario = capacity_rate_scenario("peak", 20, 20, 60, 4, 1, 10)
    assert capacity_steps(scenario) == [(2.0, 6.0, 20), (6.0, 10.0, 40), (10.0, 14.0, 60)]
    assert [s.planned for s in steps_of(scenario)] == [60, 120, 180]  # 3 judged seconds per step


class _Clock:
    """Seconds into the run, set by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _request(request_type: str, name: str, ms: float, exception: BaseException | None = None) -> dict[str, Any]:
    """The keyword arguments of Locust's ``request`` event for one finished request."""
    return {"request_type": request_type, "name": name, "response_time": ms, "response_length": 42,
            "response": None, "context": {}, "exception": exception, "start_time": 1_000.0,
            "url": f"http://127.0.0.1:8000{name}"}  # fmt: skip


def test_user_steps_are_the_stages_judged_after_the_settle() -> None:
    scenario = capacity_scenario("find", 10, 10, 30, 30, 10, 10)
    assert capacity_steps(scenario) == [(0.0, 30.0, 10.0), (30.0, 60.0, 20.0), (60.0, 90.0, 30.0)]
    assert [(s.number, s.load, s.start_s, s.end_s, s.judged_from_s, s.planned) for s in steps_of(scenario)] == [
        (1, 10.0, 0.0, 30.0, 10.0, None), (2, 20.0, 30.0, 60.0, 40.0, None), (3, 30.0, 60.0, 90.0, 70.0, None),
    ]  # fmt: skip
    builtin = capacity_steps(BUILTIN_SCENARIOS["capacity"])  # 10 to 200 users, 30 s each
    assert len(builtin) == 20 and builtin[0] == (0.0, 30.0, 10.0) and builtin[-1] == (570.0, 600.0, 200.0)
    assert capacity_steps(BUILTIN_SCENARIOS["spike"]) == [(0.0, 90.0, 50.0), (90.0, 180.0, 500.0),
                                                          (180.0, 300.0, 50.0)]  # fmt: skip


def test_a_step_is_judged_as_a_whole_and_per_protocol() -> None:
    rules = step_rules(merge_rules({"p95_ms": 100, "error_rate_pct": 5, "protocols": {"grpc": {"p95_ms": 30}},
                                    "recovery": {"after_stage": 1, "p95_ms": 1, "within_s": 1}}, {}))  # fmt: skip
    assert rules == {"global": {"p95_ms": 100, "error_rate_pct": 5}, "protocols": {"grpc": {"p95_ms": 30}},
                     "endpoints": {}}  # fmt: skip
    step = Step(1, 10.0, 0.0, 10.0, 2.0)
    for _ in range(40):
        step.recorder.record(**_request("POST", "/predict", 20.0))
        step.recorder.record(**_request("gRPC unary", "Inference/Predict", 50.0))
    slow_grpc = ["protocol grpc p95_ms 50.00 > 30"]
    assert judge(step, rules, [30.0, 95.0, 40.0], 90) == {
        "step": 1, "load": 10.0, "start_s": 0.0, "end_s": 10.0, "iterations_planned": None,
        "iterations_started": None, "judged_s": 8.0, "requests": 80, "rps": 10.0, "p95_ms": 50.0,
        "error_rate_pct": 0.0, "generator_cpu_pct": 40.0, "saturated": False, "held": False, "reasons": slow_grpc,
        "protocols": {
            "grpc": {"requests": 40, "rps": 5.0, "p95_ms": 50.0, "error_rate_pct": 0.0, "held": False,
                     "reasons": slow_grpc},
            "http": {"requests": 40, "rps": 5.0, "p95_ms": 20.0, "error_rate_pct": 0.0, "held": True, "reasons": []},
        },
    }  # fmt: skip
    busy = judge(step, rules, [95.0, 96.0, 20.0], 90)
    assert busy["generator_cpu_pct"] == 95.0 and busy["saturated"] is True
    unsampled = judge(step, rules, [], 90)
    assert unsampled["generator_cpu_pct"] is None and unsampled["saturated"] is False
    for _ in range(5):
        step.recorder.record(**_request("POST", "/predict", 20.0, Failure("HTTP 500")))
    failing = judge(step, rules, [], 90)
    assert failing["error_rate_pct"] == pytest.approx(100 * 5 / 85)
    assert failing["reasons"] == ["global error_rate_pct 5.88 > 5", *slow_grpc]
    assert failing["protocols"]["http"]["reasons"] == ["global error_rate_pct 11.11 > 5"]


def test_the_finder_ticks_through_the_steps_and_stops_at_the_first_that_breaks() -> None:
    scenario = capacity_scenario("find", 2, 2, 6, 10, 10, 4)  # 2, 4, 6 users; 10 s each, judged after 4 s
    clock = _Clock()
    finder = CapacityFinder(scenario, merge_rules({"p95_ms": 100, "error_rate_pct": 5}, {}), 90, run_time=clock)
    latency = {0: 20.0, 1: 40.0, 2: 300.0}  # ms, per step: the third is too slow
    cpu = [[float(t), 50.0] for t in range(31)]
    stops = {}
    for t in range(31):
        clock.now = float(t)
        reason = finder.tick(float(t), cpu)
        if reason is not None:
            stops[t] = reason
        if t == 20:  # two steps judged, the third not yet
            midway = finder.summary()
            assert midway["verdict"] == "the run ended before any step broke the thresholds"
            assert midway["peak"]["load"] == 4.0 and midway["broke"] is None and not midway["ceiling_reached"]
        if t < 30:
            clock.now = t + 0.5  # five requests complete in the middle of each second
            for _ in range(5):
                finder.record(**_request("POST", "/predict", latency[t // 10]))
        if t % 10 == 9:  # a request that ends after its step but before the tick that closes the step
            clock.now = t + 1.2
            finder.record(**_request("POST", "/predict", 5_000.0))
    assert stops == {30: "step 3 (6 users) broke the thresholds"}
    assert finder.tick(31.0, cpu) is None  # the reason to stop is given once
    # Only the judged windows count: 6 s of each step (the 4 s settle left out), 5 requests a second.
    assert [(r["requests"], r["judged_s"], r["rps"], r["p95_ms"]) for r in finder.results] == [
        (30, 6.0, 5.0, 20.0), (30, 6.0, 5.0, 40.0), (30, 6.0, 5.0, 300.0),
    ]  # fmt: skip
    assert [r["generator_cpu_pct"] for r in finder.results] == [50.0, 50.0, 50.0]
    result = finder.summary()
    assert result["found"] and result["unit"] == "users" and result["steps_planned"] == 3
    assert (result["peak"]["load"], result["broke"]["load"]) == (4.0, 6.0)
    assert result["verdict"] == ("peak capacity 4 users, 5.0 requests/s at p95 40.0 ms; broke at 6 users: "
                                 "global p95_ms 300.00 > 100")  # fmt: skip
    assert result["protocols"] == {"http": {"peak": {"step": 2, "load": 4.0, "rps": 5.0, "p95_ms": 40.0},
                                            "broke": {"step": 3, "load": 6.0,
                                                      "reasons": ["global p95_ms 300.00 > 100"]}}}  # fmt: skip


def test_the_rate_finder_counts_the_iterations_started_in_each_judged_window() -> None:
    scenario = capacity_rate_scenario("peak", 20, 20, 40, 4, 1, 10)  # 20/s then 40/s, 4 s each, judged after 1 s
    clock = _Clock()
    started = [0]
    finder = CapacityFinder(scenario, merge_rules({"p95_ms": 100}, {}), 90, run_time=clock,
                            iterations_started=lambda: started[0])  # fmt: skip
    assert [(s.start_s, s.end_s, s.judged_from_s, s.planned) for s in finder.steps] == [
        (2.0, 6.0, 3.0, 60),
        (6.0, 10.0, 7.0, 120),
    ]
    stops = {}
    for t in range(11):
        clock.now = float(t)
        reason = finder.tick(float(t), [])
        if reason is not None:
            stops[t] = reason
        clock.now = t + 0.5
        for _ in range(5):
            finder.record(**_request("gRPC unary", "Inference/Predict", 10.0))
        started[0] += 20 if t < 7 else 25  # the pool keeps up with 20/s, not with 40/s
    assert stops == {10: "step 2 (40 iterations/s) broke the thresholds"}
    assert [(r["iterations_planned"], r["iterations_started"], r["held"]) for r in finder.results] == [
        (60, 60, True), (120, 75, False),
    ]  # fmt: skip
    assert finder.results[1]["reasons"] == [
        "rate not achieved: 25.0/s of 40.0/s scheduled (every user of the pool busy: the service is too slow for "
        "this rate)"
    ]
    result = finder.summary()
    assert result["unit"] == "iterations/s" and result["found"] and result["peak"]["load"] == 20.0
    assert result["verdict"].startswith("peak capacity 20 iterations/s, 5.0 requests/s at p95 10.0 ms; broke at 40 "
                                        "iterations/s: rate not achieved: 25.0/s of 40.0/s")  # fmt: skip


def test_a_step_is_judged_by_slo_attainment_too() -> None:
    """Token streams: a step whose attainment falls under the target breaks, with the SLO the run set."""
    from load_tests.core.llm_metrics import Slo

    rules = merge_rules({"slo_attainment_pct": {"min": 90}}, {})
    finder = CapacityFinder(capacity_scenario("find", 2, 2, 6, 10, 10, 4), rules, 90, lambda: 5.0,
                            llm_slo=Slo(ttft_ms=100))  # fmt: skip
    step = finder.steps[0]
    for ttft in (50, 60, 70, 150):  # 3 of 4 met: 75 % < 90 %
        llm = {"chunk_ms": [ttft, ttft + 5], "chunk_tokens": [1, 1], "e2e_ms": ttft + 6, "output_tokens": 2,
               "count_source": "usage", "completed": True}  # fmt: skip
        step.recorder.record("LLM stream", "POST /v1/chat/completions", ttft + 6, 0, None,
                             {"messages": 2, "gaps_ms": [5], "llm": llm})  # fmt: skip
    result = judge(step, finder.rules, [], 90)
    assert result["goodput"]["attainment_pct"] == 75.0 and not result["held"]
    assert result["reasons"] == ["global slo_attainment_pct min 75.00 < 90"]
