"""Goodput and token-figure thresholds: from the YAML (llm.slo, thresholds) through the plan to verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.core.errors import ConfigError
from load_tests.core.llm_metrics import Slo
from load_tests.core.plan import RunPlan
from load_tests.core.recorder import Recorder
from load_tests.core.summary import build_summary
from load_tests.core.thresholds import evaluate, merge_rules
from load_tests.launch.plan_writer import plan_from_settings
from load_tests.launch.settings import load_settings

YAML = """
llm:
  slo: {ttft_ms: 500, tpot_ms: 50}
thresholds:
  goodput_rps: {min: 1.5}
  slo_attainment_pct: {min: 95}
  output_tokens_per_s: {min: 10}
  ttft_ms: {p95: 1000}
  endpoints:
    "LLM stream POST /v1/chat/completions":
      itl_ms: {p50: 20, max: 25}
"""


def _context(ttft: float, gap: float, chunks: int) -> dict:
    chunk_ms = [ttft + i * gap for i in range(chunks)]
    return {"messages": chunks, "gaps_ms": [], "llm": {
        "chunk_ms": chunk_ms, "chunk_tokens": [1] * chunks, "reasoning_tokens": 0, "e2e_ms": chunk_ms[-1],
        "input_tokens": 5, "output_tokens": chunks, "count_source": "usage", "completed": True,
        "text_chars": 0}}  # fmt: skip


def _cfg(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return str(path)


def test_slo_and_thresholds_travel_from_yaml_to_verdicts(tmp_path: Path) -> None:
    settings = load_settings({"config": _cfg(tmp_path, YAML)}, env={})
    plan = RunPlan.from_json(
        plan_from_settings(settings, tmp_path, "t", with_scenario=True, from_runner=True).to_json()
    )
    assert plan.llm_slo == {"ttft_ms": 500.0, "tpot_ms": 50.0}
    recorder = Recorder(llm_slo=Slo.from_dict(plan.llm_slo))
    for ttft in (100, 200, 300, 900):  # the last misses the TTFT SLO: 3 of 4 met
        context = _context(ttft, 10, 11)
        recorder.record("LLM stream", "POST /v1/chat/completions", context["llm"]["e2e_ms"], 0, None, context)
    verdicts = {(v.scope, v.metric): v for v in evaluate(build_summary(recorder, {}, 2.0), plan.thresholds)}
    assert verdicts["global", "goodput_rps min"].actual == 1.5 and verdicts["global", "goodput_rps min"].passed
    attainment = verdicts["global", "slo_attainment_pct min"]
    assert attainment.actual == 75.0 and not attainment.passed and attainment.reason == "75.00 < 95"
    assert verdicts["global", "output_tokens_per_s min"].actual == pytest.approx(44 / 2.0)
    assert verdicts["global", "ttft_ms p95"].passed
    itl = verdicts["endpoint LLM stream POST /v1/chat/completions", "itl_ms max"]
    assert itl.actual == 10 and itl.passed


def test_token_rules_fail_without_token_streams_or_slo() -> None:
    recorder = Recorder()
    recorder.record("POST", "/predict", 5.0, 0, None, {})
    rules = merge_rules({"goodput_rps": {"min": 1}, "ttft_ms": {"p99": 100}}, {})
    reasons = {v.metric: v.reason for v in evaluate(build_summary(recorder, {}, 1.0), rules)}
    assert reasons == {"goodput_rps min": "no token streams", "ttft_ms p99": "no token streams"}
    context = _context(10, 1, 3)
    recorder.record("LLM stream", "x", 12.0, 0, None, context)
    reasons = {v.metric: v.reason for v in evaluate(build_summary(recorder, {}, 1.0), rules)}
    assert reasons["goodput_rps min"] == "no SLO set (llm.slo in the config)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("llm:\n  slo: {ttft: 5}\n", "llm.slo.ttft"),
        ("llm:\n  slo: {ttft_ms: -1}\n", "llm.slo.ttft_ms"),
        ("thresholds:\n  goodput_rps: {}\n", "give min, max or both"),
        ("thresholds:\n  ttft_ms: {p97: 5}\n", "thresholds.ttft_ms.p97"),
    ],
)
def test_bad_llm_config_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")) as error:
        load_settings({"config": _cfg(tmp_path, text)}, env={})
    assert "\n" not in str(error.value)
