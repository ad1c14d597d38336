"""The scenario's stages as a Locust LoadTestShape.

Locust asks ``tick()`` about once a second; each stage answers (users, spawn rate) until its end.
After the last stage the shape first ramps to zero users and only then ends the test: Locust's
ramp-down waits for every user to finish the call in hand (``--stop-timeout``), while ending the test
straight from the shape can kill users mid-call (seen here: 20 of 20 in-flight tasks lost in one run
of three), so the target would count requests that no report shows. ``finished`` tells the summary
whether the run reached its planned end or was interrupted (a partial run). On a master the shape
also waits, once no user is left, until every worker has shipped its last measurements.
"""

from __future__ import annotations

import time

from locust import LoadTestShape

from load_tests.core.plan import current_plan
from load_tests.engine.distributed import SETTLE_TIMEOUT_S

DRAIN_SPAWN_RATE = 10_000.0  # stop every user at once; each still finishes its call in hand
DRAIN_GRACE_S = 2.0  # beyond the stop timeout, before the test ends regardless


class ScenarioShape(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()
        self.scenario = current_plan().scenario_object()
        self.finished = False
        self.stop_requested = False  # the capacity finder found the breaking step: end now, as planned
        self._drain_deadline: float | None = None
        self._empty_since: float | None = None

    def tick(self) -> tuple[int, float] | None:
        if self.scenario is None:
            self.finished = True
            return None
        found = None if self.stop_requested else self.scenario.stage_at(self.get_run_time())
        if found is not None:
            stage = found[1]
            return stage.users, stage.spawn_rate
        return self._drain()

    def _drain_rate(self) -> float:
        """Stop every user at once; a master warns above 100 users/s per worker, so stay under that."""
        workers = getattr(self.runner, "worker_count", 0) if self.runner else 0
        return min(DRAIN_SPAWN_RATE, 100.0 * workers) if workers else DRAIN_SPAWN_RATE

    def _drain(self) -> tuple[int, float] | None:
        now = time.monotonic()
        if self._drain_deadline is None:
            stop_timeout = self.runner.environment.stop_timeout if self.runner else 0.0
            self._drain_deadline = now + stop_timeout + DRAIN_GRACE_S
            return 0, self._drain_rate()
        if self.get_current_user_count() > 0 and now < self._drain_deadline:
            return 0, self._drain_rate()
        if self._empty_since is None:
            self._empty_since = now
        harness = getattr(self.runner.environment, "harness", None) if self.runner else None
        tracker = getattr(harness, "tracker", None)
        waited = now - self._empty_since
        if tracker is not None and not tracker.settled(self._empty_since) and waited < SETTLE_TIMEOUT_S:
            return 0, self._drain_rate()
        self.finished = True
        return None
