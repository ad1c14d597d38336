"""``--sweep``: a series of arrival rates up to saturation, one table and the trade-off plot, the knee marked."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import Ran, run_cli


@pytest.mark.beside_the_lane
def test_bad_sweeps_are_one_line_errors(tmp_path: Path) -> None:
    cases = [(("--sweep", "speed=1"), "--sweep: 'speed=1' is not a sweep"),
             (("--sweep", "rates=1,2", "--repeat", "2"), "--sweep: not with --repeat or --matrix")]  # fmt: skip
    for args, words in cases:
        result = run_cli(*args, "--output-dir", str(tmp_path / "out"))
        assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _three_rates(target: TargetInfo, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "out"  # 2 users of 100 ms calls carry 20/s at most: 40/s saturates
    return run_cli("--sweep", "rates=5,10,40", "--max-users", "2", "--duration", "3s", "--test-type", "rest",
                   "--tags", "predict", "--host", target.http_url, "--output-dir", str(out))  # fmt: skip


# In the lane: the knee comes from the service time (2 users of 100 ms calls), not the machine's speed;
# 5/s and 10/s keep those two users at most half busy.
@pytest.mark.slow
@pytest.mark.side_by_side(act=_three_rates, target=("--service-time", "predict=100"), seconds=25)
def test_a_sweep_of_three_rates_finds_the_knee_before_saturation(ran: Ran) -> None:
    _, tmp_path, result = ran
    out = tmp_path / "out"
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]  # the runs up to the knee passed
    folder = next(out.glob("sweep-*"))
    rows = list(csv.DictReader((folder / "sweep.csv").open()))
    assert [(r["load"], r["knee"]) for r in rows] == [("5", ""), ("10", "yes"), ("40", "")]
    assert rows[2]["saturated"].startswith("invalid: rate not achieved") and rows[2]["exit_code"] == "4"
    for row, rate in zip(rows[:2], (5, 10), strict=True):  # one predict call per iteration, all carried
        assert abs(float(row["throughput"]) - rate) <= 0.1 * rate and float(row["achieved_rate"]) >= 0.9 * rate
    assert float(rows[2]["throughput"]) < 25  # what 2 users of 100 ms can carry, not 40
    markdown = (folder / "sweep.md").read_text()
    assert "| 10 **(knee)** |" in markdown and "Knee at rate 10" in markdown and markdown.split("\n\n", 1)[1] in output
    assert (folder / "sweep.png").read_bytes().startswith(b"\x89PNG")
    points = json.loads((folder / "sweep.json").read_text())["points"]
    assert [Path(p["run_dir"]).exists() for p in points] == [True] * 3
    assert json.loads((folder / "series.json").read_text())["runs"][1]["label"] == "rate=10"
