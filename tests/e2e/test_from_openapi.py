"""``--from-openapi`` against the reference service's own ``/openapi.json``: the file it writes runs as written.

The promise to a user is not "the YAML validates" but "run it and nothing fails": so the generated file
is run exactly as a user would, and the service's own counters confirm each call it made.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import Ran, load_summary, run_cli, served

Run = subprocess.CompletedProcess[str]

SESSIONS = ("POST /sessions", "POST /sessions/{id}/predict", "DELETE /sessions/{id}")


def _generate_and_run(target: TargetInfo, tmp_path: Path) -> tuple[Run, str, Run, dict[str, float], Run]:
    """Generate, run what was generated (and read what the service served for it), generate again."""
    path = tmp_path / "fleet.yaml"
    source = f"{target.http_url}/openapi.json"
    made = run_cli("--from-openapi", source, "--output", str(path))
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    run = run_cli("--config", str(path), "--users", "3", "--spawn-rate", "3", "--duration", "4s",
                  "--output-dir", str(tmp_path / "out"))  # fmt: skip
    counted = served(target.http_url, "http")
    return made, text, run, counted, run_cli("--from-openapi", source, "--output", str(path))


@pytest.mark.side_by_side(act=_generate_and_run)
def test_the_generated_config_runs_with_no_failures(ran: Ran) -> None:
    """Every active operation is called and succeeds; the session operations, which need a token or a
    real id, wait commented out; a second generation refuses to overwrite the file."""
    target, tmp_path, (made, text, run, counted, again) = ran
    path = tmp_path / "fleet.yaml"
    assert made.returncode == 0, made.stdout + made.stderr
    assert str(path) in made.stdout
    (service,) = yaml.safe_load(text)["fleet"].values()
    active = {op["name"]: op["path"] for op in service["operations"]}
    assert service["url"] == target.http_url
    assert not set(SESSIONS) & set(active) and "POST /login" in active
    for name in SESSIONS:
        assert f"      # - name: {name}" in text.splitlines()
    assert not [name for name in active if "/metrics" in name or "/admin" in name]

    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    rows = {row["name"]: row for row in summary["endpoints"]}
    assert summary["total"]["failures"] == 0, {n: r["failures_by_type"] for n, r in rows.items() if r["failures"]}
    for name, op_path in active.items():
        assert rows[name]["requests"] > 0, name
        assert counted.get(op_path) == rows[name]["requests"], (name, counted)
    assert not [endpoint for endpoint in counted if endpoint.startswith("/sessions")]

    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [f"error: {path} already exists: choose another file with --output"]
    assert path.read_text(encoding="utf-8") == text
