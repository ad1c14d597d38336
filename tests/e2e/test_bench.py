"""The benchmark harness's own logic (ordering, ratios, goals, the table) and a tiny real run; not timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import goals, ratio_stats, render_markdown, schedule
from tests.conftest import REPO_ROOT


def test_contenders_are_interleaved_with_the_order_reversed_every_other_round() -> None:
    assert schedule(["a", "b", "c"], 3) == [(0, "a"), (0, "b"), (0, "c"), (1, "c"), (1, "b"), (1, "a"),
                                            (2, "a"), (2, "b"), (2, "c")]  # fmt: skip


def test_ratios_pair_runs_of_the_same_round_and_give_median_and_range() -> None:
    runs = {
        "ours": [{"cpu_us_per_request": v} for v in (110.0, 130.0, 90.0)],
        "raw": [{"cpu_us_per_request": 100.0} for _ in range(3)],
    }
    stats = ratio_stats(runs, "ours", "raw", "cpu_us_per_request")
    assert stats is not None
    assert stats["per_round"] == pytest.approx([1.1, 1.3, 0.9])
    assert (stats["median"], stats["min"], stats["max"]) == pytest.approx((1.1, 0.9, 1.3))
    assert ratio_stats({"ours": [{"cpu_us_per_request": None}], "raw": [{}]}, "ours", "raw", "x") is None
    verdicts = goals({"grpc": {"ratios": {"ours/raw": stats}}, "http": {"ratios": {"ours/fasthttp": None}}})
    assert verdicts == [{"protocol": "grpc", "against": "raw", "limit": 1.2, "median": pytest.approx(1.1), "met": True}]


@pytest.mark.slow
def test_a_tiny_run_writes_the_json_and_the_table(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "bench/run.py", "--tiny", "--protocols", "http,grpc", "--out",
                             str(tmp_path)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    doc = json.loads((tmp_path / "latest.json").read_text())
    assert set(doc["protocols"]) == {"http", "grpc"}
    http = doc["protocols"]["http"]
    assert set(http["runs"]) == {"raw", "ours", "fasthttp", "httpuser"}
    for name, runs in http["runs"].items():
        assert len(runs) == 1 and runs[0]["requests"] > 0 and runs[0]["failures"] == 0, (name, runs)
        assert runs[0]["cpu_us_per_request"] > 0
    assert http["runs"]["ours"][0]["recorder_requests"] == http["runs"]["ours"][0]["requests"]  # counted once
    assert set(http["ratios"]) == {"ours/raw", "ours/fasthttp", "ours/httpuser"}
    assert [g["against"] for g in doc["goals"]] == ["fasthttp", "raw"]
    assert [f["delay_ms"] for f in doc["fidelity"]] == [20, 200]
    assert all(f["requests"] > 0 for f in doc["fidelity"])
    assert doc["memory"]["websocket"]["connected"] == 20 and doc["memory"]["socketio"]["connected"] == 5
    table = (tmp_path / "latest.md").read_text()
    assert table == render_markdown(doc) and "| http | ours |" in table and "| grpc | example |" in table
