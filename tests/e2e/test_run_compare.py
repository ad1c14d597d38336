"""Before/after against the real target: added delay is a regression where it was added, and only there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from load_tests.generate_report import main as generate_report
from load_tests.reference_service.launcher import TargetProcess
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def _run(out: Path, *target_flags: str) -> Path:
    with TargetProcess("--seed", "3", *target_flags) as target:
        result = run_cli("--host", target.http_url, "--test-type", "rest", "--scenario", "stress", "--users", "4",
                         "--spawn-rate", "4", "--duration", "4s", "--tags", "predict", "health", "chat",
                         "--exclude-tags", "audio", "stream", "--output-dir", str(out))  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return next(out.glob("stress/*/locust_report_*.json"))


def test_delay_is_regressed_where_added_and_healthy_runs_are_unchanged(tmp_path: Path) -> None:
    baseline = _run(tmp_path / "a")
    healthy = _run(tmp_path / "b")
    delayed = _run(tmp_path / "c", "--extra-delay-ms", "50", "--fault-operations", "predict")

    assert generate_report([str(healthy), "--compare", str(baseline), "--out", str(tmp_path / "same")]) == 0
    assert generate_report([str(delayed), "--compare", str(baseline), "--out", str(tmp_path / "slow")]) == 1
    same = json.loads((tmp_path / "same" / "comparison.json").read_text())
    assert same["counts"]["regressed"] == 0 and same["counts"]["unchanged"] + same["counts"]["too_few"] == 4
    assert same["counts"]["unchanged"] >= 2  # protocol http and /predict have hundreds of samples; /health may not
    slow = {r["scope"]: r for r in json.loads((tmp_path / "slow" / "comparison.json").read_text())["rows"]}
    assert slow["POST /predict"]["verdict"] == "regressed"
    assert slow["POST /predict"]["delta"]["p95_ms"] > 40
    for scope in ("GET /health", "POST /v1/chat"):  # judged unchanged, or not judged below 86 samples: never regressed
        assert slow[scope]["verdict"] in ("unchanged", "too_few"), slow[scope]
    html = (tmp_path / "slow").glob("locust_report_*.html")
    assert "Comparison with" in next(html).read_text()
