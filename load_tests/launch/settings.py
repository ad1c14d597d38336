"""YAML + environment + command line -> one frozen, validated :class:`Settings`.

Precedence is CLI flag > environment variable > YAML > built-in default. All validation lives here,
and every mistake becomes a :class:`ConfigError` whose one-line message names the file and the field
(``load_test_config.yaml: scenarios.mine.stages[0].duration: '5x' is not a duration ...``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from load_tests.core.errors import ConfigError, HarnessError
from load_tests.core.plan import ResourcesPlan, Services, ValidityLimits
from load_tests.core.scenarios import (
    BUILTIN_SCENARIOS,
    Arrival,
    Scenario,
    arrival_scenario,
    parse_duration,
)
from load_tests.core.scripted import ScriptedConfig, proto_path
from load_tests.launch.catalogue import TestType, resolve_test_types
from load_tests.launch.config_schema import (
    FileConfig,
    ResourcesConfig,
    ThresholdsConfig,
)
from load_tests.launch.scenario_config import default_max_users, scenario_from_config

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # load_tests/
DEFAULT_CONFIG = PACKAGE_DIR / "config" / "load_test_config.yaml"
DEFAULT_DATA_DIR = PACKAGE_DIR / "data"
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
    "EXCLUDE_TAGS": "exclude_tags",
}


@dataclass(frozen=True)
class Distribution:
    """How Locust runs: alone (``local``), ``workers`` (a master and N local workers), or one side of a
    run across machines (``master`` expecting N workers, ``worker`` joining ``master_host``)."""

    mode: str = "local"
    workers: int = 0
    master_host: str | None = None
    master_port: int = 5557


@dataclass(frozen=True)
class Settings:
    config_path: Path | None
    scenario: Scenario
    scenarios: dict[str, Scenario]
    test_types: tuple[TestType, ...]
    services: Services
    thresholds: ThresholdsConfig
    output_dir: Path
    tags: tuple[str, ...]
    exclude_tags: tuple[str, ...]
    features_csv: Path
    audio_dir: Path
    progress_interval_s: float
    stop_timeout_s: float = 10.0
    skipped_test_types: tuple[str, ...] = ()  # left out of "all" because their service has no address
    scripted: ScriptedConfig = field(default_factory=ScriptedConfig)
    resources: ResourcesPlan = field(default_factory=ResourcesPlan)
    distribution: Distribution = Distribution()
    validity: ValidityLimits = field(default_factory=ValidityLimits)
    web_ui: tuple[str, int] | None = None  # (host, port) of Locust's web UI; None: headless
    matrix: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # the YAML's, for --matrix


WEB_UI_HOST, WEB_UI_PORT = "127.0.0.1", 8089  # loopback unless the user names another address


def _one_line(error: ValidationError, source: str) -> ConfigError:
    first = error.errors()[0]
    loc = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in first["loc"]).replace(".[", "[")
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"].startswith("value_error"):
        message = message.removeprefix("Value error, ")
    more = f" (and {len(error.errors()) - 1} more)" if len(error.errors()) > 1 else ""
    return ConfigError(f"{source}: {loc}: {message}{more}")


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` laid over it: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config_file(path: Path, overrides: dict[str, Any] | None = None, label: str = "") -> FileConfig:
    """Parse and validate the YAML config file (with a matrix entry's ``overrides`` laid over it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ConfigError(f"{path}:{where}: malformed YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (services, run, scenarios, ...)")
    if overrides:
        data = deep_merge(data, overrides)
    try:
        return FileConfig.model_validate(data)
    except ValidationError as exc:
        raise _one_line(exc, f"{path} with matrix {label}" if label else str(path)) from None


def _cli_or_env(cli: Mapping[str, Any], env: Mapping[str, str], key: str) -> tuple[Any, str] | None:
    """The value of one option and where it came from, CLI first."""
    if cli.get(key) not in (None, [], ""):
        return cli[key], f"--{key.replace('_', '-')}"
    for suffix, option in ENV_VARS.items():
        if option == key and env.get(ENV_PREFIX + suffix):
            return env[ENV_PREFIX + suffix], ENV_PREFIX + suffix
    return None


MAX_USERS, MAX_RATE = 1_000_000, 1_000_000.0  # beyond any one run; catches typos such as 1e400


def _number(value: Any, source: str, kind: type, minimum: float, maximum: float = MAX_RATE) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{source}: {value!r} is not a {'whole ' if kind is int else ''}number") from None
    if not math.isfinite(number):
        raise ConfigError(f"{source}: {value!r} is not a finite number")
    if number < minimum:
        raise ConfigError(f"{source}: must be at least {minimum:g}, got {value}")
    if number > maximum:
        raise ConfigError(f"{source}: must be at most {maximum:g}, got {value}")
    return number


def websocket_url_for(base_url: str) -> str:
    """``http(s)://host:port`` -> the gateway's chat WebSocket ``ws(s)://host:port/ws/chat``."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/ws/chat"


def _services(file_cfg: FileConfig, host: str | None, grpc_target: str | None) -> Services:
    svc = file_cfg.services
    rest, ws, sio, grpc = svc.rest.url, svc.websocket.url, svc.socketio.url, grpc_target or svc.grpc.target
    if host:
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--host: {host!r} is not an http(s) URL such as http://127.0.0.1:8000")
        rest = host.rstrip("/")
        ws = ws or websocket_url_for(rest)
        sio = sio or rest
    if grpc and ("://" in grpc or ":" not in grpc):
        raise ConfigError(f"grpc target {grpc!r}: use host:port such as 127.0.0.1:50051")
    return Services(rest, ws, sio, grpc, svc.rest.timeout_s, svc.api_key_env, svc.websocket.timeout_s,
                    svc.socketio.timeout_s, svc.grpc.timeout_s)  # fmt: skip


def _resolve_path(value: str | None, default: Path, base: Path) -> Path:
    if not value:
        return default
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def load_settings(
    cli: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    label: str = "",
) -> Settings:
    """Resolve settings from the CLI options (argparse names), the environment and the YAML file;
    ``overrides`` (a matrix combination, named ``label``) are laid over the YAML first."""
    cli = dict(cli or {})
    env = os.environ if env is None else env
    found = _cli_or_env(cli, env, "config")
    config_path = Path(found[0]).expanduser() if found else DEFAULT_CONFIG
    file_cfg = read_config_file(config_path, overrides, label)
    source = f"{config_path} with matrix {label}" if label else str(config_path)

    scenarios = dict(BUILTIN_SCENARIOS)
    for name, cfg in file_cfg.scenarios.items():
        scenarios[name] = scenario_from_config(name, cfg, source)

    found = _cli_or_env(cli, env, "scenario")
    scenario_name, where = found if found else (file_cfg.run.scenario, f"{source}: run.scenario")
    if scenario_name not in scenarios:
        raise ConfigError(f"{where}: unknown scenario {scenario_name!r} (choose from {', '.join(sorted(scenarios))})")
    scenario = scenarios[scenario_name]

    overrides: dict[str, Any] = {}
    for key, kind, minimum in (("users", int, 1), ("spawn_rate", float, 0.001)):
        found = _cli_or_env(cli, env, key)
        if found:
            overrides[key] = _number(found[0], found[1], kind, minimum)
    found = _cli_or_env(cli, env, "duration")
    if found:
        try:
            overrides["duration_s"] = parse_duration(found[0])
        except ValueError as exc:
            raise ConfigError(f"{found[1]}: {exc}") from None
    if overrides:
        scenario = scenario.with_overrides(
            overrides.get("users"), overrides.get("spawn_rate"), overrides.get("duration_s")
        )
    scenario = _rate_override(cli, env, scenario)

    found = _cli_or_env(cli, env, "test_type")
    test_type_spec, where = found if found else (file_cfg.run.test_type, f"{source}: run.test_type")
    try:
        test_types = resolve_test_types(str(test_type_spec))
    except HarnessError as exc:
        raise type(exc)(f"{where}: {exc}") from None

    found = _cli_or_env(cli, env, "host")
    grpc_found = _cli_or_env(cli, env, "grpc_target")
    services = _services(file_cfg, str(found[0]) if found else None, str(grpc_found[0]) if grpc_found else None)
    base = config_path.resolve().parent
    if file_cfg.services.ca_file:
        ca_file = _resolve_path(file_cfg.services.ca_file, Path(), base)
        if not ca_file.is_file():
            raise ConfigError(f"{source}: services.ca_file: file not found: {ca_file}")
        services = replace(services, ca_file=str(ca_file))
    skipped: tuple[str, ...] = ()
    if any(t.name == "scripted" for t in test_types) and file_cfg.scripted.empty:
        raise ConfigError(f"{where}: test type scripted needs entries under 'scripted:' in {source}")
    if "all" in str(test_type_spec).lower().split(",") and not services.needs_bundled_target:
        skipped = tuple(t.name for t in test_types if not services.address_of(t.name))
        test_types = tuple(t for t in test_types if services.address_of(t.name))
        if not test_types:
            raise ConfigError(f"{where}: no test type has a service address (give --host or services.*)")

    def tag_list(key: str, default: list[str]) -> tuple[str, ...]:
        got = _cli_or_env(cli, env, key)
        if not got:
            return tuple(default)
        value = got[0]
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(t.strip() for item in items for t in str(item).split(",") if t.strip())

    found = _cli_or_env(cli, env, "output_dir")
    output_dir = Path(found[0] if found else file_cfg.run.output_dir).expanduser()
    res = file_cfg.resources
    resources = ResourcesPlan(res.interval, res.target_pid, res.metrics_url,
                              tuple(res.metrics) if res.metrics is not None else None, res.gpu)  # fmt: skip
    found = _cli_or_env(cli, env, "target_pid")
    if found:
        resources = replace(resources, target_pid=_number(found[0], found[1], int, 1))
    found = _cli_or_env(cli, env, "metrics_url")
    if found:
        try:
            ResourcesConfig(metrics_url=str(found[0]))
        except ValidationError as exc:
            raise ConfigError(f"{found[1]}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        resources = replace(resources, metrics_url=str(found[0]))
    distribution = _distribution(cli, env, services)
    if scenario.capacity_settle_s is not None and distribution.mode != "local":
        raise ConfigError(
            f"scenario {scenario.name}: the capacity finder judges each step in one Locust process; "
            "run it without --workers/--master/--worker"
        )
    return Settings(
        config_path=config_path,
        scenario=scenario,
        scenarios=scenarios,
        test_types=test_types,
        services=services,
        thresholds=file_cfg.thresholds,
        output_dir=output_dir,
        tags=tag_list("tags", file_cfg.run.tags),
        exclude_tags=tag_list("exclude_tags", file_cfg.run.exclude_tags),
        features_csv=_resolve_path(file_cfg.data.features_csv, DEFAULT_DATA_DIR / "features.csv", base),
        audio_dir=_resolve_path(file_cfg.data.audio_dir, DEFAULT_DATA_DIR / "audio", base),
        progress_interval_s=file_cfg.run.progress_interval,
        stop_timeout_s=file_cfg.run.stop_timeout,
        skipped_test_types=skipped,
        scripted=_scripted_with_paths(file_cfg.scripted, base),
        resources=resources,
        distribution=distribution,
        validity=ValidityLimits(**file_cfg.validity.model_dump()),
        web_ui=_web_ui(cli, env),
        matrix=file_cfg.matrix,
    )


def _web_ui(cli: Mapping[str, Any], env: Mapping[str, str]) -> tuple[str, int] | None:
    """``--web-ui`` [``--web-host H``] [``--web-port P``]: where Locust's web UI listens."""
    on = _cli_or_env(cli, env, "web_ui")
    host, port = _cli_or_env(cli, env, "web_host"), _cli_or_env(cli, env, "web_port")
    enabled = bool(on) and str(on[0]).lower() not in ("", "0", "false", "no")
    if not enabled:
        if host or port:
            raise ConfigError(f"{(host or port)[1]}: only with --web-ui")  # type: ignore[index]
        return None
    address = str(host[0]).strip() if host else WEB_UI_HOST
    if not address or any(c.isspace() for c in address):
        raise ConfigError(f"{host[1] if host else '--web-host'}: {address!r} is not a host name or address")
    return address, _number(port[0], port[1], int, 1, 65535) if port else WEB_UI_PORT


def _rate_override(cli: Mapping[str, Any], env: Mapping[str, str], scenario: Scenario) -> Scenario:
    """``--rate R`` turns the scenario into a constant arrival rate over its duration; ``--max-users N``
    sizes the pool of an arrival-rate scenario."""
    found = _cli_or_env(cli, env, "rate")
    pool_found = _cli_or_env(cli, env, "max_users")
    pool = _number(pool_found[0], pool_found[1], int, 1) if pool_found else None
    if found:
        rate = _number(found[0], found[1], float, 0.001)
        if scenario.capacity_settle_s is not None:
            raise ConfigError(f"{found[1]}: a capacity scenario sets its own rates (start_rate, step_rate, max_rate)")
        duration = scenario.arrival.duration_s if scenario.arrival else scenario.duration_s
        arrival = Arrival("constant_arrival_rate", rate, ((duration, rate),), pool or default_max_users(rate))
        return arrival_scenario(scenario.name, arrival, scenario.description, scenario.profile, scenario.thresholds)
    if pool is not None:
        if scenario.arrival is None:
            where = pool_found[1] if pool_found else "--max-users"
            raise ConfigError(
                f"{where}: only for arrival-rate load (give --rate, or a scenario of kind constant_arrival_rate "
                "or ramping_arrival_rate); closed scenarios use --users"
            )
        pooled = arrival_scenario(scenario.name, replace(scenario.arrival, max_users=pool), scenario.description,
                                  scenario.profile, scenario.thresholds)  # fmt: skip
        return replace(pooled, capacity_settle_s=scenario.capacity_settle_s)
    return scenario


def _distribution(cli: Mapping[str, Any], env: Mapping[str, str], services: Services) -> Distribution:
    """--workers N / --master / --worker --master-host HOST, checked for combinations that cannot work."""
    found = _cli_or_env(cli, env, "workers")
    workers = _number(found[0], found[1], int, 1, 256) if found else 0
    found = _cli_or_env(cli, env, "master_port")
    port = _number(found[0], found[1], int, 1) if found else 5557
    if port > 65535:
        raise ConfigError(f"{found[1] if found else '--master-port'}: {port} is not a TCP port (1-65535)")
    host_found = _cli_or_env(cli, env, "master_host")
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


def _scripted_with_paths(config: ScriptedConfig, base: Path) -> ScriptedConfig:
    """``.proto`` paths are relative to the config file; make them absolute for the Locust process."""
    grpc = [e.model_copy(update={"proto": str(proto_path(e, base))}) if e.proto else e for e in config.grpc]
    return config.model_copy(update={"grpc": grpc})
