"""The plan of this Locust process: the launcher's, or one made from the config for plain ``locust -f``."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from load_tests.core.plan import PLAN_ENV, RunPlan
from load_tests.core.run_folder import new_timestamp, unique_run_dir


@cache
def current_plan() -> RunPlan:
    """Read once per process. Without ``LOADTEST_PLAN`` the YAML config and environment decide, and
    the reports go under ``<output_dir>/locust/<timestamp>``."""
    path = os.environ.get(PLAN_ENV)
    if path:
        return RunPlan.read(Path(path))
    from load_tests.launch.plan_writer import plan_from_settings  # the launcher's side, only for `locust -f`
    from load_tests.launch.settings import load_settings

    settings = load_settings({"test_type": "all"})
    timestamp = new_timestamp()
    run_dir = unique_run_dir(settings.output_dir, "locust", timestamp)
    return plan_from_settings(settings, run_dir, timestamp, with_scenario=False, from_runner=False)
