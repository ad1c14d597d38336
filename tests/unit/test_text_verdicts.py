"""The text report's verdict table: columns as wide as their longest entry, so every reason starts in line."""

from __future__ import annotations

from load_tests.core.recorder import Recorder
from load_tests.core.summary import build_summary, with_verdicts
from load_tests.core.thresholds import Verdict, evaluate, merge_rules
from load_tests.reporting.text import render_text


def test_long_metric_and_scope_names_keep_the_reasons_aligned() -> None:
    recorder = Recorder()
    for i in range(50):
        recorder.record("POST", "/a-rather-long-endpoint-name/that/is/longer", 5.0 + i % 7, 10)
    meta = {"partial": False, "scenario": {"name": "t", "profile": "normal", "stages": []}, "test_types": ["rest"],
            "services": {}, "timeline": [], "started_at": "x", "ended_at": "y"}  # fmt: skip
    summary = build_summary(recorder, meta, 1.0)
    endpoints = {"POST /a-rather-long-endpoint-name/that/is/longer": {"p95_ms": 1}}
    verdicts = evaluate(summary, merge_rules({"p95_ms": 1000, "error_rate_pct": 1, "endpoints": endpoints}, {}))
    verdicts.append(Verdict("global", "slo_attainment_pct min", 95, 50.0, False, "50.0 >= 95"))
    text = render_text(with_verdicts(summary, verdicts))
    lines = text.split("Thresholds:\n", 1)[1].splitlines()[: len(verdicts)]
    assert len(lines) == len(verdicts) >= 3
    assert any(len(v.scope) > 28 for v in verdicts)  # the scope column grew too
    starts = {line.index(v.reason) for line, v in zip(lines, verdicts, strict=True)}
    assert len(starts) == 1, lines  # every reason in one column
    assert all(f" {v.metric} " in line for line, v in zip(lines, verdicts, strict=True))
