"""Domain (custom) metrics: exact merging across processes, threshold lookups, and a real run whose
tokens/s threshold passes and fails on purpose."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from load_tests.core.domain import DomainMetrics, lookup
from load_tests.core.thresholds import check_custom
from load_tests.reference_service.launcher import TargetInfo
from load_tests.reporting.compare import Tolerance, compare_custom
from tests.conftest import load_summary, run_cli


def _record(metrics: DomainMetrics, rng: random.Random, n: int) -> None:
    for _ in range(n):
        metrics.count("tokens", rng.randint(1, 64))
        metrics.count(f"predicted_class={rng.choice(['normal', 'warning', 'abnormal'])}")
        metrics.rate("predict_accuracy", rng.random() < 0.9)
        metrics.trend("stt_real_time_factor", rng.uniform(0.01, 2.0))


def test_two_workers_deltas_merge_into_exactly_what_one_process_saw() -> None:
    rng = random.Random(3)
    one, a, b = DomainMetrics(), DomainMetrics(), DomainMetrics()
    for _ in range(40):  # each delta goes through msgpack-safe plain data, as in report_to_master
        worker = a if rng.random() < 0.5 else b
        state = rng.getstate()
        _record(worker, rng, 25)
        rng.setstate(state)
        _record(one, rng, 25)
    master = DomainMetrics()
    for worker in (a, b):
        master.merge(DomainMetrics.decode(json.loads(json.dumps(worker.take().encode()))))
    assert not a and not b  # take() empties the worker's registry
    got, want = master.summary(10.0), one.summary(10.0)
    assert got.keys() == want.keys()
    for name in want:
        for figure, value in want[name].items():
            if isinstance(value, float):
                assert got[name][figure] == pytest.approx(value, rel=1e-12), (name, figure)
            else:
                assert got[name][figure] == value, (name, figure)
    assert want["tokens"]["per_second"] == want["tokens"]["value"] / 10.0
    assert want["predict_accuracy"]["total"] == 1000


def test_names_and_values_are_checked() -> None:
    metrics = DomainMetrics()
    metrics.count("tokens", 3)
    with pytest.raises(ValueError, match="is a counter, not a trend"):
        metrics.trend("tokens", 1.0)
    with pytest.raises(ValueError, match="custom metric name"):
        metrics.count("bad name with spaces")
    with pytest.raises(ValueError, match="finite"):
        metrics.trend("rtf", float("nan"))


def test_threshold_keys_name_a_metric_and_a_figure() -> None:
    metrics = DomainMetrics()
    metrics.count("tokens", 600)
    metrics.trend("stt_real_time_factor", 0.2)
    metrics.rate("predict_accuracy", True)
    custom = metrics.summary(1.0)
    assert lookup(custom, "tokens") == ("tokens", "value")
    assert lookup(custom, "tokens_per_second") == ("tokens", "per_second")
    assert lookup(custom, "tokens.per_second") == ("tokens", "per_second")
    assert lookup(custom, "stt_real_time_factor") == ("stt_real_time_factor", "avg")
    assert lookup(custom, "stt_real_time_factor.p95") == ("stt_real_time_factor", "p95")
    assert lookup(custom, "predict_accuracy") == ("predict_accuracy", "rate")
    assert lookup(custom, "missing") is None
    rules = {"tokens_per_second": {"min": 500}, "stt_real_time_factor": {"max": 0.1}, "never_recorded": {"min": 1}}
    verdicts = check_custom({"custom": custom}, rules)
    assert [(v.scope, v.passed) for v in verdicts] == [
        ("custom tokens_per_second", True), ("custom stt_real_time_factor", False), ("custom never_recorded", False),
    ]  # fmt: skip
    assert verdicts[2].reason == "not recorded in this run"


def test_compare_shows_the_headline_figure_of_each_metric() -> None:
    old = {"tokens": {"kind": "counter", "value": 100, "per_second": 10.0},
           "rtf": {"kind": "trend", "p95": 0.5, "count": 3}}  # fmt: skip
    new = {"tokens": {"kind": "counter", "value": 150, "per_second": 15.0},
           "rtf": {"kind": "trend", "p95": 0.52, "count": 3}}  # fmt: skip
    rows = {r["name"]: r for r in compare_custom(old, new, Tolerance())}
    assert rows["tokens"]["figure"] == "per_second" and rows["tokens"]["delta_pct"] == pytest.approx(50.0)
    assert rows["tokens"]["moved"] and not rows["rtf"]["moved"]


@pytest.mark.slow
def test_a_tokens_per_second_threshold_passes_and_fails_on_purpose(target: TargetInfo, tmp_path: Path) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text(
        "thresholds:\n  custom:\n"
        "    tokens_per_second: {min: 1}\n"  # a few users stream far more than one token a second
        "    request_tokens_per_s.p50: {min: 1000000}\n"  # no one generates a million tokens a second
        "    stt_real_time_factor.p95: {max: 10}\n"
    )
    result = run_cli("--config", str(config), "--test-type", "rest,grpc", "--scenario", "stress", "--users", "6",
                     "--spawn-rate", "6", "--duration", "6s", "--host", target.http_url, "--grpc-target",
                     target.grpc_target, "--output-dir", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    summary = load_summary(tmp_path / "out")
    verdicts = {v["scope"]: v for v in summary["thresholds"]["verdicts"] if v["scope"].startswith("custom")}
    assert verdicts["custom tokens_per_second"]["passed"] is True
    assert verdicts["custom tokens_per_second"]["actual"] == pytest.approx(summary["custom"]["tokens"]["per_second"])
    assert verdicts["custom request_tokens_per_s.p50"]["passed"] is False
    assert verdicts["custom stt_real_time_factor.p95"]["passed"] is True
    failed = [v["scope"] for v in summary["thresholds"]["verdicts"] if not v["passed"]]
    assert failed == ["custom request_tokens_per_s.p50"]
    text = next((tmp_path / "out").glob("*/*/analysis/summary.txt")).read_text()
    assert "Domain metrics:" in text and "FAIL  custom request_tokens_per_s.p50" in text
