"""The sweep's points, knee, table and plot, from summaries made up here."""

from __future__ import annotations

import csv
import io

import pytest

from load_tests.core.errors import ConfigError
from load_tests.core.sweep import find_knee, parse_sweep, sweep_exit_code, sweep_point, table_csv, table_markdown
from load_tests.reporting.sweep_plot import sweep_png


def _summary(rps: float, p99: float, *, invalid: bool = False, llm: dict | None = None) -> dict:
    summary: dict = {"total": {"rps": rps, "p50_ms": p99 / 2, "p99_ms": p99, "error_rate_pct": 0.0,
                               "corrected": {"p99_ms": p99 + 1}},
                     "pacing": {"achieved_rate": rps},
                     "validity": {"valid": not invalid,
                                  "reasons": ["invalid: rate not achieved (…)"] if invalid else []}}  # fmt: skip
    if llm is not None:
        summary["llm"] = llm
    return summary


def _llm(tokens_per_s: float, per_user: float, ttft_p99: float) -> dict:
    return {"output_tokens_per_s": tokens_per_s, "request_output_tokens_per_s": {"p50": per_user},
            "ttft_ms": {"p99": ttft_p99}, "tpot_ms": {"p50": 20.0}}  # fmt: skip


def test_parse_sweep() -> None:
    assert parse_sweep("rates=1,2,4.5") == ("rate", [1.0, 2.0, 4.5])
    assert parse_sweep("users=10, 20") == ("users", [10.0, 20.0])
    for text, words in [("speed=1,2", "is not a sweep"), ("rates=", "is not a sweep"), ("rates=1,x", "'x' is not"),
                        ("rates=2,1", "rising order"), ("users=1.5", "positive whole number"),
                        ("rates=0,1", "positive number")]:  # fmt: skip
        with pytest.raises(ConfigError, match=words):
            parse_sweep(text)


def test_the_knee_is_the_last_load_before_throughput_stops_scaling() -> None:
    summaries = [
        _summary(10, 50),
        _summary(20, 55),
        _summary(38, 70),
        _summary(45, 400),
        _summary(46, 900, invalid=True),
    ]
    points = [sweep_point(load, s, 0) for load, s in zip([10, 20, 40, 80, 160], summaries, strict=True)]
    assert points[0]["p99_ms"] == 51  # the corrected p99 for open-model load
    assert points[4]["saturated"] == "invalid: rate not achieved (…)" and not points[3]["saturated"]
    assert find_knee(points) == 2  # 40 -> 80: throughput +18 % for +100 % load
    rows = list(csv.DictReader(io.StringIO(table_csv(points, 2))))
    assert [r["knee"] for r in rows] == ["", "", "yes", "", ""] and rows[2]["throughput"] == "38.0"
    text = table_markdown(points, 2, "rate")
    assert "| 40 **(knee)** | 38.0 | 71.0 |" in text and "Knee at rate 40: the last load" in text
    assert sweep_exit_code([{**p, "exit_code": 4 if i > 2 else 0} for i, p in enumerate(points)], 2) == 0


def test_latency_alone_can_place_the_knee_and_llm_figures_are_preferred() -> None:
    llm = [_llm(500, 50, 100), _llm(1000, 48, 150), _llm(1900, 45, 450)]
    points = [
        sweep_point(load, _summary(load, 10, llm=figures), 0) for load, figures in zip([1, 2, 4], llm, strict=True)
    ]
    assert points[2]["throughput"] == 1900 and points[2]["latency_ms"] == 450  # TTFT p99 > 3 x 100
    assert find_knee(points) == 1
    text = table_markdown(points, 1, "rate")
    assert "output tok/s" in text and "TTFT p99 ms" in text and "per-user tok/s" in text
    png = sweep_png(points, 1, "rate")
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_no_knee_when_the_lowest_load_saturates_and_a_knee_at_the_top_when_none_does() -> None:
    first_bad = [sweep_point(1, _summary(1, 10, invalid=True), 4)]
    assert find_knee(first_bad) is None and "No knee" in table_markdown(first_bad, None, "rate")
    assert sweep_exit_code(first_bad, None) == 4
    scaling = [sweep_point(u, _summary(u * 10, 20), 0) for u in (1, 2, 4)]
    assert find_knee(scaling) == 2 and "saturation not reached" in table_markdown(scaling, 2, "users")
    assert sweep_point(8, None, 3)["saturated"] == "no summary"
    assert sweep_png([sweep_point(8, None, 3)], None, "rate").startswith(b"\x89PNG")
