"""The run plan: what the runner tells the Locust process (scenario, services, thresholds, where to write).

The runner writes it as ``run_plan.json`` in the run folder and names it in ``LOADTEST_PLAN``; it is
also a record of what ran. It never holds a secret: the API key stays in the environment variable
whose *name* the plan carries. Without ``LOADTEST_PLAN`` (a plain ``locust -f`` run) the plan is
built from the YAML config and environment, with reports under ``<output_dir>/locust/<timestamp>``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from load_tests.core.scenarios import Arrival, Scenario, Stage
from load_tests.core.thresholds import merge_rules
from load_tests.launch.settings import Settings, load_settings

PLAN_ENV = "LOADTEST_PLAN"


@dataclass(frozen=True)
class RunPlan:
    run_dir: str
    timestamp: str
    scenario: dict[str, Any] | None  # name, description, profile, stages[{duration_s, users, spawn_rate}]
    test_types: list[str]
    services: dict[str, Any]
    thresholds: dict[str, Any]
    features_csv: str
    audio_dir: str
    progress_interval_s: float = 5.0
    tags: list[str] = field(default_factory=list)
    exclude_tags: list[str] = field(default_factory=list)
    from_runner: bool = False
    scripted: dict[str, Any] = field(default_factory=dict)  # the YAML's `scripted:` section, validated
    resources: dict[str, Any] = field(default_factory=dict)  # interval_s, target_pid, metrics_url, metrics, gpu
    validity: dict[str, float] = field(default_factory=dict)  # max_generator_cpu_pct, rate_tolerance_pct, late_ms

    def scenario_object(self) -> Scenario | None:
        if not self.scenario:
            return None
        stages = tuple(Stage(**s) for s in self.scenario["stages"])
        arrival = self.scenario.get("arrival")
        if arrival:
            arrival = Arrival(arrival["kind"], arrival["start_rate"], tuple(tuple(s) for s in arrival["stages"]),
                              arrival["max_users"])  # fmt: skip
        s = self.scenario
        return Scenario(s["name"], stages, s.get("description", ""), s["profile"], arrival=arrival or None,
                        capacity_settle_s=s.get("capacity_settle_s"))  # fmt: skip

    def api_key(self) -> str | None:
        """The key, read from the environment variable the config names (never stored in the plan)."""
        return os.environ.get(self.services.get("api_key_env") or "") or None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")


def new_timestamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S")


def unique_run_dir(output_dir: Path, scenario_name: str, timestamp: str) -> Path:
    """``<output>/<scenario>/<timestamp>``, suffixed -2, -3... if two runs start in the same second."""
    base = output_dir / scenario_name / timestamp
    if output_dir.resolve() not in base.resolve().parents:  # settings refuse such names; never write outside
        raise ValueError(f"report folder {base} would be outside the output folder {output_dir}")
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{timestamp}-{n}")
    return candidate


def plan_from_settings(
    settings: Settings, run_dir: Path, timestamp: str, *, with_scenario: bool, from_runner: bool
) -> RunPlan:
    s = settings.scenario
    scenario = {
        "name": s.name,
        "description": s.description,
        "profile": s.profile,
        "stages": [asdict(stage) for stage in s.stages],
        "arrival": asdict(s.arrival) if s.arrival else None,
        "capacity_settle_s": s.capacity_settle_s,
    }
    svc = settings.services
    return RunPlan(
        run_dir=str(run_dir),
        timestamp=timestamp,
        scenario=scenario if with_scenario else None,
        test_types=[t.name for t in settings.test_types],
        services={
            "rest_url": svc.rest_url,
            "websocket_url": svc.websocket_url,
            "socketio_url": svc.socketio_url,
            "grpc_target": svc.grpc_target,
            "timeout_s": svc.timeout_s,
            "websocket_timeout_s": svc.websocket_timeout_s,
            "socketio_timeout_s": svc.socketio_timeout_s,
            "grpc_timeout_s": svc.grpc_timeout_s,
            "api_key_env": svc.api_key_env,
            "ca_file": svc.ca_file,
        },
        thresholds=merge_rules(settings.thresholds.model_dump(), s.thresholds),
        features_csv=str(settings.features_csv),
        audio_dir=str(settings.audio_dir),
        progress_interval_s=settings.progress_interval_s,
        tags=list(settings.tags),
        exclude_tags=list(settings.exclude_tags),
        from_runner=from_runner,
        scripted=settings.scripted.model_dump(),
        resources=dict(settings.resources),
        validity=dict(settings.validity),
    )


@cache
def current_plan() -> RunPlan:
    """The plan of this Locust process: the runner's, or one made from config for plain ``locust -f``."""
    path = os.environ.get(PLAN_ENV)
    if path:
        return RunPlan(**json.loads(Path(path).read_text(encoding="utf-8")))
    settings = load_settings({"test_type": "all"})
    timestamp = new_timestamp()
    run_dir = unique_run_dir(settings.output_dir, "locust", timestamp)
    return plan_from_settings(settings, run_dir, timestamp, with_scenario=False, from_runner=False)
