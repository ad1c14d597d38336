"""Is this run's latency about the service at all? Pure: a summary and limits in, a verdict out.

A run is *invalid* when its figures measure the load generator rather than the service:

- **generator saturated**: the median CPU of a Locust process stayed above ``max_generator_cpu_pct``
  (90 % by default; one process uses one core). A busy generator delays sends and replies alike,
  adding its own queueing to every latency (here, at 50 users Locust's HTTP median was 17 ms against
  a server that answers in well under 1 ms);
- **rate not achieved** (arrival-rate load): the iterations started fell short of the schedule by
  more than ``rate_tolerance_pct`` (10 % by default), so the service never saw the planned load;
- **timing error** (opt-in, ``max_timing_lag_ms``): a Locust process's event-loop lag (the median over
  the run of each interval's p99, ``generator.<process>.loop_lag_ms``, engine/resources.py) above the
  limit. That lag is added to the time of every reply, chunk and token the process reads.

A run whose token streams were timed by a process with a loop lag above :data:`WARN_LAG_MS` (the 2 ms
ITL error the project promises) gets a *warning*, with the lag and the run's ITL p50 side by side, and
stays valid. Why not invalid by default: whether a 3 ms error matters depends on the gaps it is
measured against (nothing at 100 ms tokens, everything at 2 ms ones), and a busy CI machine lags that
much now and then; a team that needs the guarantee sets ``validity.max_timing_lag_ms``. The master of a
distributed run times nothing, so its lag is not judged.

An invalid run exits with ``EXIT_INVALID`` (core/run_folder.py) whatever its thresholds say.
"""

from __future__ import annotations

import statistics
from typing import Any

from load_tests.core.plan import ValidityLimits

WARN_LAG_MS = 2.0  # issue 18's ITL error goal: above it, a token's time is off by more than we promise
LAG_SUFFIX = ".loop_lag_ms"


def check_validity(summary: dict[str, Any], limits: ValidityLimits, *, judge_rate: bool = True) -> dict[str, Any]:
    """``{"valid", "reasons", "warnings", "timing", "limits"}``; ``judge_rate=False`` when the rate is judged
    elsewhere (capacity steps)."""
    cpu_limit = limits.max_generator_cpu_pct
    tolerance = limits.rate_tolerance_pct
    reasons: list[str] = []
    series = (summary.get("resources") or {}).get("series") or {}
    for name, points in sorted(series.items()):
        if not (name.startswith("generator.") and name.endswith(".cpu_percent")) or not points:
            continue
        median = statistics.median(v for _, v in points)
        if median > cpu_limit:
            process = name.removeprefix("generator.").removesuffix(".cpu_percent")
            reasons.append(f"invalid: generator saturated ({process} CPU median {median:.0f}% > {cpu_limit:g}%)")
    pacing = summary.get("pacing")
    if judge_rate and pacing and pacing.get("planned"):
        achieved, planned = pacing["started"], pacing["planned"]
        if achieved < planned * (1 - tolerance / 100.0):
            reasons.append(
                f"invalid: rate not achieved ({pacing['achieved_rate']:.1f}/s of {pacing['planned_rate']:.1f}/s "
                f"scheduled: {achieved} of {planned} iterations started, {pacing['dropped']} dropped; "
                f"tolerance {tolerance:g}%)"
            )
    timing = timing_error(summary)
    warnings = _timing_verdicts(timing, limits.max_timing_lag_ms, reasons)
    return {"valid": not reasons, "reasons": reasons, "warnings": warnings, "timing": timing,
            "limits": {"max_generator_cpu_pct": cpu_limit, "rate_tolerance_pct": tolerance,
                       "max_timing_lag_ms": limits.max_timing_lag_ms}}  # fmt: skip


def timing_error(summary: dict[str, Any]) -> dict[str, Any]:
    """``{"loop_lag_p99_ms": {process: median of its interval p99s}, "itl_p50_ms", "warn_lag_ms"}``: the
    generator's own timing error per Locust process (the master excluded) and what it is added to."""
    series = (summary.get("resources") or {}).get("series") or {}
    lags: dict[str, float] = {}
    for name, points in sorted(series.items()):
        process = name.removeprefix("generator.").removesuffix(LAG_SUFFIX)
        if name.startswith("generator.") and name.endswith(LAG_SUFFIX) and points and process != "master":
            lags[process] = round(statistics.median(v for _, v in points), 3)
    itl = ((summary.get("llm") or {}).get("itl_ms") or {}).get("p50")
    return {"loop_lag_p99_ms": lags, "itl_p50_ms": itl, "warn_lag_ms": WARN_LAG_MS}


def _timing_verdicts(timing: dict[str, Any], limit: float | None, reasons: list[str]) -> list[str]:
    """Adds the opt-in limit's reasons to ``reasons``; returns the warnings for timed token streams."""
    itl = timing["itl_p50_ms"]
    beside = f"; the run's ITL p50 is {itl:.1f} ms" if itl is not None else ""
    warnings: list[str] = []
    for process, lag in timing["loop_lag_p99_ms"].items():
        if limit is not None and lag > limit:
            reasons.append(
                f"invalid: timing error ({process} event-loop lag p99 {lag:.1f} ms > max_timing_lag_ms "
                f"{limit:g} ms: every reply's time is late by up to that{beside})"
            )
        elif itl is not None and lag > WARN_LAG_MS:
            warnings.append(
                f"warning: token timing ({process} event-loop lag p99 {lag:.1f} ms > {WARN_LAG_MS:g} ms{beside}: "
                "each token's arrival time carries up to that error)"
            )
    return warnings
