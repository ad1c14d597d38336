"""A whole run of an ``openai`` fleet service from the YAML alone: token figures, goodput against the server's
own count, thresholds on them, the text report, and the API key nowhere in the run folder."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import load_summary, run_cli

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-must-never-be-written-anywhere"
pytestmark = pytest.mark.slow


@pytest.fixture
def llm_server() -> Iterator[str]:
    """Every 2nd request waits 300 ms for its first token, the others 20 ms: half miss a 100 ms TTFT SLO."""
    command = [sys.executable, str(ROOT / "bench" / "llm_sse_server.py"), "--ttft-ms", "20", "--delay-ms", "5",
               "--slow-every", "2", "--slow-ttft-ms", "300"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        proc.kill()
        proc.wait()


def test_an_openai_service_run_with_goodput(llm_server: str, tmp_path: Path) -> None:
    config = tmp_path / "llm.yaml"
    config.write_text(f"""
fleet:
  chat:
    protocol: openai
    base_url: {llm_server}/v1
    model: reference-llm
    api_key_env: LLM_KEY
    max_tokens: 8
    extra_body: {{temperature: 0}}
llm:
  slo: {{ttft_ms: 100}}
thresholds:
  slo_attainment_pct: {{min: 95}}
  goodput_rps: {{min: 0.1}}
  ttft_ms: {{p50: 1000}}
""")
    out = tmp_path / "out"
    result = run_cli("--config", str(config), "--output-dir", str(out), "--users", "4", "--spawn-rate", "4",
                     "--duration", "3s", env={"LLM_KEY": KEY})  # fmt: skip
    assert result.returncode == 1, (result.stdout + result.stderr)[-3000:]  # attainment ~50 % < 95 %
    summary = load_summary(out)
    with urllib.request.urlopen(f"{llm_server}/log", timeout=5) as reply:
        log = json.loads(reply.read())
    llm = summary["llm"]
    assert llm["requests"] == llm["completed"] == len(log) >= 20
    assert (llm["output_tokens"], llm["count_source"], llm["estimated"]) == (8 * len(log), "usage", False)
    truth = sum(1 for e in log.values() if (e["chunks"][0] - e["received"]) * 1000 <= 100)
    assert abs(llm["goodput"]["met"] - truth) <= max(1, 0.02 * len(log)), (llm["goodput"], truth)
    assert 30 <= llm["goodput"]["attainment_pct"] <= 70
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
