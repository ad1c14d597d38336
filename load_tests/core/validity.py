"""Is this run's latency about the service at all? Pure: a summary and limits in, a verdict out.

A run is *invalid* when its figures measure the load generator rather than the service:

- **generator saturated**: the median CPU of a Locust process stayed above ``max_generator_cpu_pct``
  (90 % by default; one process uses one core). A busy generator delays sends and replies alike,
  adding its own queueing to every latency (here, at 50 users Locust's HTTP median was 17 ms against
  a server that answers in well under 1 ms);
- **rate not achieved** (arrival-rate load): the iterations started fell short of the schedule by
  more than ``rate_tolerance_pct`` (10 % by default), so the service never saw the planned load.

An invalid run exits with ``EXIT_INVALID`` (core/run_folder.py) whatever its thresholds say.
"""

from __future__ import annotations

import statistics
from typing import Any

from load_tests.core.plan import ValidityLimits


def check_validity(summary: dict[str, Any], limits: ValidityLimits, *, judge_rate: bool = True) -> dict[str, Any]:
    """``{"valid", "reasons", "limits"}``; ``judge_rate=False`` when the rate is judged elsewhere (capacity steps)."""
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
    return {"valid": not reasons, "reasons": reasons, "limits": {"max_generator_cpu_pct": cpu_limit,
                                                                "rate_tolerance_pct": tolerance}}  # fmt: skip
