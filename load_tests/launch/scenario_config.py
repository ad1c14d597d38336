"""The YAML's ``scenarios:`` entries -> :class:`Scenario` objects, with one-line errors naming the entry.

Each ``kind`` has its builder: ``users`` (flat or staged), ``constant_arrival_rate`` and
``ramping_arrival_rate`` (open model), ``capacity`` (steps of users or of arrival rate). The shapes
themselves and their checks live in :mod:`load_tests.core.scenarios`; this module only reads the config.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from load_tests.core.errors import ConfigError
from load_tests.core.scenarios import (
    Arrival,
    Scenario,
    Stage,
    arrival_scenario,
    capacity_rate_scenario,
    capacity_scenario,
    check_stages,
)
from load_tests.launch.config_schema import ARRIVAL_KINDS, ScenarioConfig


def default_max_users(peak_rate: float) -> int:
    """A pool for an arrival rate when none is given: two seconds of iterations in flight, at least 10."""
    return max(10, math.ceil(2 * peak_rate))


def _arrival_from_config(name: str, cfg: ScenarioConfig, source: str) -> Scenario:
    where = f"{source}: scenarios.{name}"
    if cfg.kind == "constant_arrival_rate":
        if cfg.rate is None or cfg.duration is None:
            raise ConfigError(f"{where}: constant_arrival_rate needs rate (iterations/s) and duration")
        arrival = Arrival(cfg.kind, cfg.rate, ((float(cfg.duration), cfg.rate),), 1)
    else:
        if not cfg.stages or any(s.target is None for s in cfg.stages):
            raise ConfigError(f"{where}: ramping_arrival_rate needs stages of {{duration, target}} (iterations/s)")
        stages = tuple((float(s.duration), float(s.target or 0)) for s in cfg.stages)
        arrival = Arrival(cfg.kind, cfg.start_rate, stages, 1)
    arrival = replace(arrival, max_users=cfg.max_users or default_max_users(arrival.peak_rate))
    thresholds = cfg.thresholds.model_dump(exclude_none=True) if cfg.thresholds else {}
    try:
        return arrival_scenario(name, arrival, cfg.description, cfg.profile, thresholds)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _capacity_from_config(name: str, cfg: ScenarioConfig, source: str) -> Scenario:
    """Steps of users (start_users, step_users, max_users) or, open model, of iterations/s
    (start_rate, step_rate, max_rate, run by a pool of max_users)."""
    where = f"{source}: scenarios.{name}"
    by_rate = cfg.step_rate is not None or cfg.max_rate is not None
    needed = ("start_rate", "step_rate", "max_rate", "step_duration") if by_rate else (
        "start_users", "step_users", "max_users", "step_duration")  # fmt: skip
    missing = [k for k in needed if not getattr(cfg, k)]
    if missing:
        raise ConfigError(f"{where}: kind capacity needs {', '.join(missing)}")
    step_s = float(cfg.step_duration or 0)
    settle = float(cfg.settle) if cfg.settle is not None else step_s / 3
    thresholds = cfg.thresholds.model_dump(exclude_none=True) if cfg.thresholds else {}
    try:
        if by_rate:
            ceiling = float(cfg.max_rate or 0)
            pool = cfg.max_users or default_max_users(ceiling)
            return capacity_rate_scenario(name, cfg.start_rate, float(cfg.step_rate or 0), ceiling, step_s, settle,
                                          pool, cfg.description, cfg.profile, thresholds)  # fmt: skip
        return capacity_scenario(name, int(cfg.start_users or 0), int(cfg.step_users or 0), int(cfg.max_users or 0),
                                 step_s, float(cfg.spawn_rate or 10.0), settle, cfg.description, cfg.profile,
                                 thresholds)  # fmt: skip
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def scenario_from_config(name: str, cfg: ScenarioConfig, source: str) -> Scenario:
    if not SCENARIO_NAME.fullmatch(name):  # it names the report folder: no separators, no "..", no dot files
        raise ConfigError(
            f"{source}: scenarios: {name!r} is not a valid scenario name (1-64 letters, digits, '_', '.', '-', "
            "starting with a letter or digit)"
        )
    if cfg.kind in ARRIVAL_KINDS:
        return _arrival_from_config(name, cfg, source)
    if cfg.kind == "capacity":
        return _capacity_from_config(name, cfg, source)
    if cfg.stages:
        missing = [f"stages[{i}].{k}" for i, s in enumerate(cfg.stages) for k in ("users", "spawn_rate")
                   if getattr(s, k) is None]  # fmt: skip
        if missing:
            raise ConfigError(f"{source}: scenarios.{name}: {missing[0]} is required (or kind: ramping_arrival_rate)")
        stages = tuple(Stage(s.duration, int(s.users or 0), float(s.spawn_rate or 1)) for s in cfg.stages)
    else:
        missing = [k for k in ("users", "spawn_rate", "duration") if getattr(cfg, k) is None]
        if missing:
            raise ConfigError(
                f"{source}: scenarios.{name}: give 'stages', or all of users, spawn_rate, duration "
                f"(missing {', '.join(missing)})"
            )
        stages = (Stage(float(cfg.duration or 0), int(cfg.users or 0), float(cfg.spawn_rate or 0)),)
    thresholds = cfg.thresholds.model_dump(exclude_none=True) if cfg.thresholds else {}
    scenario = Scenario(name, stages, cfg.description, cfg.profile, thresholds)
    try:
        check_stages(scenario)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return scenario
