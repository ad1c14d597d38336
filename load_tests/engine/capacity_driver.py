"""Drives the capacity finder during a run: feeds it requests, closes steps, ends the run at the first break."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from locust.env import Environment

from load_tests.core.capacity import CapacityFinder
from load_tests.core.llm_metrics import Slo
from load_tests.core.plan import RunPlan
from load_tests.core.scenarios import Scenario
from load_tests.engine.pacing import Pacer
from load_tests.engine.progress import say
from load_tests.engine.shapes import ScenarioShape


class CapacityDriver:
    """One per capacity run, in the process that judges (alone, never with workers)."""

    def __init__(self, scenario: Scenario, plan: RunPlan, pacer: Pacer | None, harness_clock: Callable[[], float],
                 shape: ScenarioShape | None) -> None:  # fmt: skip
        started = (lambda: pacer.counts.started) if pacer is not None else None
        # Steps of users are the shape's stages: judge them on the shape's own clock, or a step's window
        # would take in the first moments of the next (seen: 0.5 s apart). Steps of rate follow the
        # pacing schedule, which starts with the harness's run.
        clock = shape.get_run_time if scenario.arrival is None and shape is not None else harness_clock
        self.finder = CapacityFinder(scenario, plan.thresholds, plan.validity.max_generator_cpu_pct, clock,
                                     iterations_started=started,
                                     rate_tolerance_pct=plan.validity.rate_tolerance_pct,
                                     llm_slo=Slo.from_dict(plan.llm_slo))  # fmt: skip
        self.shape = shape
        self.stopped_at: float | None = None  # epoch of the stop: nothing was scheduled after it

    def register(self, environment: Environment) -> None:
        environment.events.request.add_listener(self.finder.record)

    def judge(self, cpu_series: list[list[float]], now: float) -> None:
        """Close finished steps and print them; at the first broken one, ask the shape to end the run."""
        before = len(self.finder.results)
        reason = self.finder.tick(self.finder.run_time(), cpu_series)
        for result in self.finder.results[before:]:
            say(step_line(result, self.finder.unit))
        if reason is not None:
            self.stopped_at = now
            say(f"Capacity found: {reason}; ending the run")
            if self.shape is not None:
                self.shape.request_stop()

    def summary(self) -> dict[str, Any]:
        return self.finder.summary()


def step_line(result: dict[str, Any], unit: str) -> str:
    state = "held" if result["held"] else "BROKE: " + "; ".join(result["reasons"])
    p95, errors = result["p95_ms"] or 0.0, result["error_rate_pct"]
    figures = f"{result['rps']:.1f} req/s, p95 {p95:.1f} ms, errors {errors:.2f}%"
    return f"Capacity step {result['step']}: {result['load']:g} {unit}, {figures}: {state}"
