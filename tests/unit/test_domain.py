"""Domain (custom) metrics: exact merging across processes, threshold lookups, the compare row (a real run:
e2e/test_domain.py)."""

from __future__ import annotations

import json
import random

import pytest

from load_tests.core import domain
from load_tests.core.domain import REGISTRY, DomainMetrics, lookup
from load_tests.core.thresholds import check_custom
from load_tests.reporting.compare import Tolerance, compare_custom


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


def test_each_kind_summarises_to_exact_figures() -> None:
    metrics = DomainMetrics()
    for value in (0.1, 0.2, 0.3, 0.4, 1.0):
        metrics.trend("rtf", value)
    metrics.count("tokens", 48)
    metrics.count("tokens", 16.5)
    for ok in (True, True, False, True):
        metrics.rate("accuracy", ok)
    summary = metrics.summary(4.0)
    assert list(summary) == ["accuracy", "rtf", "tokens"]  # sorted by name
    assert summary["tokens"] == {"kind": "counter", "value": 64.5, "per_second": 16.125}
    assert summary["accuracy"] == {"kind": "rate", "rate": 0.75, "true": 3, "total": 4}
    rtf = summary["rtf"]
    assert (rtf["kind"], rtf["count"], rtf["min"], rtf["max"]) == ("trend", 5, 0.1, 1.0)
    assert rtf["avg"] == pytest.approx(0.4)
    assert (rtf["p50"], rtf["p90"], rtf["p95"], rtf["p99"]) == (0.3, 1.0, 1.0, 1.0)  # kept to three decimals
    assert metrics.summary(0.0)["tokens"]["per_second"] is None  # no duration, no rate
    restored = DomainMetrics.decode(json.loads(json.dumps(metrics.encode())))
    assert restored.summary(4.0) == summary
    with pytest.raises(ValueError, match="trends take finite numbers >= 0"):
        metrics.trend("rtf", -0.5)
    with pytest.raises(ValueError, match="is a counter, not a rate"):
        metrics.rate("tokens", True)
    with pytest.raises(ValueError, match="is a rate, not a counter"):
        metrics.count("accuracy")


def test_lookup_prefers_an_exact_name_and_ignores_unknown_figures() -> None:
    custom = {"tokens": {"kind": "counter", "value": 10.0, "per_second": 1.0},
              "tokens_per_second": {"kind": "trend", "avg": 3.0, "p95": 5.0}}  # fmt: skip
    assert lookup(custom, "tokens_per_second") == ("tokens_per_second", "avg")  # its own metric, not tokens' rate
    assert lookup(custom, "tokens_per_second.p95") == ("tokens_per_second", "p95")
    assert lookup(custom, "tokens.p95") is None  # a counter has no p95
    assert lookup({"rtf": {"kind": "trend", "avg": 1.0}}, "rtf_per_second") is None  # only counters have a rate


def test_the_bundled_users_helpers_record_into_the_registry() -> None:
    REGISTRY.take()  # start from an empty registry whatever ran before
    domain.generated(32, 2.0)
    domain.generated(0, 1.0)  # nothing generated: no speed to record
    domain.speech("stt", 4.0, 1.0)
    domain.speech("tts", 0.0, 1.0)  # no audio: no real-time factor
    domain.predicted("abnormal", "normal")
    domain.predicted("normal", "normal")
    domain.predicted("normal", None)  # the true label is unknown: no accuracy
    summary = REGISTRY.take().summary(8.0)
    assert not REGISTRY
    assert summary["tokens"] == {"kind": "counter", "value": 32.0, "per_second": 4.0}
    assert summary["request_tokens_per_s"]["count"] == 1 and summary["request_tokens_per_s"]["avg"] == 16.0
    assert summary["stt_audio_seconds"]["value"] == 4.0 and summary["stt_real_time_factor"]["avg"] == 0.25
    assert summary["tts_audio_seconds"]["value"] == 0.0 and "tts_real_time_factor" not in summary
    assert summary["predicted_class=abnormal"]["value"] == 1.0 and summary["predicted_class=normal"]["value"] == 2.0
    assert summary["predict_accuracy"] == {"kind": "rate", "rate": 0.5, "true": 1, "total": 2}
