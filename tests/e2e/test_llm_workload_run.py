"""Workloads on an ``openai`` service, whole runs against the reference service, judged by its own per-request
log: every request carries exactly the input tokens and max_tokens the workload drew, multi-turn
conversations carry their growing history, and a trace replay gives row k's lengths to iteration k."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetInfo
from tests.conftest import Ran, load_summary, run_cli

pytestmark = pytest.mark.slow


LLM = ("--llm-ttft-ms", "5", "--llm-token-ms", "2")  # the reference service's LLM: TTFT 5 ms, 2 ms per token


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


def _multi_turn(target: TargetInfo, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    config = _config(tmp_path, target.http_url, "{input_tokens: 20, output_tokens: 5, turns: 3}")
    return run_cli("--config", str(config), "--output-dir", str(tmp_path / "out"), "--users", "2", "--spawn-rate", "2",
                   "--duration", "3s")  # fmt: skip


@pytest.mark.side_by_side(act=_multi_turn, target=LLM, seconds=9)
def test_multi_turn_sessions_send_the_drawn_lengths_and_the_history(ran: Ran) -> None:
    target, tmp_path, result = ran
    out = tmp_path / "out"
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    log = _log(target.http_url)
    inputs = Counter(r["input_tokens"] for r in log)
    # turn 1: 20 words; turn 2: 20 + the 5-token reply + 20; turn 3: 45 + 5 + 20 (the server counts words)
    assert set(inputs) == {20, 45, 70}, inputs
    assert inputs[20] >= inputs[45] >= inputs[70] >= inputs[20] - 2  # 2 users: each cut at most mid-conversation
    assert all(r["output_tokens"] == 5 and r["completed"] for r in log)  # max_tokens 5, ignore_eos: exactly 5
    llm = load_summary(out)["llm"]
    assert llm["requests"] == len(log) >= 30 and llm["input_tokens"] == sum(inputs.elements())


TRACE = [(0.05 * k, 3 + 7 * k, 1 + k % 4) for k in range(8)]  # offset, input tokens, output tokens


def _replay(target: TargetInfo, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "day.jsonl").write_text(
        "".join(f'{{"offset_s": {t:.2f}, "input_tokens": {i}, "output_tokens": {o}}}\n' for t, i, o in TRACE)
    )
    config = _config(tmp_path, target.http_url, "{kind: trace, file: day.jsonl}",
                     "scenarios:\n  replay: {kind: trace, trace: day.jsonl, max_users: 4}\n")  # fmt: skip
    return run_cli("--config", str(config), "--output-dir", str(tmp_path / "out"), "--scenario", "replay")


@pytest.mark.side_by_side(act=_replay, target=LLM, seconds=7)
def test_a_trace_replay_sends_row_k_lengths(ran: Ran) -> None:
    target, _, result = ran
    rows = TRACE
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    sent = sorted((r["input_tokens"], r["output_tokens"]) for r in _log(target.http_url))
    assert sent == sorted((i, o) for _, i, o in rows)
