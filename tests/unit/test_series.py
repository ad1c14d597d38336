"""``--repeat`` and ``--matrix``: the combinations of a matrix and the spread of repeats."""

from __future__ import annotations

import pytest

from load_tests.launch.series import combinations, spread


def test_combinations_cross_every_dimension_in_yaml_order() -> None:
    model_a = {"services": {"rest": {"url": "http://127.0.0.1:1"}}}
    matrix = {"dataset": {"small": {"data": {"features_csv": "s.csv"}}, "full": {}},
              "model": {"a": model_a, "b": {"data": {"audio_dir": "x"}}}}  # fmt: skip
    combos = combinations(matrix)
    assert [label for label, _ in combos] == ["dataset=small model=a", "dataset=small model=b", "dataset=full model=a",
                                              "dataset=full model=b"]  # fmt: skip
    assert combos[1][1] == {"data": {"features_csv": "s.csv", "audio_dir": "x"}}  # merged key by key
    assert combinations({}) == [("", {})]


def test_spread_is_median_min_max_and_range() -> None:
    assert spread([10.0, 14.0, 12.0, None]) == {"median": 12.0, "min": 10.0, "max": 14.0, "range": 4.0,
                                                "range_pct": pytest.approx(100 * 4 / 12)}  # fmt: skip
    assert spread([None])["median"] is None
