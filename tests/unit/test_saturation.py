"""Early stop on saturation: the window rule, and stop_when in the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.core.errors import ConfigError
from load_tests.core.saturation import Counts, SaturationWatch
from load_tests.launch.settings import load_settings


def _feed(watch: SaturationWatch, per_second: list[tuple[int, int, int, int]]) -> list[str | None]:
    """Seconds of (requests, failures, scheduled, dropped) -> what the watch said after each."""
    totals = [0, 0, 0, 0]
    said = [watch.observe(Counts(0.0))]
    for second, step in enumerate(per_second, start=1):
        totals = [a + b for a, b in zip(totals, step, strict=True)]
        said.append(watch.observe(Counts(float(second), *totals)))
    return said


def test_a_limit_broken_over_a_whole_window_stops_the_run() -> None:
    watch = SaturationWatch({"dropped_pct": 20.0, "for_s": 3.0})
    healthy, saturated = (20, 0, 20, 0), (10, 0, 20, 10)
    said = _feed(watch, [healthy] * 5 + [saturated] * 4)
    assert said[:7] == [None] * 7  # 5 healthy seconds; one bad second is 17 % of the last 3 s: not yet
    assert said[7] == "saturated: 33.3% of iterations dropped over the last 3s (20 of 60; stop_when.dropped_pct: 20)"


def test_a_short_stall_inside_the_window_does_not_stop_it() -> None:
    watch = SaturationWatch({"dropped_pct": 25.0, "error_rate_pct": 50.0, "for_s": 4.0})
    said = _feed(watch, [(20, 0, 20, 0)] * 4 + [(5, 0, 20, 15)] + [(20, 0, 20, 0)] * 6)
    assert said == [None] * 12  # 15 of 80 = 19 % at worst


def test_the_error_rate_counts_failed_requests_and_the_window_must_be_full() -> None:
    watch = SaturationWatch({"error_rate_pct": 20.0, "for_s": 2.0})
    said = _feed(watch, [(10, 9, 0, 0)] * 3)
    assert said[:2] == [None, None]  # a run younger than its window is not judged
    assert said[2] == "saturated: 90.0% of requests failed over the last 2s (18 of 20; stop_when.error_rate_pct: 20)"


def _scenario(tmp_path: Path, entry: str, **cli: str) -> object:
    config = tmp_path / "c.yaml"
    config.write_text(f"scenarios:\n  s: {entry}\n")
    return load_settings({"config": str(config), "scenario": "s", **cli}, env={}).scenario


def test_stop_when_from_yaml(tmp_path: Path) -> None:
    paced = "{kind: constant_arrival_rate, rate: 20, duration: 30s, stop_when: {dropped_pct: 10, for: 5s}}"
    assert _scenario(tmp_path, paced).stop_when == {"dropped_pct": 10.0, "for_s": 5.0}  # type: ignore[attr-defined]
    assert _scenario(tmp_path, paced, rate="40").stop_when == {"dropped_pct": 10.0, "for_s": 5.0}  # type: ignore[attr-defined]
    closed = "{users: 2, spawn_rate: 2, duration: 10s, stop_when: {error_rate_pct: 50}}"
    assert _scenario(tmp_path, closed).stop_when == {"error_rate_pct": 50.0, "for_s": 10.0}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{kind: constant_arrival_rate, rate: 20, duration: 30s, stop_when: {for: 5s}}",
         "scenarios.s.stop_when: give error_rate_pct, dropped_pct or late_pct"),
        ("{users: 2, spawn_rate: 2, duration: 10s, stop_when: {dropped_pct: 5}}",
         "scenarios.s.stop_when: dropped_pct and late_pct are for arrival-rate load"),
        ("{kind: constant_arrival_rate, rate: 20, duration: 30s, stop_when: {dropped_pct: 5, for: never}}",
         "scenarios.s.stop_when.for"),
    ],
)  # fmt: skip
def test_stop_when_mistakes_are_one_line_errors(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        _scenario(tmp_path, entry)
    assert message in str(info.value) and "\n" not in str(info.value), str(info.value)
