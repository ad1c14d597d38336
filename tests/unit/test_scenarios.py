"""The scenario catalogue, durations and stage arithmetic."""

from __future__ import annotations

import itertools
import math

import pytest

from load_tests.core.errors import ConfigError
from load_tests.core.scenarios import (
    BUILTIN_SCENARIOS,
    Arrival,
    Scenario,
    Stage,
    check_stages,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), (90, 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25)]
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "-3", "0", "m5", "1h 30m", True])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_catalogue_matches_the_documented_figures() -> None:
    expected = {
        "smoke": (5, 5, 60), "light": (10, 2, 120), "medium": (50, 5, 300), "heavy": (100, 10, 600),
        "baseline": (10, 2, 300), "target": (100, 10, 600), "ramp_up": (200, 5, 1200), "spike": (500, 50, 300),
        "sustained": (150, 10, 1800), "stress": (150, 15, 900), "endurance": (30, 3, 3600),
    }  # fmt: skip
    for name, (users, rate, duration) in expected.items():
        s = BUILTIN_SCENARIOS[name]
        assert (s.peak_users, max(st.spawn_rate for st in s.stages), s.duration_s) == (users, rate, duration), name
        check_stages(s)
    spike = [st.users for st in BUILTIN_SCENARIOS["spike"].stages]
    assert spike[0] < spike[1] > spike[2]  # calm, jump, back down
    assert BUILTIN_SCENARIOS["stress"].profile == "stress"


def test_stage_at_walks_the_stages() -> None:
    s = Scenario("x", (Stage(10, 2, 1), Stage(5, 4, 1)))
    assert s.stage_at(0)[0] == 0 and s.stage_at(9.9)[0] == 0 and s.stage_at(10)[0] == 1
    assert s.stage_at(15) is None
    with pytest.raises(ConfigError, match="stage 2"):
        check_stages(Scenario("y", (Stage(10, 2, 1), Stage(3, 20, 10))))
    assert format_duration(5400) == "1h30m" and format_duration(45) == "45s"


def test_parse_duration_more_forms() -> None:
    assert parse_duration(" 30S ") == 30.0 and parse_duration("1.5m") == 90.0 and parse_duration("2h") == 7200.0
    assert parse_duration("1h0m1s") == 3601.0 and parse_duration(0.5) == 0.5 and parse_duration("1m500ms") == 60.5
    for bad in ("1e3", "1m30", "inf", float("inf"), float("nan"), -1, "5 m", None, "ms"):
        with pytest.raises(ValueError):
            parse_duration(bad)


CONSTANT = Arrival("constant_arrival_rate", 10.0, ((60.0, 10.0),), 5)
FROM_ZERO = Arrival("ramping_arrival_rate", 0.0, ((10.0, 20.0),), 5)  # rate 2t, so t^2 iterations by t
FALLING = Arrival("ramping_arrival_rate", 40.0, ((6.0, 10.0), (4.0, 10.0)), 5)


def test_a_constant_rate_is_due_every_interval_and_windows_are_half_open() -> None:
    assert [CONSTANT.time_of(k) for k in (0, 1, 25, 599)] == [0.0, 0.1, 2.5, 59.9]
    assert CONSTANT.time_of(600) is None  # the schedule has 600 iterations
    assert (CONSTANT.count_until(0), CONSTANT.count_until(30), CONSTANT.count_until(90)) == (0.0, 300.0, 600.0)
    assert CONSTANT.rate_at(59.99) == 10.0 and CONSTANT.rate_at(60.0) == 0.0
    assert CONSTANT.scheduled_between(0.0, 1.0) == 10
    assert CONSTANT.scheduled_between(0.1, 0.2) == 1  # iteration 1 (at 0.1 s) is in, iteration 2 (0.2 s) is not
    assert CONSTANT.scheduled_between(0.05, 0.15) == 1
    assert CONSTANT.scheduled_between(59.85, 70.0) == 1 and CONSTANT.scheduled_between(59.95, 70.0) == 0
    assert (CONSTANT.duration_s, CONSTANT.peak_rate) == (60.0, 10.0)


def test_ramps_up_from_zero_and_down_invert_exactly() -> None:
    assert [FROM_ZERO.rate_at(t) for t in (0.0, 2.5, 9.0)] == [0.0, 5.0, 18.0]
    assert FROM_ZERO.count_until(5.0) == 25.0 and FROM_ZERO.count_until(10.0) == 100.0
    assert FROM_ZERO.time_of(0) == 0.0 and FROM_ZERO.time_of(25) == 5.0 and FROM_ZERO.time_of(100) is None
    assert FROM_ZERO.time_of(99) == pytest.approx(math.sqrt(99))
    assert FROM_ZERO.scheduled_between(0.0, 5.0) == 25 and FROM_ZERO.scheduled_between(5.0, 10.0) == 75
    assert FALLING.count_until(6.0) == 150.0 and FALLING.count_until(10.0) == 190.0
    assert FALLING.rate_at(3.0) == 25.0 and FALLING.time_of(150) == 6.0 and FALLING.time_of(190) is None
    assert FALLING.peak_rate == 40.0 and FALLING.duration_s == 10.0
    for arrival in (FROM_ZERO, FALLING):
        for k in (1, 7, 50, 99):
            t = arrival.time_of(k)
            assert t is not None and arrival.count_until(t) == pytest.approx(k, abs=1e-6)


@pytest.mark.parametrize("arrival", [CONSTANT, FROM_ZERO, FALLING])
def test_windows_hold_exactly_the_iterations_due_in_them(arrival: Arrival) -> None:
    times = []
    while (t := arrival.time_of(len(times))) is not None:
        times.append(t)
    assert len(times) == round(arrival.count_until(arrival.duration_s))
    edges = [i * 0.37 for i in range(math.ceil(arrival.duration_s / 0.37) + 1)]
    for begin, end in itertools.pairwise(edges):
        assert arrival.scheduled_between(begin, end) == sum(begin <= t < end for t in times), (begin, end)
    # A pacer that starts (or a worker that joins) s seconds in picks up at the first iteration not yet due.
    for s in (0.0, 0.33, 2.5, 5.01, arrival.duration_s - 0.01):
        first = math.ceil(arrival.count_until(s) - 1e-9)
        assert first == len(times) or times[first] >= s - 1e-9, s  # all due already at the very end
        assert first == 0 or times[first - 1] < s, s


def test_stage_at_on_the_spike_scenario() -> None:
    spike = BUILTIN_SCENARIOS["spike"]  # 90 s calm, 90 s at 500 users, 120 s calm
    assert [spike.stage_at(t)[0] for t in (0.0, 89.99, 90.0, 179.99, 180.0, 299.99)] == [0, 0, 1, 1, 2, 2]
    assert spike.stage_at(120.0)[1] == Stage(90.0, 500, 50) and spike.stage_at(300.0) is None
    assert (spike.duration_s, spike.peak_users) == (300.0, 500)
