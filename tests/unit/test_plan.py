"""The run plan: one JSON round trip of frozen dataclasses, every default defined once."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from load_tests.core.plan import (
    DEFAULT_TIMEOUT_S,
    ResourcesPlan,
    RunPlan,
    Services,
    ValidityLimits,
    scenario_from_dict,
    scenario_record,
)
from load_tests.core.scenarios import Arrival, Scenario, Stage
from load_tests.launch.config_schema import FileConfig, ResourcesConfig, ServicesConfig, ValidityConfig

ARRIVAL = Arrival("ramping_arrival_rate", 2.0, ((5.0, 10.0), (3.0, 4.0)), 12)
SCENARIO = Scenario("mine", (Stage(5.0, 3, 2.0), Stage(3.0, 1, 1.0)), "two stages", "stress",
                    {"global": {"p95_ms": 50}}, ARRIVAL, 1.5)  # fmt: skip


def _plan(**changes: object) -> RunPlan:
    plan = RunPlan(
        run_dir="/tmp/run", timestamp="20260101-000000", scenario=SCENARIO, test_types=("rest", "grpc"),
        services=Services(rest_url="http://127.0.0.1:1", grpc_target="127.0.0.1:2", grpc_timeout_s=3.5,
                          api_key_env="MY_KEY", ca_file="/ca.pem"),
        thresholds={"global": {"p95_ms": 50.0}}, features_csv="f.csv", audio_dir="audio", tags=("a",),
        exclude_tags=("b", "c"), from_runner=True, count_connections=True, scripted={"websocket": []},
        resources=ResourcesPlan(1.0, 42, "http://127.0.0.1:1/metrics", ("x", "y"), False),
        validity=ValidityLimits(80.0, 5.0, 20.0),
    )  # fmt: skip
    return dataclasses.replace(plan, **changes)  # type: ignore[arg-type]


RANDOM = dataclasses.replace(SCENARIO, arrival=dataclasses.replace(ARRIVAL, process="gamma", burstiness=0.5, seed=9),
                             stop_when={"dropped_pct": 10.0, "for_s": 5.0})  # fmt: skip


@pytest.mark.parametrize("scenario", [SCENARIO, None, dataclasses.replace(SCENARIO, arrival=None), RANDOM])
def test_a_plan_survives_its_json_round_trip_unchanged(tmp_path: Path, scenario: Scenario | None) -> None:
    plan = _plan(scenario=scenario)
    path = tmp_path / "run_plan.json"
    plan.write(path)
    assert RunPlan.read(path) == plan
    assert json.loads(path.read_text())["services"]["grpc_timeout_s"] == 3.5


def test_the_plan_carries_the_key_variable_name_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", "s3cret-value")
    plan = _plan()
    assert plan.api_key() == "s3cret-value"
    assert "s3cret-value" not in plan.to_json()
    assert "api_key_env" not in plan.services.public() and plan.services.public()["ca_file"] == "/ca.pem"
    monkeypatch.delenv("MY_KEY")
    assert plan.api_key() is None


def test_defaults_are_defined_once_and_the_config_schema_takes_them() -> None:
    assert ServicesConfig().rest.timeout_s == ServicesConfig().grpc.timeout_s == DEFAULT_TIMEOUT_S
    assert Services().websocket_timeout_s == Services().grpc_timeout_s == Services().timeout_s == DEFAULT_TIMEOUT_S
    assert ServicesConfig().api_key_env == Services().api_key_env
    assert ValidityLimits(**ValidityConfig().model_dump()) == ValidityLimits()
    assert (ResourcesConfig().interval, ResourcesConfig().gpu) == (ResourcesPlan().interval_s, ResourcesPlan().gpu)
    assert FileConfig().run.progress_interval == RunPlan.__dataclass_fields__["progress_interval_s"].default


def test_needs_the_bundled_service_only_when_no_address_is_given() -> None:
    assert Services().needs_bundled_target
    assert not Services(socketio_url="http://127.0.0.1:9").needs_bundled_target
    assert Services(grpc_target="h:1").address_of("grpc") == "h:1" and Services().address_of("rest") is None


def test_the_summary_records_the_scenario_without_its_thresholds() -> None:
    record = scenario_record(SCENARIO)
    assert "thresholds" not in record and record["stages"][0] == {"duration_s": 5.0, "users": 3, "spawn_rate": 2.0}
    assert record["arrival"]["max_users"] == 12 and record["capacity_settle_s"] == 1.5
    assert scenario_record(None) == {"name": "locust", "profile": "normal", "stages": []}
    assert scenario_from_dict(json.loads(json.dumps(dataclasses.asdict(SCENARIO)))) == SCENARIO
