"""The scenario catalogue, durations and stage arithmetic."""

from __future__ import annotations

import pytest

from load_tests.core.errors import ConfigError
from load_tests.core.scenarios import BUILTIN_SCENARIOS, Scenario, Stage, check_stages, format_duration, parse_duration


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
