"""``--repeat`` and ``--matrix``: every combination run in turn, one combined report, the spread of
the repeats used as the comparison's noise level."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import REPO_ROOT, Ran, run_cli

MATRIX = """\
matrix:
  workload:
    predict: {run: {tags: [predict]}}
    health: {run: {tags: [health]}}
"""


def _series_input(
    _: None, tmp_path: Path, args: tuple[str, ...], config: str | None
) -> subprocess.CompletedProcess[str]:
    extra: tuple[str, ...] = ()
    if config is not None:
        (tmp_path / "cfg.yaml").write_text(config)
        extra = ("--config", str(tmp_path / "cfg.yaml"))
    return run_cli(*args, *extra, "--output-dir", str(tmp_path / "out"))


@pytest.mark.parametrize(
    ("args", "config", "words"),
    [
        (("--repeat", "0"), None, "--repeat: must be between 1 and 100"),
        (("--repeat", "two"), None, "--repeat: 'two' is not a whole number"),
        (("--matrix",), "run: {}\n", "has no matrix: section"),
        (("--matrix",), "matrix:\n  size:\n    bad: {thresholds: {p95_ms: -1}}\n", "with matrix size=bad"),
        (("--matrix",), "matrix:\n  'a/b': {x: {}}\n", "is not a valid name"),
    ],
)
@pytest.mark.side_by_side(act=_series_input, target=None, seconds=1)
def test_bad_series_input_is_one_line(ran: Ran, args: tuple[str, ...], config: str | None, words: str) -> None:
    _, tmp_path, result = ran
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def _matrix_twice(target: TargetInfo, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "cfg.yaml"
    config.write_text(MATRIX)
    return run_cli("--config", str(config), "--matrix", "--repeat", "2", "--test-type", "rest", "--users", "4",
                   "--spawn-rate", "4", "--duration", "3s", "--host", target.http_url,
                   "--output-dir", str(tmp_path / "out"))  # fmt: skip


@pytest.mark.slow
@pytest.mark.side_by_side(act=_matrix_twice, seconds=26)  # four runs one after the other
def test_a_two_entry_matrix_repeated_twice_writes_one_combined_report(ran: Ran) -> None:
    _, tmp_path, result = ran
    out = tmp_path / "out"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "=== run 4/4: workload=health (repeat 2/2) ===" in result.stdout
    folder = next(out.glob("series-*"))
    data = json.loads((folder / "series.json").read_text())
    assert [(r["label"], r["repeat"], r["verdict"]) for r in data["runs"]] == [
        ("workload=predict", 1, "PASSED"), ("workload=predict", 2, "PASSED"),
        ("workload=health", 1, "PASSED"), ("workload=health", 2, "PASSED"),
    ]  # fmt: skip
    for row in data["runs"]:  # each row is its own run, with its combination's overrides applied
        summary = json.loads(next(Path(row["run_dir"]).glob("locust_report_*.json")).read_text())
        names = {r["name"] for r in summary["endpoints"]}
        assert names <= ({"/predict", "/predict (audio)"} if row["label"].endswith("predict") else {"/health"}), names
        assert row["requests"] == summary["total"]["requests"] > 0 and row["p95_ms"] == summary["total"]["p95_ms"]
    for combo in data["combinations"]:
        runs = [r for r in data["runs"] if r["label"] == combo["label"]]
        p95 = combo["figures"]["p95_ms"]
        assert p95["min"] == min(r["p95_ms"] for r in runs) and p95["max"] == max(r["p95_ms"] for r in runs)
        assert p95["range"] == pytest.approx(p95["max"] - p95["min"])
    text = (folder / "series.txt").read_text()
    assert text.count("workload=predict") >= 2 and "Spread across repeats" in text
    html = (folder / "series.html").read_text()
    assert html.count('<td class="l">workload=health</td>') >= 2

    # The baseline carries the repeats' spread, and a comparison with it uses the spread as its noise.
    baseline = folder / data["baselines"]["workload=predict"]
    spread_of_runs = json.loads(baseline.read_text())["spread"]
    newest = Path(data["runs"][1]["run_dir"])
    compared = subprocess.run(
        [sys.executable, "load_tests/generate_report.py", str(next(newest.glob("locust_report_*.json"))),
         "--compare", str(baseline), "--out", str(tmp_path / "cmp")],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert compared.returncode in (0, 1), compared.stderr
    comparison = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    row = next(r for r in comparison["rows"] if r["scope"] == "protocol http")
    assert row["noise_ms"] == spread_of_runs["protocol http"]["p95_ms"]["range"]
    assert comparison["noise_runs"] == 2
