"""What CI systems read: summary.md (and the job page via $GITHUB_STEP_SUMMARY) and JUnit XML, read back
with junitparser, the parser behind several CI test-report tools."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from junitparser import Failure, JUnitXml, Skipped

from load_tests.core.recorder import Recorder
from load_tests.core.summary import build_summary, with_verdicts
from load_tests.core.thresholds import evaluate, merge_rules
from load_tests.generate_report import main as generate_report
from load_tests.launch.cli import build_parser
from load_tests.reporting import write_reports, write_summary
from load_tests.reporting.compare import compare
from load_tests.reporting.junit import default_on, render_junit, write_junit_of_run
from load_tests.reporting.markdown import render_markdown


def _summary(predict_ms: float, seed: int, model_info: int = 4) -> dict[str, Any]:
    rng = random.Random(seed)
    recorder = Recorder(lambda: 1_000.0)
    for _ in range(300):
        recorder.record("POST", "/predict", predict_ms + rng.uniform(0, 4), 10, None)
        recorder.record("GET", "/health", rng.uniform(0.5, 1.5), 10, None)
    for _ in range(model_info):
        recorder.record("GET", "/model-info", 38.0, 10, None)
    meta = {"scenario": {"name": "smoke", "profile": "normal", "stages": []}, "test_types": ["rest"], "partial": False,
            "services": {}, "timeline": [], "started_at": "2026-11-30T02:00:00Z", "ended_at": "x"}  # fmt: skip
    summary = build_summary(recorder, meta, 15.0)
    rules = merge_rules({"p95_ms": 30, "error_rate_pct": 1.0, "endpoints": {"POST /predict": {"p99_ms": 25}}}, {})
    return with_verdicts(summary, evaluate(summary, rules))


def test_markdown_has_the_verdict_the_key_table_the_thresholds_and_the_regressions() -> None:
    old, new = _summary(10.0, 1), _summary(24.0, 2, model_info=1)
    text = render_markdown(new, compare(old, new))
    lines = text.splitlines()
    assert lines[0] == "# Load test: smoke"
    assert lines[2].startswith("❌ **FAILED**: endpoint POST /predict p99_ms") and "p99_ms" in lines[2]
    assert lines[3].startswith("❌ **REGRESSED** against `old`: 2 regressed, 0 improved, 1 unchanged, 1 with too few")
    table = [line for line in lines if line.startswith("| http |") or line.startswith("| **total** |")]
    assert len(table) == 2 and table[0].split(" | ")[1] == "601"  # 300 + 300 + 1 requests
    assert "| ✅ | global | p95_ms | 30.00 |" in text and "| ❌ | endpoint POST /predict | p99_ms | 25.00 |" in text
    assert "| ❌ regressed | POST /predict |" in text
    assert "Not judged, too few samples (at least 86 per run): GET /model-info (n=4/1)" in text
    assert render_markdown(old).count("## Compared") == 0


def test_markdown_goes_to_the_run_folder_and_the_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step = tmp_path / "step_summary.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    monkeypatch.delenv("CI", raising=False)
    summary = _summary(10.0, 1)
    write_reports(summary, tmp_path / "run", "ts")
    md = (tmp_path / "run" / "summary.md").read_text()
    assert md.startswith("# Load test: smoke") and step.read_text() == "earlier step\n" + md + "\n"
    assert not (tmp_path / "run" / "junit.xml").exists()  # not in CI, not asked for


def test_junit_one_case_per_threshold_and_compare_row_failures_carry_figure_and_limit(tmp_path: Path) -> None:
    old, new = _summary(10.0, 1), _summary(24.0, 2, model_info=1)
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(new, compare(old, new)))
    xml = JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"thresholds (smoke)", "compare (smoke)"}
    thresholds = suites["thresholds (smoke)"]
    assert (thresholds.tests, thresholds.failures, thresholds.errors, thresholds.skipped) == (3, 1, 0, 0)
    failing = [case for case in thresholds if not case.is_passed]
    assert [case.name for case in failing] == ["endpoint POST /predict p99_ms"]
    failure = failing[0].result[0]
    assert isinstance(failure, Failure) and failure.type == "threshold"
    assert failure.text.startswith("actual 2") and "limit 25" in failure.text
    cases = {case.name: case for case in suites["compare (smoke)"]}
    assert set(cases) == {"protocol http vs baseline", "POST /predict vs baseline", "GET /health vs baseline",
                          "GET /model-info vs baseline"}  # fmt: skip
    assert isinstance(cases["GET /model-info vs baseline"].result[0], Skipped)
    assert cases["GET /health vs baseline"].is_passed
    regression = cases["POST /predict vs baseline"].result[0]
    assert regression.type == "regression" and "limit 2.0 ms" in regression.text and "p95 1" in regression.text
    assert (xml.tests, xml.failures, xml.skipped) == (7, 3, 1)


def test_junit_validity_is_a_case_with_its_reasons_and_warnings() -> None:
    warning = "timed streams: the worker's loop lagged 24.0 ms at p99 (limit 10 ms)"
    valid = {**_summary(10.0, 1), "validity": {"valid": True, "reasons": [], "warnings": [warning]}}
    invalid = {**valid, "validity": {"valid": False, "reasons": ["rate not achieved"], "warnings": [warning]}}
    quiet = {**valid, "validity": {"valid": True, "reasons": [], "warnings": []}}
    cases = []
    for summary in (valid, invalid, quiet):
        suite = next(iter(JUnitXml.fromstring(render_junit(summary).encode())))
        cases.append({case.name: case for case in suite}["run validity"])
    assert cases[0].is_passed and cases[0].system_out == f"warnings: {warning}"
    failure = cases[1].result[0]
    assert isinstance(failure, Failure) and failure.type == "invalid" and failure.message == "rate not achieved"
    assert cases[1].system_out == f"warnings: {warning}"
    assert cases[2].is_passed and cases[2].system_out is None


def test_junit_is_on_by_default_in_ci_and_generate_report_gates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("CI", "true")
    assert default_on()
    old_path = write_summary(_summary(10.0, 1), tmp_path / "old", "old")
    new_path = write_summary(_summary(10.0, 2, model_info=1), tmp_path / "new", "new")
    assert generate_report([str(new_path), "--compare", str(old_path)]) == 0  # its exit code is the comparison's
    comparison = json.loads((tmp_path / "new" / "comparison.json").read_text())
    assert comparison["regressed"] is False and comparison["counts"]["too_few"] == 1
    xml = JUnitXml.fromfile(str(tmp_path / "new" / "junit.xml"))
    assert xml.tests == 7 and xml.skipped == 1
    assert "✅ no regression" in (tmp_path / "new" / "summary.md").read_text()
    target = tmp_path / "elsewhere" / "j.xml"
    assert generate_report([str(new_path), "--junit", str(target), "--settle", "abc"]) == 2
    assert generate_report([str(new_path), "--junit", str(target)]) == 0  # no comparison: reports only
    assert JUnitXml.fromfile(str(target)).tests == 3  # the thresholds only
    monkeypatch.setenv("CI", "false")
    assert not default_on()


def test_run_load_tests_junit_flag_writes_the_runs_thresholds(tmp_path: Path) -> None:
    """``run_load_tests.py --junit FILE``: after the run, the summary in its folder becomes FILE."""
    run_dir = tmp_path / "smoke" / "20260101-000000"
    write_summary(_summary(24.0, 1), run_dir, "20260101-000000")
    written = write_junit_of_run(run_dir, tmp_path / "out" / "junit.xml")
    assert written == tmp_path / "out" / "junit.xml" and JUnitXml.fromfile(str(written)).failures == 1
    assert write_junit_of_run(tmp_path / "empty", tmp_path / "none.xml") is None
    assert "--junit" in build_parser().format_help()
