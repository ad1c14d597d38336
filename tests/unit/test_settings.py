"""Settings precedence and validation (the CLI's one-line errors with exit code 2: e2e/test_settings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.core.errors import ConfigError
from load_tests.launch.settings import load_settings


def _yaml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return str(path)


def test_precedence_cli_over_env_over_yaml_over_default(tmp_path: Path) -> None:
    cfg = _yaml(tmp_path, "run:\n  scenario: light\n  output_dir: from-yaml\n")
    assert load_settings({}, env={}).scenario.name == "smoke"  # built-in default
    assert load_settings({"config": cfg}, env={}).scenario.name == "light"  # YAML
    env = {"LOADTEST_SCENARIO": "medium", "LOADTEST_OUTPUT_DIR": "from-env"}
    from_env = load_settings({"config": cfg}, env=env)
    assert (from_env.scenario.name, str(from_env.output_dir)) == ("medium", "from-env")
    from_cli = load_settings({"config": cfg, "scenario": "heavy"}, env=env)
    assert (from_cli.scenario.name, str(from_cli.output_dir)) == ("heavy", "from-env")
    assert load_settings({}, env={"LOADTEST_CONFIG": cfg}).scenario.name == "light"


def test_overrides_scale_a_staged_scenario() -> None:
    spike = load_settings({"scenario": "spike", "users": "100", "duration": "50s"}, env={})
    assert [s.users for s in spike.scenario.stages] == [10, 100, 10]
    assert spike.scenario.duration_s == pytest.approx(50)
    smoke = load_settings({"users": "7", "spawn_rate": "7", "duration": "10s"}, env={})
    assert smoke.scenario.stages[0].users == 7 and smoke.scenario.duration_s == 10


def test_host_derives_websocket_and_socketio_urls() -> None:
    services = load_settings({"host": "https://api.example.test:8443"}, env={}).services
    assert services.rest_url == "https://api.example.test:8443"
    assert services.websocket_url == "wss://api.example.test:8443/ws/chat"
    assert not services.needs_bundled_target
    assert load_settings({}, env={}).services.needs_bundled_target


def test_custom_scenario_with_a_stage_shorter_than_its_ramp_is_refused(tmp_path: Path) -> None:
    cfg = _yaml(tmp_path, "scenarios:\n  quick:\n    stages:\n      - {duration: 5s, users: 100, spawn_rate: 5}\n")
    with pytest.raises(ConfigError, match="stage 1: lasts 5s but ramping from 0 to 100 users at 5/s takes 20s"):
        load_settings({"config": cfg}, env={})
