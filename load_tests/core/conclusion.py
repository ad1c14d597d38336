"""The end of a run as a pure function: the recorded figures in, the summary and the exit code out.

The harness gathers what it recorded (:class:`RunRecord`) and calls :func:`conclude`; nothing here
reads a clock, a file or Locust, so every verdict can be unit-tested from figures alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from load_tests.core.capacity import capacity_verdicts
from load_tests.core.domain import DomainMetrics
from load_tests.core.plan import ValidityLimits
from load_tests.core.recorder import Recorder
from load_tests.core.run_folder import exit_code
from load_tests.core.scenarios import Arrival
from load_tests.core.summary import build_summary, with_not_started, with_verdicts
from load_tests.core.thresholds import evaluate
from load_tests.core.validity import check_validity


@dataclass
class RunRecord:
    """Everything one run recorded, merged across workers."""

    recorder: Recorder
    meta: dict[str, Any]  # partial, times, scenario, services, timeline, resources, workers, pacing...
    duration_s: float  # wall time of the whole run
    custom: DomainMetrics
    capacity: dict[str, Any] | None = None  # the capacity finder's result, for a capacity run
    not_started: dict[str, int] | None = None  # open model: intended start (epoch/100 s) -> iterations


def traffic_window(record: RunRecord) -> dict[str, Any]:
    """The seconds every rate divides by, and what they span.

    Closed model: from the first request sent to the last request ended, so the start-up, the stop
    tail and the workers' settling are left out. Open model: the span the schedule ran (its warm-up
    left out), since the arrival rate is defined over it.
    """
    pacing = record.meta.get("pacing")
    if pacing:
        return {"kind": "schedule", "seconds": float(pacing["ran_s"])}
    rec = record.recorder
    return {"kind": "requests", "seconds": rec.traffic_s(), "first_sent": rec.first_sent, "last_ended": rec.last_ended}


def conclude(record: RunRecord, thresholds: dict[str, Any], limits: ValidityLimits) -> tuple[dict[str, Any], int]:
    """The run summary with its verdicts, and the exit code (0 passed, 1 failed, 4 invalid)."""
    window = traffic_window(record)
    meta = {**record.meta, "duration_s": record.duration_s, "window": window}
    summary = build_summary(record.recorder, meta, window["seconds"])
    if record.not_started:
        end = record.recorder.last_ended or 0.0
        bounds = [(max(end - int(key) / 100.0, 0.0) * 1000.0, n) for key, n in record.not_started.items()]
        summary["total"] = with_not_started(summary["total"], bounds)
    summary["custom"] = record.custom.summary(window["seconds"])
    capacity = record.capacity
    # A capacity run by rate breaks a step when the rate falls short: that is judged per step, not here.
    summary["validity"] = check_validity(summary, limits, judge_rate=capacity is None)
    verdicts = evaluate(summary, thresholds)
    if capacity is not None:  # judged step by step: the whole run broke them by design
        summary["capacity"] = capacity
        verdicts = capacity_verdicts(capacity)
        if capacity["saturated"]:
            summary["validity"]["valid"] = False
            summary["validity"]["reasons"].append(capacity["verdict"])
    summary = with_verdicts(summary, verdicts)
    return summary, exit_code(summary["validity"]["valid"], summary["thresholds"]["passed"])


def pacing_record(arrival: Arrival, counts: dict[str, Any], ran_s: float, late_ms: float) -> dict[str, Any]:
    """The arrival schedule against what the generators did with it over the ``ran_s`` it ran."""
    ran_s = min(max(ran_s, 0.0), arrival.duration_s)
    planned = arrival.scheduled_between(0.0, ran_s)
    return {
        **asdict(arrival),
        "schedule_s": arrival.duration_s,
        "ran_s": round(ran_s, 3),
        "planned": planned,
        "planned_rate": planned / ran_s if ran_s else 0.0,
        "achieved_rate": counts["started"] / ran_s if ran_s else 0.0,
        **{k: v for k, v in counts.items() if k != "not_started"},
        "not_started": sum(counts.get("not_started", {}).values()),
        "late_ms": late_ms,
    }
