"""Scenarios: how many users, how fast they arrive, for how long, stage by stage.

A scenario is a list of stages. Each stage ramps to ``users`` at ``spawn_rate`` users/s and then holds
until its ``duration`` (which includes the ramp) is over: a *closed* model, where each user waits for
its reply before the next request. An *arrival-rate* scenario (``constant_arrival_rate``,
``ramping_arrival_rate``, k6's meaning) is *open*: iterations start on a schedule whatever the
response times, run by a pool of up to ``max_users`` users (see :mod:`load_tests.engine.pacing`); its one
user stage holds that pool for the warm-up plus the schedule. Locust acts on a shape's ticks only about
once a second and blocks while it ramps, so a stage shorter than its ramp would be skipped without a
word: :func:`check_stages` refuses such a scenario instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from load_tests.core.arrivals import count_before, trace_offsets, unit_arrival, unit_count_below
from load_tests.core.errors import ConfigError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
TICK_SLACK_S = 2.0  # Locust acts on shape ticks about once a second; leave room for two
MAX_CAPACITY_STEPS = 100
CAPACITY_MIN_JUDGED_S = 2.0  # a capacity step judged on less would be judged on noise


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


ARRIVAL_WARMUP_S = 2.0  # the pool is spawned (one shape tick) before the first iteration is due


@dataclass(frozen=True)
class Arrival:
    """An open-model schedule: the rate ramps linearly from ``start_rate`` to each stage's target.

    ``process`` says how iterations fall within that rate (:mod:`load_tests.core.arrivals`): evenly
    (``constant``), as a Poisson process, or gamma-distributed gaps of shape ``burstiness``, drawn from
    ``seed`` so every process computes the same schedule; or at the offsets of a ``trace`` file (whose
    duration is the stages': a shorter one cuts the trace).
    """

    kind: str  # "constant_arrival_rate", "ramping_arrival_rate" or "trace"
    start_rate: float
    stages: tuple[tuple[float, float], ...]  # (duration_s, target rate per second)
    max_users: int
    process: str = "constant"  # constant | poisson | gamma | trace
    burstiness: float = 1.0
    seed: int = 0
    trace: str | None = None  # the trace file (absolute path), for process "trace"

    @property
    def duration_s(self) -> float:
        return sum(d for d, _ in self.stages)

    @property
    def peak_rate(self) -> float:
        return max([self.start_rate, *(r for _, r in self.stages)])

    def rate_at(self, t: float) -> float:
        """The scheduled rate ``t`` seconds into the schedule (0 after its end)."""
        begin, previous = 0.0, self.start_rate
        for duration, target in self.stages:
            if t < begin + duration:
                return previous + (target - previous) * (t - begin) / duration
            begin, previous = begin + duration, target
        return 0.0

    def count_until(self, t: float) -> float:
        """Iterations expected in the first ``t`` seconds (the integral of the rate)."""
        total, begin, previous = 0.0, 0.0, self.start_rate
        for duration, target in self.stages:
            span = min(max(t - begin, 0.0), duration)
            total += previous * span + (target - previous) * span * span / (2 * duration)
            begin, previous = begin + duration, target
        return total

    def scheduled_until(self, t: float) -> int:
        """Iterations the whole schedule (all workers) has due before ``t`` (the ``k`` with ``time_of(k) < t``)."""
        t = min(t, self.duration_s)
        if self.process == "trace":
            return count_before(trace_offsets(self.trace or ""), t)
        return unit_count_below(self.process, self.burstiness, self.seed, self.count_until(t))

    def scheduled_between(self, begin_s: float, end_s: float) -> int:
        """Iterations the whole schedule (all workers) has due in ``[begin_s, end_s)``."""
        return self.scheduled_until(end_s) - self.scheduled_until(begin_s)

    def time_of(self, k: int) -> float | None:
        """When iteration ``k`` (counting from 0) is due, in seconds, or None when it is never."""
        if self.process == "trace":
            offsets = trace_offsets(self.trace or "")
            return offsets[k] if k < len(offsets) and offsets[k] < self.duration_s else None
        return self._inverse_count(unit_arrival(self.process, self.burstiness, self.seed, k))

    def _inverse_count(self, n: float) -> float | None:
        """The time ``t`` with ``count_until(t) == n``, or None when the schedule ends first."""
        begin, previous, done = 0.0, self.start_rate, 0.0
        for duration, target in self.stages:
            in_stage = previous * duration + (target - previous) * duration / 2
            if n < done + in_stage:
                k, slope = n - done, (target - previous) / duration
                if abs(slope) < 1e-12:
                    return begin + k / previous
                return begin + (-previous + math.sqrt(previous * previous + 2 * slope * k)) / slope
            begin, previous, done = begin + duration, target, done + in_stage
        return None


@dataclass(frozen=True)
class Scenario:
    name: str
    stages: tuple[Stage, ...]
    description: str = ""
    profile: str = "normal"  # "normal" users think between calls; "stress" users barely wait
    thresholds: dict[str, object] = field(default_factory=dict)
    arrival: Arrival | None = None  # set: an open-model (arrival-rate) scenario
    capacity_settle_s: float | None = None  # set: a capacity finder; each stage is a step, judged after this
    stop_when: dict[str, float] | None = None  # arrival-rate: end early on saturation (core/saturation.py)

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
        """Apply ``--users``/``--spawn-rate``/``--duration``: a multi-stage scenario is scaled, keeping its shape.

        For an arrival-rate scenario ``users`` is the pool size (``max_users``) and ``duration_s`` scales
        the schedule; ``spawn_rate`` does not apply.
        """
        if self.arrival is not None:
            a = self.arrival
            scale = duration_s / a.duration_s if duration_s else 1.0
            scaled = arrival_scenario(self.name, replace(a, stages=tuple((d * scale, r) for d, r in a.stages),
                                                         max_users=users or a.max_users),
                                      self.description, self.profile, self.thresholds)  # fmt: skip
            return replace(scaled, capacity_settle_s=self.capacity_settle_s, stop_when=self.stop_when)
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


def arrival_scenario(
    name: str, arrival: Arrival, description: str = "", profile: str = "normal", thresholds: dict | None = None
) -> Scenario:
    """An open-model scenario: one user stage holds the pool through the warm-up and the schedule."""
    if arrival.max_users < 1:
        raise ConfigError(f"scenario {name!r}: max_users must be at least 1")
    if arrival.peak_rate <= 0:
        raise ConfigError(f"scenario {name!r}: the arrival rate must be above 0 at some point")
    if arrival.start_rate < 0 or any(r < 0 or d <= 0 for d, r in arrival.stages) or not arrival.stages:
        raise ConfigError(f"scenario {name!r}: rates must be >= 0 and every stage needs a positive duration")
    pool = Stage(ARRIVAL_WARMUP_S + arrival.duration_s, arrival.max_users, float(max(arrival.max_users, 1)))
    return Scenario(name, (pool,), description, profile, thresholds or {}, arrival)


def capacity_scenario(
    name: str, start: int, step: int, ceiling: int, step_s: float, spawn_rate: float, settle_s: float,
    description: str = "", profile: str = "normal", thresholds: dict | None = None,
) -> Scenario:  # fmt: skip
    """The staircase of a capacity finder: ``start``, ``start + step``, ... up to ``ceiling`` users."""
    if start < 1 or step < 1 or ceiling < start:
        raise ConfigError(f"scenario {name!r}: needs start_users >= 1, step_users >= 1 and max_users >= start_users")
    users = list(range(start, ceiling + 1, step))
    if len(users) > MAX_CAPACITY_STEPS:
        raise ConfigError(f"scenario {name!r}: {len(users)} steps; at most {MAX_CAPACITY_STEPS} (raise step_users)")
    stages = tuple(Stage(step_s, u, spawn_rate) for u in users)
    scenario = Scenario(name, stages, description, profile, thresholds or {}, capacity_settle_s=settle_s)
    check_stages(scenario)
    return scenario


CAPACITY_RATE_RAMP_S = 0.5  # rate steps: how long the schedule takes to climb to the next rate


def capacity_rate_scenario(
    name: str, start: float, step: float, ceiling: float, step_s: float, settle_s: float, pool: int,
    description: str = "", profile: str = "normal", thresholds: dict | None = None,
) -> Scenario:  # fmt: skip
    """The open-model staircase: ``start``, ``start + step``, ... up to ``ceiling`` iterations/s, each
    held ``step_s`` (a short climb included) by a pool of ``pool`` users."""
    if start <= 0 or step <= 0 or ceiling < start:
        raise ConfigError(f"scenario {name!r}: needs start_rate > 0, step_rate > 0 and max_rate >= start_rate")
    count = math.floor((ceiling - start) / step + 1e-9) + 1
    if count > MAX_CAPACITY_STEPS:
        raise ConfigError(f"scenario {name!r}: {count} steps; at most {MAX_CAPACITY_STEPS} (raise step_rate)")
    if step_s < settle_s + CAPACITY_RATE_RAMP_S + CAPACITY_MIN_JUDGED_S:
        raise ConfigError(
            f"scenario {name!r}: each step lasts {format_duration(step_s)}, but its climb and settle "
            f"({format_duration(settle_s)}) leave under {CAPACITY_MIN_JUDGED_S:g}s to judge; lengthen step_duration "
            "or shorten settle"
        )
    rates = [start + k * step for k in range(count)]
    stages = [(step_s, rates[0])]
    for rate in rates[1:]:
        stages += [(CAPACITY_RATE_RAMP_S, rate), (step_s - CAPACITY_RATE_RAMP_S, rate)]
    arrival = Arrival("ramping_arrival_rate", rates[0], tuple(stages), pool)
    scenario = arrival_scenario(name, arrival, description, profile, thresholds)
    return replace(scenario, capacity_settle_s=settle_s)


def capacity_steps(scenario: Scenario) -> list[tuple[float, float, float]]:
    """(start_s, end_s, load) of each step of a capacity scenario, in seconds of the run: user stages,
    or runs of equal target rate in an arrival schedule (which starts after the pool's warm-up)."""
    if scenario.arrival is None:
        steps, start = [], 0.0
        for stage in scenario.stages:
            steps.append((start, start + stage.duration_s, float(stage.users)))
            start += stage.duration_s
        return steps
    rate_steps: list[tuple[float, float, float]] = []
    t = ARRIVAL_WARMUP_S
    for duration, target in scenario.arrival.stages:
        if rate_steps and rate_steps[-1][2] == target:
            rate_steps[-1] = (rate_steps[-1][0], t + duration, target)
        else:
            rate_steps.append((t, t + duration, target))
        t += duration
    return rate_steps


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
        settle = scenario.capacity_settle_s
        if settle is not None and stage.duration_s < settle + ramp + CAPACITY_MIN_JUDGED_S:
            raise ConfigError(
                f"scenario {scenario.name!r} step {number}: lasts {format_duration(stage.duration_s)}, but its ramp "
                f"({ramp:.0f}s) and settle ({format_duration(settle)}) leave under {CAPACITY_MIN_JUDGED_S:g}s "
                "to judge; lengthen step_duration or shorten settle"
            )


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
        capacity_scenario(
            "capacity",
            10,
            10,
            200,
            30,
            10,
            10,
            "Raise users by 10 every 30 s until a threshold breaks: the peak capacity.",
        ),
    )
}
