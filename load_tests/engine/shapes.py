"""The scenario's stages as a Locust LoadTestShape.

Locust asks ``tick()`` about once a second; each stage answers (users, spawn rate) until its end.
After the last stage the shape first ramps to zero users and only then ends the test: Locust's
ramp-down waits for every user to finish the call in hand (``--stop-timeout``), while ending the test
straight from the shape can kill users mid-call (seen here: 20 of 20 in-flight tasks lost in one run
of three), so the target would count requests that no report shows. ``finished`` tells the summary
whether the run reached its planned end or was interrupted (a partial run). On a master the shape
also waits, once no user is left, until every worker has shipped its last measurements.

The harness talks to the shape through three methods and nothing else: :meth:`request_stop` (the
capacity finder found the breaking step), :meth:`settle_with` (a master's check that its workers
have reported) and :attr:`finished`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from locust import LoadTestShape
from locust.runners import LocalRunner

from load_tests.engine.distributed import SETTLE_TIMEOUT_S
from load_tests.engine.plan_source import current_plan

DRAIN_SPAWN_RATE = 10_000.0  # stop every user at once; each still finishes its call in hand
DRAIN_GRACE_S = 2.0  # beyond the stop timeout, before the test ends regardless


class ScenarioShape(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()
        self.scenario = current_plan().scenario
        self.finished = False  # the run reached its planned end (False at quit: a partial run)
        self._stop_requested = False
        self._settled: Callable[[float], bool] | None = None
        self._drain_deadline: float | None = None
        self._empty_since: float | None = None

    def request_stop(self) -> None:
        """End the run now, as planned (the capacity finder found the breaking step): drain, then finish."""
        self._stop_requested = True

    def settle_with(self, settled: Callable[[float], bool]) -> None:
        """On a master: before finishing, wait until ``settled(since)`` says every worker has reported."""
        self._settled = settled

    def tick(self) -> tuple[int, float] | None:
        if self.scenario is None:
            self.finished = True
            return None
        found = None if self._stop_requested else self.scenario.stage_at(self.get_run_time())
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
            if not self._drain_here(self._drain_deadline):
                return 0, self._drain_rate()
            now = time.monotonic()
        if self.get_current_user_count() > 0 and now < self._drain_deadline:
            return 0, self._drain_rate()
        if self._empty_since is None:
            self._empty_since = now
        waited = now - self._empty_since
        if self._settled is not None and not self._settled(self._empty_since) and waited < SETTLE_TIMEOUT_S:
            return 0, self._drain_rate()
        self.finished = True
        return None

    def _drain_here(self, deadline: float) -> bool:
        """On a local runner, ramp to zero users from this tick and wait for it (each user still finishes
        its call in hand), so the test ends as the last user stops rather than a whole tick (1 s) later:
        one second less for every run. False elsewhere: a master's workers drain on their own, and the
        next ticks watch them."""
        runner = self.runner
        if not isinstance(runner, LocalRunner):
            return False
        runner.start(0, self._drain_rate())  # what Locust does with the (0, rate) this tick would return
        if runner.spawning_greenlet is not None:
            runner.spawning_greenlet.join(timeout=max(0.0, deadline - time.monotonic()))
        return True
