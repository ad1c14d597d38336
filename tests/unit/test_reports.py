"""Reports, merging and comparison of run summaries (pure: summaries built from a real Recorder)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from load_tests.core.merge import merge_summaries
from load_tests.core.recorder import Recorder
from load_tests.core.request_types import Failure
from load_tests.core.results import validate_results
from load_tests.core.summary import SCHEMA, build_summary, with_verdicts
from load_tests.core.thresholds import evaluate, merge_rules
from load_tests.generate_report import main as generate_report
from load_tests.reporting import write_reports, write_summary
from load_tests.reporting.compare import compare

ENDPOINTS = [("POST", "/predict"), ("GET", "/health"), ("WS stream", "chat")]


def _summary(recorders: list[Recorder] | Recorder, seed: int = 1, shift_ms: dict[str, float] | None = None,
             n: int = 2000) -> dict:  # fmt: skip
    """A summary of ``n`` requests per endpoint (lognormal latency, a few failures, streams)."""
    rng = random.Random(seed)
    targets = recorders if isinstance(recorders, list) else [recorders]
    for i in range(n):
        for request_type, name in ENDPOINTS:
            value = rng.lognormvariate(1.6, 0.4) + (shift_ms or {}).get(name, 0.0)
            error = Failure("HTTP 500") if rng.random() < 0.01 else None
            context = (
                {"messages": 16, "gaps_ms": [rng.uniform(0.5, 2.0) for _ in range(15)]}
                if "stream" in request_type
                else None
            )
            targets[i % len(targets)].record(request_type, name, value, 10, error, context=context)
    point = {"t_s": 1.0, "stage": 1, "users": 5, "rps": 9.0, "failures_per_s": 0.0, "p50_ms": 5.0, "p95_ms": 9.0}
    meta = {"partial": False, "scenario": {"name": "t", "profile": "normal", "stages": []}, "test_types": ["rest"],
            "services": {}, "timeline": [point], "started_at": "x", "ended_at": "y"}  # fmt: skip
    summaries = [build_summary(r, meta, 20.0) for r in targets]
    return summaries[0] if len(summaries) == 1 else summaries  # type: ignore[return-value]


def test_two_summaries_merge_into_the_figures_of_one_run() -> None:
    whole = _summary(Recorder())
    halves = _summary([Recorder(), Recorder()])
    merged = merge_summaries(halves)
    for key in ("total", *[f"protocols.{p}" for p in whole["protocols"]]):
        a = whole[key] if "." not in key else whole["protocols"][key.split(".")[1]]
        b = merged[key] if "." not in key else merged["protocols"][key.split(".")[1]]
        for field in ("requests", "failures", "failures_by_type", "min_ms", "max_ms", "p50_ms", "p75_ms", "p90_ms",
                      "p95_ms", "p99_ms", "p99_9_ms", "rps"):  # fmt: skip
            assert a[field] == b[field], (key, field)
        assert a["avg_ms"] == pytest.approx(b["avg_ms"], rel=1e-12)
    rows_a = {(r["request_type"], r["name"]): r for r in whole["endpoints"]}
    for row in merged["endpoints"]:
        original = rows_a[(row["request_type"], row["name"])]
        assert row["p99_ms"] == original["p99_ms"] and row["requests"] == original["requests"]
        if row.get("stream"):
            assert {k: v for k, v in row["stream"].items() if k != "gaps_histogram"} == {
                k: v for k, v in original["stream"].items() if k != "gaps_histogram"
            }


def test_a_rising_error_rate_is_a_regression() -> None:
    old, new = _summary(Recorder(), seed=1), _summary(Recorder(), seed=1)
    row = next(r for r in new["endpoints"] if r["name"] == "/health")
    row["failures"] += 100
    row["error_rate_pct"] = 100.0 * row["failures"] / row["requests"]
    verdicts = {r["scope"]: (r["verdict"], r["reason"]) for r in compare(old, new)["rows"]}
    assert verdicts["GET /health"][0] == "regressed" and "error rate" in verdicts["GET /health"][1]


def test_reports_are_written_self_contained_and_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)  # in CI junit.xml is written too (tests/unit/test_ci_outputs.py)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    summary = with_verdicts(_summary(Recorder()), evaluate(_summary(Recorder()), merge_rules({"p95_ms": 1}, {})))
    written = write_reports(summary, tmp_path, "ts", compare(summary, summary), summary)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {"locust_report_ts.html", "locust_report_ts_stats.csv", "analysis/metrics.csv", "analysis/summary.txt",
            "analysis/response_time_by_endpoint.png", "analysis/p95_response_time.png",
            "analysis/error_rate_by_endpoint.png", "analysis/latency_over_time.png",
            "analysis/rps_users_over_time.png", "summary.md"} == names  # fmt: skip
    for png in tmp_path.glob("analysis/*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    html = (tmp_path / "locust_report_ts.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "no external resource"
    assert not re.search(r"url\(\s*['\"]?https?:", html) and "@import" not in html
    assert not re.search(r"<script[^>]*\ssrc", html) and html.count("<script") == 3  # uPlot, data, drawing: inline
    assert html.count("data:image/png;base64,") == 5
    assert html.index("FAILED") < html.index("<h2>Over time") < html.index("<h2>By protocol") < html.index("<h2>Charts")
    assert html.index("<h2>Charts") < html.index("<h2>Failures by type")
    csv_lines = (tmp_path / "analysis/metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("protocol,request_type,name,requests") and len(csv_lines) == 1 + 3 + 2 + 1


def test_generate_report_cli_and_validate_results(tmp_path: Path) -> None:
    run = tmp_path / "smoke" / "20260101-000000"
    good = with_verdicts(_summary(Recorder(), seed=1), [])
    old_path = write_summary(good, tmp_path / "old", "old")
    slow = _summary(Recorder(), seed=5, shift_ms={"/predict": 30.0})
    new_path = write_summary(
        with_verdicts(slow, evaluate(slow, merge_rules({"p95_ms": 20}, {}))), run, "20260101-000000"
    )
    assert generate_report([str(new_path)]) == 0
    assert (run / "locust_report_20260101-000000.html").exists()
    assert generate_report([str(new_path), "--compare", str(old_path), "--out", str(tmp_path / "cmp")]) == 1
    comparison = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert comparison["counts"]["regressed"] >= 1
    assert generate_report([str(tmp_path / "nope.json")]) == 2
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    assert generate_report([str(tmp_path / "bad.json")]) == 2

    result = validate_results(tmp_path, "smoke")
    assert result["passed"] is False and result["failures"] == [
        next(f"global p95_ms: {v['reason']}" for v in json.loads(new_path.read_text())["thresholds"]["verdicts"])
    ]
    assert json.loads(new_path.read_text())["schema"] == SCHEMA
    with pytest.raises(FileNotFoundError):
        validate_results(tmp_path, "spike")
