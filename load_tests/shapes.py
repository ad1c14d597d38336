"""The scenario's stages as a Locust LoadTestShape.

Locust asks ``tick()`` about once a second; each stage answers (users, spawn rate) until its end,
then the next stage takes over, and None ends the run. ``finished`` tells the summary whether the
run reached its planned end or was interrupted (a partial run).
"""

from __future__ import annotations

from locust import LoadTestShape

from load_tests.plan import current_plan


class ScenarioShape(LoadTestShape):
    def __init__(self) -> None:
        super().__init__()
        self.scenario = current_plan().scenario_object()
        self.finished = False

    def tick(self) -> tuple[int, float] | None:
        if self.scenario is None:
            self.finished = True
            return None
        found = self.scenario.stage_at(self.get_run_time())
        if found is None:
            self.finished = True
            return None
        stage = found[1]
        return stage.users, stage.spawn_rate
