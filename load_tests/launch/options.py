"""Options given on the command line or in the environment (CLI first), read and checked one by one.

Each lookup keeps where its value came from (``--users`` or ``LOADTEST_USERS``), so that a bad value
becomes a one-line :class:`ConfigError` naming the flag or variable the user actually set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from load_tests.core.arrivals import PROCESSES
from load_tests.core.errors import ConfigError
from load_tests.core.plan import Services
from load_tests.core.scenarios import Arrival, Scenario, arrival_scenario, parse_duration
from load_tests.launch.scenario_config import default_max_users

ENV_PREFIX = "LOADTEST_"
# Environment variable -> CLI option it stands in for.
ENV_VARS = {
    "CONFIG": "config",
    "SCENARIO": "scenario",
    "TEST_TYPE": "test_type",
    "HOST": "host",
    "OUTPUT_DIR": "output_dir",
    "USERS": "users",
    "SPAWN_RATE": "spawn_rate",
    "DURATION": "duration",
    "GRPC_TARGET": "grpc_target",
    "TAGS": "tags",
    "WORKERS": "workers",
    "TARGET_PID": "target_pid",
    "METRICS_URL": "metrics_url",
    "RATE": "rate",
    "MAX_USERS": "max_users",
    "ARRIVAL": "arrival",
    "EXCLUDE_TAGS": "exclude_tags",
    "LOCUSTFILE": "locustfile",
    "USER_CLASSES": "user_classes",
}
MAX_RATE = 1_000_000.0  # beyond any one run; catches typos such as 1e400
WEB_UI_HOST, WEB_UI_PORT = "127.0.0.1", 8089  # loopback unless the user names another address


@dataclass(frozen=True)
class Distribution:
    """How Locust runs: alone (``local``), ``workers`` (a master and N local workers), or one side of a
    run across machines (``master`` expecting N workers, ``worker`` joining ``master_host``)."""

    mode: str = "local"
    workers: int = 0
    master_host: str | None = None
    master_port: int = 5557


def cli_or_env(cli: Mapping[str, Any], env: Mapping[str, str], key: str) -> tuple[Any, str] | None:
    """The value of one option and where it came from, CLI first."""
    if cli.get(key) not in (None, [], ""):
        return cli[key], f"--{key.replace('_', '-')}"
    for suffix, option in ENV_VARS.items():
        if option == key and env.get(ENV_PREFIX + suffix):
            return env[ENV_PREFIX + suffix], ENV_PREFIX + suffix
    return None


def number(value: Any, source: str, kind: type, minimum: float, maximum: float = MAX_RATE) -> Any:
    """A flag's text as ``kind``, bounded, so that a typo fails as one line naming the flag."""
    try:
        result = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{source}: {value!r} is not a {'whole ' if kind is int else ''}number") from None
    if not math.isfinite(result):
        raise ConfigError(f"{source}: {value!r} is not a finite number")
    if result < minimum:
        raise ConfigError(f"{source}: must be at least {minimum:g}, got {value}")
    if result > maximum:
        raise ConfigError(f"{source}: must be at most {maximum:g}, got {value}")
    return result


def tag_list(cli: Mapping[str, Any], env: Mapping[str, str], key: str, default: list[str]) -> tuple[str, ...]:
    """Tags given as repeated flags, comma lists, or both; ``default`` (the YAML's) when none are given."""
    got = cli_or_env(cli, env, key)
    if not got:
        return tuple(default)
    value = got[0]
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(t.strip() for item in items for t in str(item).split(",") if t.strip())


def scenario_with_flags(cli: Mapping[str, Any], env: Mapping[str, str], scenario: Scenario) -> Scenario:
    """``--users``/``--spawn-rate``/``--duration`` scale the scenario, then ``--rate``/``--max-users`` apply."""
    overrides: dict[str, Any] = {}
    for key, kind, minimum in (("users", int, 1), ("spawn_rate", float, 0.001)):
        found = cli_or_env(cli, env, key)
        if found:
            overrides[key] = number(found[0], found[1], kind, minimum)
    found = cli_or_env(cli, env, "duration")
    if found:
        try:
            overrides["duration_s"] = parse_duration(found[0])
        except ValueError as exc:
            raise ConfigError(f"{found[1]}: {exc}") from None
    if overrides:
        scenario = scenario.with_overrides(
            overrides.get("users"), overrides.get("spawn_rate"), overrides.get("duration_s")
        )
    return _arrival_process(cli, env, _rate_override(cli, env, scenario))


def _rate_override(cli: Mapping[str, Any], env: Mapping[str, str], scenario: Scenario) -> Scenario:
    """``--rate R`` turns the scenario into a constant arrival rate over its duration; ``--max-users N``
    sizes the pool of an arrival-rate scenario."""
    found = cli_or_env(cli, env, "rate")
    pool_found = cli_or_env(cli, env, "max_users")
    pool = number(pool_found[0], pool_found[1], int, 1) if pool_found else None
    if found:
        rate = number(found[0], found[1], float, 0.001)
        if scenario.capacity_settle_s is not None:
            raise ConfigError(f"{found[1]}: a capacity scenario sets its own rates (start_rate, step_rate, max_rate)")
        if scenario.arrival is not None and scenario.arrival.process == "trace":
            raise ConfigError(f"{found[1]}: a trace scenario sets its own times (its file's offsets)")
        duration = scenario.arrival.duration_s if scenario.arrival else scenario.duration_s
        arrival = Arrival("constant_arrival_rate", rate, ((duration, rate),), pool or default_max_users(rate))
        if scenario.arrival is not None:  # keep the scenario's process (poisson, gamma) and its seed
            a = scenario.arrival
            arrival = replace(arrival, process=a.process, burstiness=a.burstiness, seed=a.seed)
        paced = arrival_scenario(scenario.name, arrival, scenario.description, scenario.profile, scenario.thresholds)
        return replace(paced, stop_when=scenario.stop_when)
    if pool is not None:
        if scenario.arrival is None:
            where = pool_found[1] if pool_found else "--max-users"
            raise ConfigError(
                f"{where}: only for arrival-rate load (give --rate, or a scenario of kind constant_arrival_rate "
                "or ramping_arrival_rate); closed scenarios use --users"
            )
        pooled = arrival_scenario(scenario.name, replace(scenario.arrival, max_users=pool), scenario.description,
                                  scenario.profile, scenario.thresholds)  # fmt: skip
        return replace(pooled, capacity_settle_s=scenario.capacity_settle_s, stop_when=scenario.stop_when)
    return scenario


def _arrival_process(cli: Mapping[str, Any], env: Mapping[str, str], scenario: Scenario) -> Scenario:
    """``--arrival poisson|gamma|constant`` [``--burstiness B``]: how iterations fall within the rate."""
    found = cli_or_env(cli, env, "arrival")
    shape = cli_or_env(cli, env, "burstiness")
    if not found and not shape:
        return scenario
    where = found[1] if found else shape[1] if shape else "--arrival"
    process = str(found[0]) if found else (scenario.arrival.process if scenario.arrival else "constant")
    if process not in PROCESSES:
        raise ConfigError(f"{where}: {process!r} is not an arrival process (choose from {', '.join(PROCESSES)})")
    burstiness = number(shape[0], shape[1], float, 0.001, 1000.0) if shape else 1.0
    if shape and process != "gamma":
        raise ConfigError(f"{shape[1]}: only with --arrival gamma (the gaps' shape; 1 is Poisson)")
    if scenario.arrival is None or scenario.arrival.process == "trace":
        if found and process == "constant" and not shape:
            return scenario
        raise ConfigError(f"{where}: only for arrival-rate load (give --rate, or a scenario of kind "
                          "constant_arrival_rate or ramping_arrival_rate)")  # fmt: skip
    return replace(scenario, arrival=replace(scenario.arrival, process=process, burstiness=burstiness))


def web_ui_address(cli: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str, int] | None:
    """``--web-ui`` [``--web-host H``] [``--web-port P``]: where Locust's web UI listens."""
    on = cli_or_env(cli, env, "web_ui")
    host, port = cli_or_env(cli, env, "web_host"), cli_or_env(cli, env, "web_port")
    enabled = bool(on) and str(on[0]).lower() not in ("", "0", "false", "no")
    if not enabled:
        if host or port:
            raise ConfigError(f"{(host or port)[1]}: only with --web-ui")  # type: ignore[index]
        return None
    address = str(host[0]).strip() if host else WEB_UI_HOST
    if not address or any(c.isspace() for c in address):
        raise ConfigError(f"{host[1] if host else '--web-host'}: {address!r} is not a host name or address")
    return address, number(port[0], port[1], int, 1, 65535) if port else WEB_UI_PORT


def distribution_from(cli: Mapping[str, Any], env: Mapping[str, str], services: Services) -> Distribution:
    """--workers N / --master / --worker --master-host HOST, checked for combinations that cannot work."""
    found = cli_or_env(cli, env, "workers")
    workers = number(found[0], found[1], int, 1, 256) if found else 0
    found = cli_or_env(cli, env, "master_port")
    port = number(found[0], found[1], int, 1) if found else 5557
    if port > 65535:
        raise ConfigError(f"{found[1] if found else '--master-port'}: {port} is not a TCP port (1-65535)")
    host_found = cli_or_env(cli, env, "master_host")
    master_host = str(host_found[0]) if host_found else None
    if cli.get("master") and cli.get("worker"):
        raise ConfigError("--master and --worker: a process is one or the other")
    if cli.get("worker"):
        if not master_host:
            raise ConfigError("--worker: give --master-host HOST (the machine running --master)")
        if workers:
            raise ConfigError("--workers: not with --worker (the master decides how many workers it expects)")
        if services.needs_bundled_target:
            raise ConfigError("--worker: give --host/--grpc-target (or services.* in the config): the target must be "
                              "reachable from every machine")  # fmt: skip
        return Distribution("worker", 0, master_host, port)
    if master_host:
        raise ConfigError("--master-host: only with --worker")
    if cli.get("master"):
        if services.needs_bundled_target:
            raise ConfigError("--master: give --host/--grpc-target (or services.* in the config): workers on other "
                              "machines cannot reach the bundled target on 127.0.0.1; use --workers N alone for "
                              "workers on this machine")  # fmt: skip
        return Distribution("master", workers or 1, None, port)
    return Distribution("workers" if workers else "local", workers, None, port)
