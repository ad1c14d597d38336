"""The benchmark harness's own logic: ordering, ratios and goals (the tiny real run: e2e/test_bench.py)."""

from __future__ import annotations

import pytest

from bench.markdown_table import replace_readme_table
from bench.run import goals, ratio_stats, schedule


def test_contenders_are_interleaved_with_the_order_reversed_every_other_round() -> None:
    assert schedule(["a", "b", "c"], 3) == [(0, "a"), (0, "b"), (0, "c"), (1, "c"), (1, "b"), (1, "a"),
                                            (2, "a"), (2, "b"), (2, "c")]  # fmt: skip


def test_ratios_pair_runs_of_the_same_round_and_give_median_and_range() -> None:
    runs = {
        "ours": [{"cpu_us_per_request": v} for v in (110.0, 130.0, 90.0)],
        "raw": [{"cpu_us_per_request": 100.0} for _ in range(3)],
    }
    stats = ratio_stats(runs, "ours", "raw", "cpu_us_per_request")
    assert stats is not None
    assert stats["per_round"] == pytest.approx([1.1, 1.3, 0.9])
    assert (stats["median"], stats["min"], stats["max"]) == pytest.approx((1.1, 0.9, 1.3))
    assert ratio_stats({"ours": [{"cpu_us_per_request": None}], "raw": [{}]}, "ours", "raw", "x") is None
    verdicts = goals({"grpc": {"ratios": {"ours/sync": stats}}, "http": {"ratios": {"ours/fasthttp": None}}})
    assert verdicts == [
        {"protocol": "grpc", "against": "sync", "limit": 1.25, "median": pytest.approx(1.1), "met": True}
    ]


def test_the_readme_table_is_replaced_between_its_markers_only() -> None:
    readme = "intro\n<!-- bench-table -->\nold table\n<!-- /bench-table -->\n\nafter\n"
    assert replace_readme_table(readme, "new\n") == "intro\n<!-- bench-table -->\nnew\n<!-- /bench-table -->\n\nafter\n"
    with pytest.raises(ValueError, match="markers"):
        replace_readme_table("no markers", "new")


def test_paired_refuses_a_contender_it_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import paired

    assert paired.main(["http_ours", "http_fast"]) == 2  # refused before any target starts
    assert "http_fast: not a contender of bench/run.py" in capsys.readouterr().err
