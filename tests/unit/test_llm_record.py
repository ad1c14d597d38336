"""Token figures through the recorder, the worker wire and the summary (seam 2): exact merges, rates over
``window_s``, goodput, and nothing added to rows without token streams."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from load_tests.core.llm_metrics import Slo
from load_tests.core.merge import merge_summaries
from load_tests.core.recorder import Recorder
from load_tests.core.request_types import Failure
from load_tests.core.summary import build_summary
from load_tests.core.wire import decode_delta, encode_delta
from load_tests.reporting.compare import Tolerance, compare
from load_tests.reporting.tables import write_csv
from load_tests.reporting.text import render_text

ROW = ("LLM stream", "POST /v1/chat/completions")


def _llm(ttft: float, gap: float, chunks: int, tokens_per_chunk: int = 1, *, tail: float = 1.0,
         completed: bool = True, usage: int | None = None, source: str = "usage") -> dict:  # fmt: skip
    chunk_ms = [ttft + i * gap for i in range(chunks)]
    tokens = [tokens_per_chunk] * chunks
    output = usage if usage is not None else sum(tokens)
    return {"messages": chunks + 1, "gaps_ms": [gap] * (chunks - 1), "llm": {
        "chunk_ms": chunk_ms, "chunk_tokens": tokens, "reasoning_tokens": 0, "e2e_ms": chunk_ms[-1] + tail,
        "input_tokens": 10, "output_tokens": output, "count_source": source, "completed": completed,
        "text_chars": 4 * output}}  # fmt: skip


def _feed(recorder: Recorder, contexts: list[tuple[dict, Exception | None]]) -> None:
    for context, error in contexts:
        recorder.record(*ROW, context["llm"]["e2e_ms"], 0, error, context)


CONTEXTS = [
    (_llm(100, 10, 11), None),  # TPOT (201-100)/10 = 10.1 ms
    (_llm(300, 20, 6, 2), None),  # 12 tokens in 6 chunks: TPOT (401-300)/11
    (_llm(50, 5, 3, completed=False), Failure("stream cut before [DONE]")),  # partial tokens count
    (_llm(900, 10, 11), None),  # misses a 500 ms TTFT SLO
]


def _same(got: dict, expected: dict) -> None:
    """Equal figures: histograms and counts exactly, sums and means up to float summation order."""
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, dict):
            _same(got[key], value)
        else:
            assert got[key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), key


def test_recorder_keeps_token_figures_and_goodput() -> None:
    recorder = Recorder(llm_slo=Slo(ttft_ms=500, tpot_ms=15))
    _feed(recorder, CONTEXTS)
    recorder.record("POST", "/predict", 5.0, 0, None, {})  # no token stream: no llm figures
    summary = build_summary(recorder, {}, 2.0)
    llm = summary["llm"]
    assert "llm" not in summary["total"]
    assert (llm["requests"], llm["completed"]) == (4, 3)
    assert (llm["input_tokens"], llm["output_tokens"]) == (40, 11 + 12 + 3 + 11)
    assert llm["output_tokens_per_s"] == pytest.approx(37 / 2.0) and llm["request_throughput"] == 2.0
    assert llm["total_tokens_per_s"] == pytest.approx(77 / 2.0)
    assert llm["count_source"] == "usage" and llm["estimated"] is False
    assert llm["ttft_ms"]["p50"] == pytest.approx(100, rel=1e-3) and llm["ttft_ms"]["max"] == 900
    assert llm["ttft_ms"]["mean"] == pytest.approx((100 + 300 + 50 + 900) / 4)
    assert llm["ttst_ms"]["max"] == pytest.approx(910)
    assert llm["itl_ms"]["max"] == 20 and llm["itl_ms"]["p50"] == pytest.approx(10, rel=1e-3)
    # per token, not per chunk: the 2-token chunks give 101/11 ms; the cut stream (61-50)/2
    assert llm["tpot_ms"]["mean"] == pytest.approx((10.1 + 101 / 11 + 5.5 + 10.1) / 4)
    assert llm["goodput"] == {"slo": {"ttft_ms": 500.0, "tpot_ms": 15.0}, "met": 2, "goodput_rps": 1.0,
                              "attainment_pct": 50.0}  # fmt: skip
    (row,) = [r for r in summary["endpoints"] if r["name"] == ROW[1]]
    assert row["llm"]["requests"] == 4 and row["llm"]["ttft_ms"] == llm["ttft_ms"]
    (plain,) = [r for r in summary["endpoints"] if r["name"] == "/predict"]
    assert "llm" not in plain
    json.dumps(summary)


def test_estimates_are_labelled() -> None:
    recorder = Recorder()
    _feed(recorder, [(_llm(10, 1, 3, source="estimate"), None), (_llm(10, 1, 3), None)])
    llm = build_summary(recorder, {}, 1.0)["llm"]
    assert llm["estimated"] is True and llm["count_source"] == "mixed" and "goodput" not in llm
    assert llm["count_sources"] == {"estimate": 1, "usage": 1}


def test_workers_merge_exactly_over_the_wire() -> None:
    """Two workers' deltas shipped and merged give the same figures as one recorder that saw it all."""
    slo = Slo(ttft_ms=500)
    whole = Recorder(llm_slo=slo)
    _feed(whole, CONTEXTS)
    master = Recorder(llm_slo=slo)
    for part in (CONTEXTS[:1], CONTEXTS[1:]):
        worker = Recorder(llm_slo=slo)
        _feed(worker, part)
        wire = json.loads(json.dumps(encode_delta(worker.take())))
        master.merge(decode_delta(wire))
    _same(build_summary(master, {}, 3.0)["llm"], build_summary(whole, {}, 3.0)["llm"])


def test_summaries_merge_exactly() -> None:
    slo = Slo(e2e_ms=300)
    whole, first, second = Recorder(llm_slo=slo), Recorder(llm_slo=slo), Recorder(llm_slo=slo)
    _feed(whole, CONTEXTS)
    _feed(first, CONTEXTS[:2])
    _feed(second, CONTEXTS[2:])
    merged = merge_summaries([build_summary(first, {}, 2.0), build_summary(second, {}, 2.0)])
    expected = build_summary(whole, {}, 2.0)["llm"]
    _same(merged["llm"], expected)
    assert expected["goodput"]["met"] == 1


def test_text_and_csv_reports_carry_the_token_figures(tmp_path: Path) -> None:
    recorder = Recorder(llm_slo=Slo(ttft_ms=500))
    _feed(recorder, CONTEXTS)
    _feed(recorder, [(_llm(10, 1, 3, source="estimate"), None)])
    summary = build_summary(recorder, {"scenario": {"name": "s"}, "test_types": ["chat"]}, 2.0)
    text = render_text(summary)
    assert "LLM token streams (token counts from several sources, some estimated):" in text
    assert "out 40 (estimated)" in text and "Goodput: 1.50 req/s met every SLO (ttft_ms <= 500): 60.0% of 5" in text
    (ttft,) = [line for line in text.splitlines() if line.strip().startswith("TTFT (ms)")]
    assert ttft.split()[2:] == ["272.0", "100.0", "900.0", "900.0", "900.0", "900.0"]
    rows = list(csv.DictReader(write_csv(summary, tmp_path / "m.csv").open()))
    total = rows[-1]
    assert (total["name"], total["llm_requests"], total["llm_count_source"], total["llm_goodput_rps"]) == (
        "TOTAL", "5", "mixed", "1.5")  # fmt: skip
    plain = build_summary(Recorder(), {"scenario": {"name": "s"}, "test_types": []}, 1.0)
    assert "LLM" not in render_text(plain)


def test_compare_judges_token_latencies() -> None:
    def run(extra_ttft: float) -> dict:
        recorder = Recorder()
        _feed(
            recorder, [(_llm(100 + extra_ttft + i % 7, 10 + i % 3, 8), None) for i in range(90)]
        )  # compare judges from 86 samples
        return build_summary(recorder, {}, 5.0)

    quick = Tolerance()
    rows = {r["scope"]: r for r in compare(run(0), run(200), quick)["rows"]}
    assert rows["llm ttft_ms"]["verdict"] == "regressed" and rows["llm itl_ms"]["verdict"] == "unchanged"
    assert rows["llm ttft_ms"]["new"]["p95_ms"] - rows["llm ttft_ms"]["old"]["p95_ms"] == pytest.approx(200, abs=1)
    same = compare(run(0), run(0), quick)
    assert not same["regressed"] and {"llm ttft_ms", "llm itl_ms", "llm tpot_ms"} <= {r["scope"] for r in same["rows"]}


def test_token_windows_survive_the_wire() -> None:
    recorder = Recorder(clock=lambda: 5_000.7)
    _feed(recorder, CONTEXTS[:2])
    decoded = decode_delta(json.loads(json.dumps(encode_delta(recorder))))
    assert {s: (w.tokens, w.busy_s) for s, w in decoded.seconds.items()} == {
        s: (w.tokens, w.busy_s) for s, w in recorder.seconds.items()}  # fmt: skip
    assert sum(w.tokens for w in decoded.seconds.values()) == pytest.approx(11 + 12)


def test_compare_judges_slo_attainment_like_an_error_rate() -> None:
    def run(missed: int, requests: int = 200, slo: Slo | None = None) -> dict:
        recorder = Recorder(llm_slo=slo or Slo(ttft_ms=500))
        _feed(recorder, [(_llm(900 if i < missed else 100, 10, 4), None) for i in range(requests)])
        return build_summary(recorder, {}, 10.0)

    def slo_row(old: dict, new: dict) -> dict:
        (row,) = [r for r in compare(old, new)["rows"] if r["scope"] == "llm slo_attainment_pct"]
        return row

    worse = slo_row(run(10), run(60))  # 95 % -> 70 % of 200 requests met the SLO
    assert worse["verdict"] == "regressed" and worse["reason"] == "SLO attainment 95.0% -> 70.0%"
    assert (worse["old"]["error_rate_pct"], worse["new"]["error_rate_pct"], worse["samples"]) == (5.0, 30.0, [200, 200])
    assert slo_row(run(60), run(10))["verdict"] == "improved"
    assert slo_row(run(10), run(11))["verdict"] == "unchanged"  # 0.5 point: within the tolerance
    assert slo_row(run(1, 40), run(30, 40))["verdict"] == "too_few"  # 40 requests: under the minimum of 86
    assert not [r for r in compare(run(10), run(60, slo=Slo(ttft_ms=800)))["rows"] if r["scope"].startswith("llm slo")]


def test_record_all_counts_as_record_value_does() -> None:
    """The batch recorder's own index arithmetic gives hdrh's counts, min and max, across the whole range
    (sub-µs values clamp to 1 µs, hours to the top), so percentiles and merges cannot move."""
    import random

    from hdrh.histogram import HdrHistogram

    from load_tests.core.llm_record import HIGHEST, LOWEST, _scaled, record_all

    rng = random.Random(3)
    values = [0.0, -1.0, 0.0004, 0.001, 1e-3 * LOWEST, 2047.9, 2048.0, 4096.5, HIGHEST / 1000.0, 1e9]
    values += [10 ** rng.uniform(-4, 7) for _ in range(20_000)]
    one_by_one, batched = HdrHistogram(LOWEST, HIGHEST, 3), HdrHistogram(LOWEST, HIGHEST, 3)
    for value in values:
        one_by_one.record_value(_scaled(value))
    record_all(batched, values[:7])
    record_all(batched, values[7:])
    assert list(batched.counts) == list(one_by_one.counts)
    assert (batched.total_count, batched.min_value, batched.max_value) == (
        one_by_one.total_count, one_by_one.min_value, one_by_one.max_value)  # fmt: skip
    assert batched.encode() == one_by_one.encode()
