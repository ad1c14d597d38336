"""The capacity finder: raise the load step by step and stop at the first step that breaks the thresholds.

A ``kind: capacity`` scenario is a staircase of user stages (``start_users``, ``step_users``, up to
``max_users``, each ``step_duration`` long), or, open model, of arrival rates (``start_rate``,
``step_rate``, up to ``max_rate`` iterations/s run by a pool of ``max_users``; a step whose pool
cannot start the scheduled iterations breaks too: the service got too slow for that rate).

Each step is judged on its own window: the requests that completed between ``settle`` seconds into
the step (the ramp and warm-up are not judged) and the step's end, against the thresholds' global,
per-protocol and per-endpoint limits. The first step that breaks them ends the run; the last step
that held is the peak capacity. Each protocol is also judged alone (the global limits on its own
figures), so a report can say "gRPC held 60 users, REST broke at 40".

A generator that saturates (median CPU of the step above ``validity.max_generator_cpu_pct``)
measures itself, not the service: such a step can prove nothing, and the result says so instead of
claiming a capacity. Locust-free except for the recorder it feeds: tests import it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from load_tests.core.llm_metrics import Slo
from load_tests.core.recorder import Recorder
from load_tests.core.scenarios import ARRIVAL_WARMUP_S, Scenario, capacity_steps
from load_tests.core.summary import figures_of
from load_tests.core.thresholds import Verdict, evaluate


@dataclass
class Step:
    number: int
    load: float  # users, or iterations/s
    start_s: float
    end_s: float
    judged_from_s: float
    recorder: Recorder = field(default_factory=Recorder)
    result: dict[str, Any] | None = None
    started_before: int | None = None  # open model: iterations started when the window opened
    planned: int | None = None  # open model: iterations the schedule had due in the window


def unit_of(scenario: Scenario) -> str:
    return "iterations/s" if scenario.arrival is not None else "users"


def steps_of(scenario: Scenario) -> list[Step]:
    settle = scenario.capacity_settle_s or 0.0
    steps = []
    for number, (start, end, load) in enumerate(capacity_steps(scenario), start=1):
        step = Step(number, load, start, end, start + settle)
        if scenario.arrival is not None:
            step.planned = scenario.arrival.scheduled_between(step.judged_from_s - ARRIVAL_WARMUP_S,
                                                              end - ARRIVAL_WARMUP_S)  # fmt: skip
        steps.append(step)
    return steps


def step_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """The limits a step is judged by: latency, errors and throughput; not recovery, abort, resources
    or custom (those describe a whole run)."""
    return {k: rules.get(k) or {} for k in ("global", "protocols", "endpoints")}


def _reasons(verdicts: list[Verdict]) -> list[str]:
    return [f"{v.scope} {v.metric} {v.reason}" for v in verdicts if not v.passed]


def judge(
    step: Step, rules: dict[str, Any], cpu: list[float], max_cpu_pct: float, started: int | None = None,
    rate_tolerance_pct: float = 10.0,
) -> dict[str, Any]:  # fmt: skip
    """The figures and verdict of one finished step (``cpu``: generator CPU samples of its window;
    ``started``: open model, the iterations started in it, which must keep up with the schedule)."""
    seconds = max(step.end_s - step.judged_from_s, 1e-9)
    total, protocols, endpoints = figures_of(step.recorder, seconds)
    summary = {"total": total, "protocols": protocols, "endpoints": endpoints}
    reasons = _reasons(evaluate(summary, rules))
    if started is not None and step.planned and started < step.planned * (1 - rate_tolerance_pct / 100):
        reasons.append(f"rate not achieved: {started / seconds:.1f}/s of {step.planned / seconds:.1f}/s scheduled "
                       "(every user of the pool busy: the service is too slow for this rate)")  # fmt: skip
    by_protocol = {}
    for name, row in protocols.items():
        alone = {"global": rules.get("global") or {}, "protocols": {}, "endpoints": {}}
        if name in (rules.get("protocols") or {}):
            alone["protocols"] = {name: rules["protocols"][name]}
        mine = {"total": row, "protocols": {name: row}, "endpoints": [e for e in endpoints if e["protocol"] == name]}
        why = _reasons(evaluate(mine, alone))
        by_protocol[name] = {"requests": row["requests"], "rps": row["rps"], "p95_ms": row["p95_ms"],
                             "error_rate_pct": row["error_rate_pct"], "held": not why, "reasons": why}  # fmt: skip
    cpu_median = statistics.median(cpu) if cpu else None
    goodput = (total.get("llm") or {}).get("goodput")
    return {
        "step": step.number, "load": step.load, "start_s": step.start_s, "end_s": step.end_s,
        "iterations_planned": step.planned, "iterations_started": started,
        "judged_s": round(seconds, 3), "requests": total["requests"], "rps": total["rps"], "p95_ms": total["p95_ms"],
        "error_rate_pct": total["error_rate_pct"], "generator_cpu_pct": cpu_median,
        "saturated": cpu_median is not None and cpu_median > max_cpu_pct,
        "held": not reasons, "reasons": reasons, "protocols": by_protocol,
        **({"goodput": goodput} if goodput else {}),  # token streams with an SLO: attainment per step
    }  # fmt: skip


def _amount(load: float, unit: str) -> str:
    return f"{load:g} {unit}"


def conclude(
    results: list[dict[str, Any]], steps_planned: int, max_cpu_pct: float, unit: str = "users"
) -> dict[str, Any]:
    """Peak capacity, the breaking step and the verdict from the judged steps, in order."""
    broke = next((r for r in results if not r["held"]), None)
    judged = results[: results.index(broke) + 1] if broke else results
    saturated = next((r for r in judged if r["saturated"]), None)
    held = [r for r in judged if r["held"]]
    peak = held[-1] if held and (broke is None or held[-1]["step"] < broke["step"]) else None
    if saturated is not None:
        verdict = (f"generator saturated at step {saturated['step']} ({_amount(saturated['load'], unit)}, CPU "
                   f"{saturated['generator_cpu_pct']:.0f}% > {max_cpu_pct:g}%) before the service was shown to "
                   "degrade: no capacity claimed; add workers (--workers N) or a bigger machine")  # fmt: skip
        peak = None
    elif broke is None and len(results) >= steps_planned:
        verdict = f"held every step up to the ceiling of {_amount(results[-1]['load'], unit)}: capacity is above it"
    elif broke is None:
        verdict = "the run ended before any step broke the thresholds"
    elif peak is None:
        verdict = f"no step held: step 1 ({_amount(broke['load'], unit)}) already broke the thresholds"
    else:
        why = "; ".join(broke["reasons"])
        verdict = (f"peak capacity {_amount(peak['load'], unit)}, {peak['rps']:.1f} requests/s at p95 "
                   f"{peak['p95_ms'] or 0:.1f} ms; broke at {_amount(broke['load'], unit)}: {why}")  # fmt: skip
    protocols = {}
    for name in sorted({p for r in judged for p in r["protocols"]}):
        rows = [(r, r["protocols"][name]) for r in judged if name in r["protocols"]]
        first_bad = next(((r, p) for r, p in rows if not p["held"]), None)
        good = [(r, p) for r, p in rows if p["held"] and (first_bad is None or r["step"] < first_bad[0]["step"])]
        protocols[name] = {
            "peak": {"step": good[-1][0]["step"], "load": good[-1][0]["load"], "rps": good[-1][1]["rps"],
                     "p95_ms": good[-1][1]["p95_ms"]} if good else None,
            "broke": {"step": first_bad[0]["step"], "load": first_bad[0]["load"],
                      "reasons": first_bad[1]["reasons"]} if first_bad else None,
        }  # fmt: skip
    return {
        "unit": unit, "steps": results, "steps_planned": steps_planned, "peak": peak, "broke": broke,
        "ceiling_reached": broke is None and len(results) >= steps_planned,
        "saturated": saturated is not None, "verdict": verdict, "protocols": protocols,
        "found": peak is not None and saturated is None,
    }  # fmt: skip


class CapacityFinder:
    """Drives the judging during a run: the harness feeds it requests and calls ``tick`` every second."""

    def __init__(
        self, scenario: Scenario, rules: dict[str, Any], max_cpu_pct: float, run_time: Callable[[], float],
        iterations_started: Callable[[], int] | None = None, rate_tolerance_pct: float = 10.0,
        llm_slo: Slo | None = None,
    ) -> None:  # fmt: skip
        self.run_time = run_time  # seconds into the run, on the clock the steps were laid out on
        self.unit = unit_of(scenario)
        self.iterations_started = iterations_started  # open model: the pacer's count of started iterations
        self.rate_tolerance_pct = rate_tolerance_pct
        self.steps = steps_of(scenario)
        for step in self.steps:  # token streams: each step judges goodput by the run's SLO
            step.recorder.llm_slo = llm_slo
        self.rules = step_rules(rules)
        self.max_cpu_pct = max_cpu_pct
        self.results: list[dict[str, Any]] = []
        self.current: Step | None = None  # the step whose judged window is open
        self.stop_reason: str | None = None

    def record(self, **kwargs: Any) -> None:
        """A request that completed now counts for the open window, if now lies inside it."""
        step = self.current
        if step is not None and step.judged_from_s <= self.run_time() < step.end_s:
            step.recorder.record(**kwargs)

    def tick(self, t: float, cpu_series: list[list[float]]) -> str | None:
        """Open and close judged windows at ``t`` seconds into the run; the reason to stop, once."""
        if self.stop_reason is not None:
            return None
        for step in self.steps:
            if step.result is None and t >= step.end_s:
                self._close(step, cpu_series)
                if not step.result["held"]:  # type: ignore[index]
                    self.stop_reason = f"step {step.number} ({_amount(step.load, self.unit)}) broke the thresholds"
                    return self.stop_reason
        opening = next((s for s in self.steps if s.judged_from_s <= t < s.end_s), None)
        if opening is not None and opening is not self.current and opening.result is None:
            self.current = opening
            if self.iterations_started is not None:
                opening.started_before = self.iterations_started()
        return None

    def _close(self, step: Step, cpu_series: list[list[float]]) -> None:
        if self.current is step:
            self.current = None
        cpu = [v for t, v in cpu_series if step.judged_from_s <= t <= step.end_s]
        started = None
        if self.iterations_started is not None and step.started_before is not None:
            started = self.iterations_started() - step.started_before
        step.result = judge(step, self.rules, cpu, self.max_cpu_pct, started, self.rate_tolerance_pct)
        self.results.append(step.result)

    def summary(self) -> dict[str, Any]:
        return conclude(self.results, len(self.steps), self.max_cpu_pct, self.unit)


def capacity_verdicts(result: dict[str, Any]) -> list[Verdict]:
    """The run's verdict: passed when a capacity was found (a step held before one broke, or the ceiling)."""
    peak = result["peak"]
    metric = "peak_users" if result["unit"] == "users" else "peak_rate"
    return [Verdict("capacity", metric, 0.0, peak["load"] if peak else None, bool(result["found"]), result["verdict"])]
