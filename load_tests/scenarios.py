"""Scenarios: how many users, how fast they arrive, for how long, stage by stage.

A scenario is a list of stages. Each stage ramps to ``users`` at ``spawn_rate`` users/s and then holds
until its ``duration`` (which includes the ramp) is over. Locust acts on a shape's ticks only about
once a second and blocks while it ramps, so a stage shorter than its ramp would be skipped without a
word: :func:`check_stages` refuses such a scenario instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from load_tests.errors import ConfigError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
TICK_SLACK_S = 2.0  # Locust acts on shape ticks about once a second; leave room for two


def parse_duration(value: object) -> float:
    """``90``, ``"90"``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"250ms"`` -> seconds. Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 5m, 1h30m or a number of seconds)")
            scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
            seconds = sum(float(n) * scale[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as the shortest ``1h2m3s`` form."""
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    text = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{sec}s" if sec or not (h or m) else "")
    return text


@dataclass(frozen=True)
class Stage:
    """Ramp to ``users`` at ``spawn_rate`` users/s, then hold; the stage lasts ``duration_s`` in all."""

    duration_s: float
    users: int
    spawn_rate: float


@dataclass(frozen=True)
class Scenario:
    name: str
    stages: tuple[Stage, ...]
    description: str = ""
    profile: str = "normal"  # "normal" users think between calls; "stress" users barely wait
    thresholds: dict[str, object] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    @property
    def peak_users(self) -> int:
        return max(s.users for s in self.stages)

    def stage_at(self, run_time_s: float) -> tuple[int, Stage] | None:
        """The (index, stage) in force ``run_time_s`` seconds into the run, or None when it is over."""
        end = 0.0
        for index, stage in enumerate(self.stages):
            end += stage.duration_s
            if run_time_s < end:
                return index, stage
        return None

    def with_overrides(self, users: int | None, spawn_rate: float | None, duration_s: float | None) -> Scenario:
        """Apply ``--users``/``--spawn-rate``/``--duration``: a multi-stage scenario is scaled, keeping its shape."""
        peak, total = self.peak_users, self.duration_s
        stages = []
        for s in self.stages:
            stages.append(
                Stage(
                    duration_s=s.duration_s * (duration_s / total) if duration_s else s.duration_s,
                    users=max(1, round(s.users * users / peak)) if users and peak else (users or s.users),
                    spawn_rate=spawn_rate or s.spawn_rate,
                )
            )
        scenario = replace(self, stages=tuple(stages))
        check_stages(scenario)
        return scenario


def ramp_seconds(previous_users: int, stage: Stage) -> float:
    return abs(stage.users - previous_users) / stage.spawn_rate


def check_stages(scenario: Scenario) -> None:
    """Refuse stages Locust would skip: each must outlast its ramp by a couple of shape ticks."""
    if not scenario.stages:
        raise ConfigError(f"scenario {scenario.name!r}: needs at least one stage")
    previous = 0
    for number, stage in enumerate(scenario.stages, start=1):
        ramp = ramp_seconds(previous, stage)
        if stage.duration_s < ramp + TICK_SLACK_S:
            raise ConfigError(
                f"scenario {scenario.name!r} stage {number}: lasts {format_duration(stage.duration_s)} but ramping "
                f"from {previous} to {stage.users} users at {stage.spawn_rate:g}/s takes {ramp:.0f}s; make it at least "
                f"{math.ceil(ramp + TICK_SLACK_S)}s or raise spawn_rate"
            )
        previous = stage.users


def _simple(name: str, users: int, rate: float, minutes: float, description: str, profile: str = "normal") -> Scenario:
    return Scenario(name, (Stage(minutes * 60, users, rate),), description, profile)


def _staged(name: str, description: str, stages: list[tuple[float, int, float]]) -> Scenario:
    return Scenario(name, tuple(Stage(m * 60, u, r) for m, u, r in stages), description)


BUILTIN_SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        _simple("smoke", 5, 5, 1, "Does it work at all? A handful of users for a minute."),
        _simple("light", 10, 2, 2, "Light traffic."),
        _simple("medium", 50, 5, 5, "Moderate traffic."),
        _simple("heavy", 100, 10, 10, "Heavy traffic."),
        _simple("baseline", 10, 2, 5, "Reference figures to compare later runs against."),
        _simple("target", 100, 10, 10, "The load the service is expected to carry in production."),
        _staged(
            "ramp_up",
            "Rise to 200 users in four steps of 5 minutes to see where latency starts to climb.",
            [(5, 50, 5), (5, 100, 5), (5, 150, 5), (5, 200, 5)],
        ),
        _staged(
            "spike",
            "Calm, a sudden jump to 500 users, then back down so recovery can be seen.",
            [(1.5, 50, 50), (1.5, 500, 50), (2, 50, 50)],
        ),
        _simple("sustained", 150, 10, 30, "Steady load for half an hour."),
        _simple("stress", 150, 15, 15, "Beyond normal load, with users that barely wait.", profile="stress"),
        _simple("endurance", 30, 3, 60, "Modest load for an hour to expose leaks and drift."),
    )
}
