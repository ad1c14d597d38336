"""Early stop on saturation: a slowed reference service, a rate it cannot carry, a run that ends itself."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import Ran, load_summary, run_cli


def _saturating(target: TargetInfo, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    config = tmp_path / "c.yaml"  # 4 users of 200 ms calls carry 20/s at most: half of 40/s is dropped
    config.write_text(
        "scenarios:\n  paced:\n    kind: constant_arrival_rate\n    rate: 40\n    duration: 60s\n    max_users: 4\n"
        "    stop_when: {dropped_pct: 20, for: 2s}\n"
    )
    began = time.monotonic()
    result = run_cli("--config", str(config), "--scenario", "paced", "--test-type", "rest", "--tags", "predict",
                     "--host", target.http_url, "--output-dir", str(tmp_path / "out"))  # fmt: skip
    return result, time.monotonic() - began


@pytest.mark.slow
@pytest.mark.side_by_side(act=_saturating, target=("--service-time", "predict=200"), seconds=12)
def test_a_saturated_service_ends_the_run_early_with_the_reason(ran: Ran) -> None:
    _, tmp_path, (result, took) = ran
    output = result.stdout + result.stderr
    assert result.returncode == 4, output[-3000:]  # the planned rate was not achieved: invalid
    assert took < 30, took  # not the 60 s planned
    summary = load_summary(tmp_path / "out")
    reason = summary["saturated"]
    assert reason.startswith("saturated: ") and "of iterations dropped over the last 2s" in reason
    assert summary["aborted"] == reason and summary["partial"]
    assert f"Stopping early: {reason}" in output
    pacing = summary["pacing"]
    assert pacing["ran_s"] < 10 and pacing["dropped"] > 0.2 * pacing["planned"] > 0
    assert any(r.startswith("invalid: rate not achieved") for r in summary["validity"]["reasons"])
    verdict = next(v for v in summary["thresholds"]["verdicts"] if v["metric"] == "abort")
    assert not verdict["passed"] and reason in verdict["reason"]
    text = next((tmp_path / "out").glob("paced/*/analysis/summary.txt")).read_text()
    assert f"[ABORTED: {reason}]" in text
