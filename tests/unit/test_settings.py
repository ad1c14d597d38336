"""Settings precedence and validation; the CLI's one-line errors with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.core.errors import ConfigError
from load_tests.launch.settings import load_settings
from tests.conftest import run_cli


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


BAD_INPUTS = [
    (["--scenario", "nope"], None, "--scenario: unknown scenario 'nope' (choose from"),
    (["--test-type", "carrier-pigeon"], None, "test type 'carrier-pigeon' is unknown"),
    (["--duration", "5x"], None, "--duration: '5x' is not a duration"),
    (["--users", "-3"], None, "--users: must be at least 1, got -3"),
    (["--users", "many"], None, "--users: 'many' is not a whole number"),
    (["--host", "localhost:8000"], None, "--host: 'localhost:8000' is not an http(s) URL"),
    (["--bogus"], None, "unrecognized arguments: --bogus"),
    (["--config", "/nonexistent/cfg.yaml"], None, "config file not found: /nonexistent/cfg.yaml"),
    ([], "run:\n  scenaro: smoke\n", "run.scenaro: unknown key"),
    ([], "run: [unclosed\n", "malformed YAML"),
    ([], "scenarios:\n  x:\n    stages:\n      - {duration: 5x, users: 1, spawn_rate: 1}\n",
     "scenarios.x.stages[0].duration: '5x' is not a duration"),
    ([], "scenarios:\n  x:\n    users: -1\n    spawn_rate: 1\n    duration: 1m\n",
     "scenarios.x.users: Input should be"),
    ([], "thresholds:\n  p95_ms: fast\n", "thresholds.p95_ms:"),
    ([], "data:\n  features_csv: missing.csv\n", "data.features_csv: file not found"),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "yaml_text", "words"), BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, flags: list[str], yaml_text: str | None, words: str) -> None:
    args = list(flags)
    if yaml_text is not None:
        args += ["--config", _yaml(tmp_path, yaml_text)]
    result = run_cli(*args, "--dry-run", timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert words in lines[0]


def test_list_scenarios_and_dry_run() -> None:
    listing = run_cli("--list-scenarios", timeout=60)
    assert listing.returncode == 0
    names = [line.split()[0] for line in listing.stdout.splitlines()[1:]]
    builtin = ["smoke", "light", "medium", "heavy", "baseline", "target", "ramp_up", "spike", "sustained", "stress",
               "endurance"]  # fmt: skip
    assert names[: len(builtin)] == builtin
    dry = run_cli("--scenario", "spike", "--dry-run", timeout=60)
    assert dry.returncode == 0
    assert "stage 2: 50 -> 500 users at 50/s, 1m30s" in dry.stdout and "--headless" in dry.stdout
