"""Early stop on saturation: end an open-model run once the service plainly cannot keep up.

Past saturation a run only burns time (and, for an LLM server, GPU hours): iterations are dropped or
start late because every user of the pool is still waiting, and errors climb. The scenario's
``stop_when`` names the limits (``error_rate_pct``, ``dropped_pct``, ``late_pct``; any one broken is
enough) and ``for``, the window they are judged over: every second, the share of failed requests and
of dropped (or late) iterations among those *scheduled in the last* ``for`` *seconds* is compared with
the limits, once the run has lasted a whole window. Judging a window rather than one second keeps a
short stall, or a worker's lumpy report, from ending a run that would have recovered.

Pure: the harness feeds :meth:`SaturationWatch.observe` the run's cumulative counts.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

DEFAULT_WINDOW_S = 10.0
LIMITS = ("error_rate_pct", "dropped_pct", "late_pct")


@dataclass(frozen=True)
class Counts:
    """Cumulative counts at one moment of the run."""

    t: float
    requests: int = 0
    failures: int = 0
    scheduled: int = 0
    dropped: int = 0
    late: int = 0


@dataclass
class SaturationWatch:
    rule: dict[str, float]  # LIMITS (any subset) and "for_s"
    history: deque[Counts] = field(default_factory=deque)

    @property
    def window_s(self) -> float:
        return float(self.rule.get("for_s") or DEFAULT_WINDOW_S)

    def observe(self, now: Counts) -> str | None:
        """Why the run is saturated (a limit broken over the last window), or None."""
        self.history.append(now)
        while len(self.history) > 1 and self.history[1].t <= now.t - self.window_s:
            self.history.popleft()
        first = self.history[0]
        if now.t - first.t < self.window_s - 1e-6:
            return None
        requests, scheduled = now.requests - first.requests, now.scheduled - first.scheduled
        shares = {
            "error_rate_pct": ("requests failed", now.failures - first.failures, requests),
            "dropped_pct": ("iterations dropped", now.dropped - first.dropped, scheduled),
            "late_pct": ("iterations late", now.late - first.late, scheduled),
        }
        for name, (what, part, whole) in shares.items():
            limit = self.rule.get(name)
            if limit is None or not whole:
                continue
            share = 100.0 * part / whole
            if share > limit:
                return (f"saturated: {share:.1f}% of {what} over the last {self.window_s:g}s "
                        f"({part} of {whole}; stop_when.{name}: {limit:g})")  # fmt: skip
        return None
