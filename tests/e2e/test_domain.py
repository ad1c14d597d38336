"""Domain (custom) metrics in a real run whose tokens/s threshold passes and fails on purpose."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import Ran, load_summary, run_cli


def _tokens(target: TargetInfo, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "thresholds:\n  custom:\n"
        "    tokens_per_second: {min: 1}\n"  # a few users stream far more than one token a second
        "    request_tokens_per_s.p50: {min: 1000000}\n"  # no one generates a million tokens a second
        "    stt_real_time_factor.p95: {max: 10}\n"
    )
    return run_cli("--config", str(config), "--test-type", "rest,grpc", "--scenario", "stress", "--users", "6",
                   "--spawn-rate", "6", "--duration", "6s", "--host", target.http_url, "--grpc-target",
                   target.grpc_target, "--output-dir", str(tmp_path / "out"))  # fmt: skip


@pytest.mark.slow
@pytest.mark.side_by_side(act=_tokens, weight=2)
def test_a_tokens_per_second_threshold_passes_and_fails_on_purpose(ran: Ran) -> None:
    _, tmp_path, result = ran
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    verdicts = {v["scope"]: v for v in summary["thresholds"]["verdicts"] if v["scope"].startswith("custom")}
    assert verdicts["custom tokens_per_second"]["passed"] is True
    assert verdicts["custom tokens_per_second"]["actual"] == pytest.approx(summary["custom"]["tokens"]["per_second"])
    assert verdicts["custom request_tokens_per_s.p50"]["passed"] is False
    assert verdicts["custom stt_real_time_factor.p95"]["passed"] is True
    failed = [v["scope"] for v in summary["thresholds"]["verdicts"] if not v["passed"]]
    assert failed == ["custom request_tokens_per_s.p50"]
    text = next((tmp_path / "out").glob("*/*/analysis/summary.txt")).read_text()
    assert "Domain metrics:" in text and "FAIL  custom request_tokens_per_s.p50" in text
