"""Workloads on an ``openai`` service, whole runs against the reference service, judged by its own per-request
log: every request carries exactly the input tokens and max_tokens the workload drew, multi-turn
conversations carry their growing history, and a trace replay gives row k's lengths to iteration k."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetProcess
from tests.conftest import load_summary, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture
def llm_server() -> Iterator[str]:
    with TargetProcess(llm={"ttft_ms": 5, "token_ms": 2}) as info:
        yield info.http_url


def _log(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/admin/llm/requests", timeout=5) as reply:
        return json.loads(reply.read())


def _config(tmp_path: Path, url: str, workload: str, scenarios: str = "") -> Path:
    config = tmp_path / "llm.yaml"
    config.write_text(f"""
fleet:
  chat:
    protocol: openai
    base_url: {url}/v1
    model: reference-llm
    ignore_eos: true
    workload: {workload}
{scenarios}""")
    return config


def test_multi_turn_sessions_send_the_drawn_lengths_and_the_history(llm_server: str, tmp_path: Path) -> None:
    config = _config(tmp_path, llm_server, "{input_tokens: 20, output_tokens: 5, turns: 3}")
    out = tmp_path / "out"
    result = run_cli("--config", str(config), "--output-dir", str(out), "--users", "2", "--spawn-rate", "2",
                     "--duration", "3s")  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    log = _log(llm_server)
    inputs = Counter(r["input_tokens"] for r in log)
    # turn 1: 20 words; turn 2: 20 + the 5-token reply + 20; turn 3: 45 + 5 + 20 (the server counts words)
    assert set(inputs) == {20, 45, 70}, inputs
    assert inputs[20] >= inputs[45] >= inputs[70] >= inputs[20] - 2  # 2 users: each cut at most mid-conversation
    assert all(r["output_tokens"] == 5 and r["completed"] for r in log)  # max_tokens 5, ignore_eos: exactly 5
    llm = load_summary(out)["llm"]
    assert llm["requests"] == len(log) >= 30 and llm["input_tokens"] == sum(inputs.elements())


def test_a_trace_replay_sends_row_k_lengths(llm_server: str, tmp_path: Path) -> None:
    rows = [(0.05 * k, 3 + 7 * k, 1 + k % 4) for k in range(8)]
    (tmp_path / "day.jsonl").write_text(
        "".join(f'{{"offset_s": {t:.2f}, "input_tokens": {i}, "output_tokens": {o}}}\n' for t, i, o in rows)
    )
    config = _config(tmp_path, llm_server, "{kind: trace, file: day.jsonl}",
                     "scenarios:\n  replay: {kind: trace, trace: day.jsonl, max_users: 4}\n")  # fmt: skip
    out = tmp_path / "out"
    result = run_cli("--config", str(config), "--output-dir", str(out), "--scenario", "replay")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    sent = sorted((r["input_tokens"], r["output_tokens"]) for r in _log(llm_server))
    assert sent == sorted((i, o) for _, i, o in rows)
