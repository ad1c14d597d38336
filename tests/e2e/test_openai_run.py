"""A whole run of an ``openai`` fleet service from the YAML alone: token figures, goodput against the server's
own count, thresholds on them, the text report, and the API key nowhere in the run folder."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from load_tests.reference_service.launcher import TargetProcess
from tests.conftest import load_summary, run_cli

KEY = "sk-must-never-be-written-anywhere"
pytestmark = pytest.mark.slow


@pytest.fixture
def llm_server() -> Iterator[str]:
    """The reference service with ONE generation slot, held ~55 ms per request (TTFT 20 ms + 7 x 5 ms)."""
    with TargetProcess(llm={"ttft_ms": 20, "token_ms": 5, "max_concurrency": 1}) as info:
        yield info.http_url


def test_an_openai_service_run_with_goodput(llm_server: str, tmp_path: Path) -> None:
    # Requests arrive in pairs (trace replay), 150 ms apart: the first of a pair is served at once (TTFT ~21 ms),
    # the second waits in the service's FIFO queue for the slot (TTFT ~76 ms). Exactly half miss a 50 ms TTFT
    # SLO, each by ~25 ms, so the client's and the server's counts must agree however busy the machine is.
    trace = tmp_path / "pairs.jsonl"
    trace.write_text("".join(f'{{"offset_s": {0.15 * (k // 2):.2f}}}\n' for k in range(40)))
    config = tmp_path / "llm.yaml"
    config.write_text(f"""
scenarios:
  pairs:
    kind: trace
    trace: {trace}
    max_users: 4
fleet:
  chat:
    protocol: openai
    base_url: {llm_server}/v1
    model: reference-llm
    api_key_env: LLM_KEY
    max_tokens: 8
    extra_body: {{temperature: 0}}
llm:
  slo: {{ttft_ms: 50}}
thresholds:
  slo_attainment_pct: {{min: 95}}
  goodput_rps: {{min: 0.1}}
  ttft_ms: {{p50: 1000}}
""")
    out = tmp_path / "out"
    result = run_cli("--config", str(config), "--scenario", "pairs", "--output-dir", str(out), env={"LLM_KEY": KEY})
    assert result.returncode == 1, (result.stdout + result.stderr)[-3000:]  # attainment 50 % < 95 %
    summary = load_summary(out)
    with urllib.request.urlopen(f"{llm_server}/admin/llm/requests", timeout=5) as reply:
        log = json.loads(reply.read())
    llm = summary["llm"]
    assert llm["requests"] == llm["completed"] == len(log) == 40
    assert (llm["output_tokens"], llm["count_source"], llm["estimated"]) == (8 * len(log), "usage", False)
    assert llm["input_tokens"] == sum(r["input_tokens"] for r in log)
    truth = sum(1 for r in log if r["ttft_ms"] <= 50)  # the server's own count of SLO-met requests
    assert abs(llm["goodput"]["met"] - truth) <= max(1, 0.02 * len(log)), (llm["goodput"], truth)
    assert truth == 20 and 45 <= llm["goodput"]["attainment_pct"] <= 55
    (row,) = [r for r in summary["endpoints"] if r.get("llm")]
    assert (row["request_type"], row["name"], row["failures"]) == ("LLM stream", "POST /v1/chat/completions", 0)
    verdicts = {v["metric"]: v for v in summary["thresholds"]["verdicts"]}
    assert not verdicts["slo_attainment_pct min"]["passed"]
    assert verdicts["goodput_rps min"]["passed"] and verdicts["ttft_ms p50"]["passed"]
    run_dir = next(out.glob("*/*/"))
    assert "LLM token streams (token counts from the server's usage):" in (run_dir / "analysis/summary.txt").read_text()
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in result.stdout + result.stderr
