"""The load-test workflow's job, run as GitHub runs it: its shell steps in order on a clean checkout, with
the variables GitHub sets, the actions cache played by a folder. Without a baseline the gate passes and
says so; a repeat of the same run passes against it; a run made slow on purpose (the reference
service's delay knob) fails the job with exit 1 and is not saved as the next baseline. summary.md and
junit.xml are written every time and read back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from junitparser import JUnitXml

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import REPO_ROOT, Ran

INPUTS = {"SCENARIO": "smoke", "TEST_TYPE": "rest", "DURATION": "4s", "COMPARE_WITH": "last-good"}


def _checkout(dest: Path) -> Path:
    """The files a fresh clone of this working tree has (tracked, and new files git does not ignore)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _expand(text: str, outputs: dict[str, dict[str, str]], run_id: str) -> str:
    def value(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr == "github.run_id":
            return run_id
        step, _, name = expr.removeprefix("steps.").partition(".outputs.")
        return outputs.get(step, {}).get(name, "")

    return re.sub(r"\$\{\{(.*?)\}\}", value, text)


def _run_job(checkout: Path, cache: Path, env: dict[str, str], run_id: str) -> tuple[int, dict[str, dict[str, str]]]:
    """The job's steps until one fails (exit code, outputs by step id); ``uses`` steps other than the cache
    are GitHub's (checkout, Python, upload) and the install is this machine's."""
    workflow = yaml.safe_load((checkout / ".github/workflows/load_tests.yml").read_text())
    outputs: dict[str, dict[str, str]] = {}
    for step in workflow["jobs"]["load-test"]["steps"]:
        uses, condition = step.get("uses", ""), step.get("if", "")
        if "cache/restore" in uses and env["COMPARE_WITH"] == "last-good":
            prefix = _expand(step["with"]["restore-keys"], outputs, run_id)
            saved = sorted((p for p in cache.glob(f"{prefix}*")), key=lambda p: p.stat().st_mtime)
            if saved:
                shutil.copytree(saved[-1], checkout / "baseline", dirs_exist_ok=True)
        elif "cache/save" in uses and outputs.get("gate", {}).get("save") == "true":
            assert condition == "steps.gate.outputs.save == 'true'"
            shutil.copytree(checkout / "baseline", cache / _expand(step["with"]["key"], outputs, run_id))
        if uses or "pip install" in step["run"]:
            continue
        output_file = checkout.parent / f"output-{run_id}-{step.get('id', 'x')}"
        output_file.write_text("")
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=checkout,
                              env={**env, "GITHUB_OUTPUT": str(output_file)}, timeout=120)  # fmt: skip
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if line)
        if proc.returncode != 0:
            return proc.returncode, outputs
    return 0, outputs


def _config(checkout: Path) -> str:
    """The project's config with wider compare tolerances: these jobs run beside other load runs (the lane,
    tests/conftest.py) on a shared 2-core machine, so their latencies differ by more than sampling noise
    (tests/e2e/test_compare_verdict.py holds the default tolerances to their false-alarm rate); what is
    tested here is the gate around the verdict, and the slow job adds 200 ms."""
    config = yaml.safe_load((checkout / "load_tests/config/load_test_config.yaml").read_text())
    config["compare"].update(latency_pct=50, latency_ms=100)
    path = checkout / "load_tests/config/gate_test.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path.relative_to(checkout))


def _github_env(checkout: Path, target: TargetInfo, run_id: str) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)  # `python` is the interpreter setup-python would give
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "LOADTEST_"))}
    return {**env, **INPUTS, "PATH": f"{bin_dir}:{env['PATH']}", "CI": "true", "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF_NAME": "main", "DEFAULT_BRANCH": "main",
            "GITHUB_RUN_ID": run_id, "GITHUB_WORKSPACE": str(checkout), "TARGET_URL": target.http_url,
            "GITHUB_STEP_SUMMARY": str(checkout.parent / f"step-summary-{run_id}.md"),
            "LOADTEST_CONFIG": _config(checkout), "LOADTEST_MAX_USERS": "40",
            "LOADTEST_RATE": "60"}  # fmt: skip  # open-model load: 240 requests in 4 s, enough to judge a p95


def _run_folder(checkout: Path, outputs: dict[str, dict[str, str]]) -> tuple[Path, dict[str, Any]]:
    run_dir = (checkout / outputs["gate"]["summary"]).parent
    junit = JUnitXml.fromfile(str(run_dir / "junit.xml"))
    return run_dir, {"tests": junit.tests, "failures": junit.failures, "md": (run_dir / "summary.md").read_text()}


def _three_jobs(target: TargetInfo, tmp_path: Path) -> dict[str, Any]:
    """The first job (no baseline), a repeat (against the first's cache) and a slow one, as GitHub runs them."""
    checkout, cache = _checkout(tmp_path / "checkout"), tmp_path / "cache"
    cache.mkdir()
    jobs: dict[str, Any] = {}
    for run_id, job in (("1", "first"), ("2", "repeat"), ("3", "slow")):
        if job != "first":  # a new job starts from a clean checkout: the baseline comes from the cache
            shutil.rmtree(checkout / "baseline")
        if job == "slow":
            requests.post(f"{target.http_url}/admin/faults", json={"extra_delay_ms": 200}, timeout=5).raise_for_status()
        code, outputs = _run_job(checkout, cache, _github_env(checkout, target, run_id), run_id)
        run_dir, found = _run_folder(checkout, outputs)
        cached = sorted(p.name for p in cache.iterdir())
        step_summary = (tmp_path / f"step-summary-{run_id}.md").read_text()
        jobs[job] = {**found, "code": code, "outputs": outputs, "run_dir": run_dir, "cached": cached,
                     "step_summary": step_summary}  # fmt: skip
    return jobs


@pytest.mark.side_by_side(act=_three_jobs, seconds=40)
def test_the_job_gates_on_the_last_good_run(ran: Ran) -> None:
    first, repeat, slow = (ran[2][job] for job in ("first", "repeat", "slow"))
    assert first["code"] == 0 and first["outputs"]["gate"]["save"] == "true", first["md"]
    assert "No baseline yet" in first["md"] and "✅ **PASSED**" in first["md"] and first["failures"] == 0
    assert "No baseline yet" in first["step_summary"]
    assert first["cached"] == [first["outputs"]["key"]["prefix"] + "1"]

    assert repeat["code"] == 0 and repeat["outputs"]["gate"]["save"] == "true", repeat["md"]
    assert (repeat["run_dir"] / "comparison.json").is_file() and "✅ no regression" in repeat["md"]
    assert repeat["tests"] > first["tests"] and repeat["failures"] == 0  # the compare rows joined the thresholds
    assert "✅ no regression" in repeat["step_summary"]

    assert slow["code"] == 1 and slow["outputs"]["gate"]["save"] == "false", slow["md"]
    assert "❌ **REGRESSED**" in slow["md"] and "| ❌ regressed | protocol http |" in slow["md"]
    assert slow["failures"] >= 1 and len(slow["cached"]) == 2  # the slow run is not the next baseline
