"""The docker-compose file passes the Compose schema (check-jsonschema in a subprocess) and master and workers agree."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.unit.test_deploy import DEPLOY, _flag, _settings

pytestmark = pytest.mark.beside_the_lane  # counts and contents only: run beside the lane (tests/conftest.py)


def test_compose_file_is_valid_and_master_and_workers_agree() -> None:
    path = DEPLOY / "docker-compose.yml"
    check = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                            str(path)], capture_output=True, text=True)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    services = yaml.safe_load(path.read_text())["services"]
    master, worker = services["master"]["command"], services["worker"]["command"]
    _, master_settings = _settings(master)
    _, worker_settings = _settings(worker)
    assert master_settings.distribution.mode == "master" and worker_settings.distribution.mode == "worker"
    assert master_settings.distribution.workers == services["worker"]["deploy"]["replicas"]
    assert worker_settings.distribution.master_host == "master"
    assert master_settings.distribution.master_port == worker_settings.distribution.master_port
    assert [t.name for t in master_settings.test_types] == [t.name for t in worker_settings.test_types]
    assert master_settings.services.rest_url == worker_settings.services.rest_url == "http://target:8000"
    target = services["target"]["command"]
    assert target[:3] == ["python", "-m", "load_tests.reference_service"] and _flag(target, "--http-port") == "8000"
    dockerfile = DEPLOY / services["master"]["build"]["dockerfile"].removeprefix("deploy/")
    assert "requirements.txt" in dockerfile.read_text()
