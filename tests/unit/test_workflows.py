"""The GitHub workflow files: schedule, dispatch inputs from the catalogue, and commands that exist."""

from __future__ import annotations

import re

import yaml

from load_tests.core.scenarios import BUILTIN_SCENARIOS
from load_tests.launch.catalogue import TEST_TYPES
from tests.conftest import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"


def _load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _runs(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for job in workflow["jobs"].values() for step in job["steps"])


def test_load_test_workflow_schedule_inputs_and_commands() -> None:
    workflow = _load("load_tests.yml")
    assert workflow["on"]["schedule"] == [{"cron": "0 2 * * *"}]
    inputs = workflow["on"]["workflow_dispatch"]["inputs"]
    assert inputs["scenario"]["options"] == list(BUILTIN_SCENARIOS) and inputs["scenario"]["default"] == "smoke"
    assert inputs["test_type"]["options"] == ["all", *TEST_TYPES]
    assert inputs["target_url"]["required"] is False and inputs["duration"]["required"] is False
    assert inputs["compare_with"]["options"] == ["last-good", "none"]
    runs = _runs(workflow)
    gate = (REPO_ROOT / ".github" / "scripts" / "load_test_gate.sh").read_text()
    assert "bash .github/scripts/load_test_gate.sh" in runs and "-r requirements.txt" in runs
    assert '"$PYTHON" run_load_tests.py' in gate and "generate_report.py" in gate
    assert not re.search(r"\$\{\{\s*inputs\.", runs), "inputs reach scripts through env, never inlined"
    steps = workflow["jobs"]["load-test"]["steps"]
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["path"] == "reports/"
    restore = next(s for s in steps if "cache/restore" in s.get("uses", ""))
    save = next(s for s in steps if "cache/save" in s.get("uses", ""))
    assert restore["with"]["path"] == save["with"]["path"] == "baseline/"
    assert restore["with"]["restore-keys"] == "${{ steps.key.outputs.prefix }}"  # the newest baseline of the prefix
    assert save["if"] == "steps.gate.outputs.save == 'true'"  # only a run that passed becomes the next baseline
    for path in ("run_load_tests.py", "requirements.txt"):
        assert (REPO_ROOT / path).is_file()


def test_test_workflow_runs_the_ci_command_on_push_and_pull_request() -> None:
    workflow = _load("tests.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert "bash .ci/run" in _runs(workflow)
    assert (REPO_ROOT / ".ci" / "run").is_file() and "dev.py test" in (REPO_ROOT / ".ci" / "run").read_text()
