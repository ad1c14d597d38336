"""Open-model (arrival-rate) load: the schedule maths and arrival scenarios from YAML and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from load_tests.core.scenarios import Arrival
from load_tests.launch.settings import load_settings

RAMP = Arrival("ramping_arrival_rate", 10.0, ((6.0, 40.0), (6.0, 40.0)), 40)


def test_the_schedule_is_the_integral_of_the_rate_and_splits_exactly_across_workers() -> None:
    assert RAMP.count_until(6.0) == pytest.approx(150.0)  # 10 -> 40 linearly over 6 s
    assert RAMP.count_until(12.0) == pytest.approx(390.0)
    assert RAMP.rate_at(3.0) == pytest.approx(25.0) and RAMP.rate_at(9.0) == 40.0 and RAMP.rate_at(13.0) == 0.0
    times = []
    k = 0
    while (t := RAMP.time_of(k)) is not None:
        times.append(t)
        k += 1
    assert len(times) == 390 and times == sorted(times) and times[-1] < 12.0
    for k in (0, 1, 149, 150, 300):  # time_of inverts count_until
        assert RAMP.count_until(times[k]) == pytest.approx(k, abs=1e-6)
    assert RAMP.scheduled_between(6.0, 12.0) == 240
    # worker i of 3 takes every k with k % 3 == i: together every iteration, once
    shares = [[t for k, t in enumerate(times) if k % 3 == i] for i in range(3)]
    assert sorted(t for share in shares for t in share) == times and [len(s) for s in shares] == [130, 130, 130]


def test_arrival_scenarios_from_yaml_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "scenarios:\n"
        "  paced: {kind: constant_arrival_rate, rate: 20, duration: 30s, max_users: 8}\n"
        "  rising: {kind: ramping_arrival_rate, start_rate: 5, stages: [{duration: 10s, target: 50}]}\n"
    )
    paced = load_settings({"config": str(config), "scenario": "paced"}, env={}).scenario
    assert paced.arrival is not None and paced.arrival.max_users == 8 and paced.arrival.count_until(30) == 600
    assert paced.stages[0].users == 8  # the pool, held for the warm-up and the schedule
    rising = load_settings({"config": str(config), "scenario": "rising"}, env={}).scenario
    assert rising.arrival is not None and rising.arrival.max_users == 100  # default: 2 s of the peak rate
    flagged = load_settings({"scenario": "smoke", "rate": "12", "max_users": "4"}, env={}).scenario
    assert flagged.arrival == Arrival("constant_arrival_rate", 12.0, ((60.0, 12.0),), 4)
