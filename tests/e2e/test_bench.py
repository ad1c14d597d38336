"""A tiny real run of the benchmark harness: the JSON and the table it writes; not timings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import render_markdown
from tests.conftest import REPO_ROOT, Ran


def _tiny_bench(_: None, out: Path) -> subprocess.CompletedProcess[str]:
    """A tiny benchmark run: its figures are not checked, only what it wrote, so it runs in the lane."""
    return subprocess.run([sys.executable, "bench/run.py", "--tiny", "--protocols", "http,grpc", "--out", str(out)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.mark.slow
@pytest.mark.side_by_side(act=_tiny_bench, target=None, weight=2, seconds=95)
def test_a_tiny_run_writes_the_json_and_the_table(ran: Ran) -> None:
    _, tmp_path, result = ran
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
    assert [g["against"] for g in doc["goals"]] == ["fasthttp", "sync"]
    for floor, channels in (("sync", 1), ("sync_channels", 2)):  # the plain grpcio floor, no gevent
        run = doc["protocols"]["grpc"]["runs"][floor][0]
        assert run["requests"] > 0 and run["failures"] == 0 and (run["threads"], run["channels"]) == (2, channels)
    for streams in ("16", "256"):  # CPU per streamed token, ours vs aiohttp, same round
        for name in ("aiohttp", "ours"):
            run = doc["sse"][streams]["runs"][name][0]
            assert run["tokens"] > 0 and run["failures"] == 0 and run["tokens"] == 32 * run["requests"], run
    slow = doc["slow_streams"]  # 20 slow streams held at once in the tiny run
    assert slow["users_running"] == 20 and slow["failures"] == 0 and slow["gaps"] > 0 and slow["peak_rss_mib"] > 0
    deltas = doc["master"]["deltas"]
    assert deltas["merged_requests"] == deltas["reports"] * deltas["requests_per_report"]  # merged exactly
    real = doc["master"]["real_master"]  # measured with 1, then 2 real workers: CPU rates over steady windows
    assert [r["workers"] for r in real["runs"]] == [1, 2]  # a 1.5 s window is a few 10 ms CPU ticks: not > 0
    assert all(r["span_s"] >= 0.7 and r["cpu_per_s"] >= 0 for r in real["runs"]) and "per_worker_cpu_share" in real
    assert "A real master, measured with 1 and then 2 low-load workers" in (tmp_path / "latest.md").read_text()
    assert [g["met"] for g in doc["extra_goals"]] and "| LLM streams |" in (tmp_path / "latest.md").read_text()
    assert [f["delay_ms"] for f in doc["fidelity"]] == [20, 200]
    assert all(f["requests"] > 0 for f in doc["fidelity"])
    assert doc["memory"]["websocket"]["connected"] == 20 and doc["memory"]["socketio"]["connected"] == 5
    layers = doc["grpc_layers"]  # one round: a plain stub, Locust's interceptor, ours, each timed
    assert set(layers["cpu_us_per_call"]) == {"raw", "interceptor", "ours"} and layers["ratio_to_raw"]["raw"] == 1.0
    assert all(us > 0 for us in layers["cpu_us_per_call"].values())
    table = (tmp_path / "latest.md").read_text()
    assert table == render_markdown(doc) and "| http | ours |" in table and "| grpc | example |" in table
    assert "gRPC timing layers, one process" in table
