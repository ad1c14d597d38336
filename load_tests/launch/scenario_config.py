"""The YAML's ``scenarios:`` entries -> :class:`Scenario` objects, with one-line errors naming the entry.

Each ``kind`` has its builder: ``users`` (flat or staged), ``constant_arrival_rate`` and
``ramping_arrival_rate`` (open model), ``capacity`` (steps of users or of arrival rate). The shapes
themselves and their checks live in :mod:`load_tests.core.scenarios`; this module only reads the config.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from load_tests.core.arrivals import busiest_second, trace_offsets
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

TRACE_TAIL_S = 0.001  # a trace's schedule ends just after its last row


def default_max_users(peak_rate: float) -> int:
    """A pool for an arrival rate when none is given: two seconds of iterations in flight, at least 10."""
    return max(10, math.ceil(2 * peak_rate))


def _process(cfg: ScenarioConfig, where: str) -> dict[str, Any]:
    """The arrival process fields of :class:`Arrival` (constant, poisson, gamma) from the entry."""
    if cfg.burstiness is not None and cfg.arrival != "gamma":
        raise ConfigError(f"{where}: burstiness is only for arrival: gamma (its gaps' shape; 1 is Poisson)")
    return {"process": cfg.arrival, "burstiness": cfg.burstiness or 1.0, "seed": cfg.seed}


def _trace_arrival(cfg: ScenarioConfig, where: str, base: Path | None) -> Arrival:
    """A trace's offsets are the schedule; it lasts until just after its last row."""
    if not cfg.trace:
        raise ConfigError(f"{where}: kind trace needs trace: a JSON Lines file of {{offset_s, input_tokens, "
                          "output_tokens}} rows")  # fmt: skip
    if cfg.arrival != "constant" or cfg.burstiness is not None or cfg.rate is not None or cfg.stages:
        raise ConfigError(f"{where}: a trace sets its own times (no rate, stages, arrival or burstiness)")
    path = Path(cfg.trace).expanduser()
    path = str(path if path.is_absolute() or base is None else (base / path).resolve())
    try:
        offsets = trace_offsets(path)
    except ConfigError as exc:
        raise ConfigError(f"{where}.trace: {exc}") from None
    duration = (float(cfg.duration) if cfg.duration else offsets[-1]) + TRACE_TAIL_S
    rate = len(offsets) / duration
    return Arrival("trace", rate, ((duration, rate),), cfg.max_users or max(10, 2 * busiest_second(offsets)),
                   process="trace", trace=path)  # fmt: skip


def _arrival_from_config(name: str, cfg: ScenarioConfig, source: str, base: Path | None = None) -> Scenario:
    where = f"{source}: scenarios.{name}"
    if cfg.kind == "trace":
        arrival = _trace_arrival(cfg, where, base)
    elif cfg.kind == "constant_arrival_rate":
        if cfg.rate is None or cfg.duration is None:
            raise ConfigError(f"{where}: constant_arrival_rate needs rate (iterations/s) and duration")
        arrival = Arrival(cfg.kind, cfg.rate, ((float(cfg.duration), cfg.rate),), 1)
    else:
        if not cfg.stages or any(s.target is None for s in cfg.stages):
            raise ConfigError(f"{where}: ramping_arrival_rate needs stages of {{duration, target}} (iterations/s)")
        stages = tuple((float(s.duration), float(s.target or 0)) for s in cfg.stages)
        arrival = Arrival(cfg.kind, cfg.start_rate, stages, 1)
    if cfg.kind != "trace":
        arrival = replace(arrival, max_users=cfg.max_users or default_max_users(arrival.peak_rate),
                          **_process(cfg, where))  # fmt: skip
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


def scenario_from_config(name: str, cfg: ScenarioConfig, source: str, base: Path | None = None) -> Scenario:
    """The entry ``name`` as a scenario; ``base`` is the config file's folder (relative paths start there)."""
    scenario = _scenario_from_config(name, cfg, source, base)
    if cfg.stop_when is None:
        return scenario
    rule = cfg.stop_when.model_dump(exclude_none=True)
    if scenario.arrival is None and ("dropped_pct" in rule or "late_pct" in rule):
        raise ConfigError(f"{source}: scenarios.{name}.stop_when: dropped_pct and late_pct are for arrival-rate "
                          "load (kind constant_arrival_rate, ramping_arrival_rate or trace)")  # fmt: skip
    if scenario.capacity_settle_s is not None:
        raise ConfigError(f"{source}: scenarios.{name}.stop_when: a capacity scenario stops at its first broken step")
    return replace(scenario, stop_when=rule)


def _scenario_from_config(name: str, cfg: ScenarioConfig, source: str, base: Path | None) -> Scenario:
    if not SCENARIO_NAME.fullmatch(name):  # it names the report folder: no separators, no "..", no dot files
        raise ConfigError(
            f"{source}: scenarios: {name!r} is not a valid scenario name (1-64 letters, digits, '_', '.', '-', "
            "starting with a letter or digit)"
        )
    if cfg.kind in ARRIVAL_KINDS:
        return _arrival_from_config(name, cfg, source, base)
    if cfg.arrival != "constant" or cfg.burstiness is not None or cfg.trace:
        raise ConfigError(f"{source}: scenarios.{name}: arrival, burstiness and trace are for arrival-rate kinds "
                          "(constant_arrival_rate, ramping_arrival_rate, trace)")  # fmt: skip
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
