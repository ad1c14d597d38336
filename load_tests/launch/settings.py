"""YAML + environment + command line -> one frozen, validated :class:`Settings`.

Precedence is CLI flag > environment variable > YAML > built-in default. All validation lives here
and in :mod:`load_tests.launch.options` (flags and environment variables), and every mistake becomes
a :class:`ConfigError` whose one-line message names the file and the field
(``load_test_config.yaml: scenarios.mine.stages[0].duration: '5x' is not a duration ...``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from load_tests.core.errors import ConfigError, HarnessError
from load_tests.core.fleet import PROTOCOLS as FLEET_PROTOCOLS
from load_tests.core.plan import ResourcesPlan, Services, ValidityLimits
from load_tests.core.scenarios import BUILTIN_SCENARIOS, Scenario
from load_tests.core.scripted import ScriptedConfig, proto_path
from load_tests.launch.catalogue import TestType, resolve_test_types
from load_tests.launch.config_schema import (
    FileConfig,
    ResourcesConfig,
    ThresholdsConfig,
)
from load_tests.launch.fleet_config import fleet_test_types, locustfile_service_name, prepare_fleet, with_locustfile
from load_tests.launch.options import (
    Distribution,
    cli_or_env,
    distribution_from,
    number,
    scenario_with_flags,
    tag_list,
    web_ui_address,
)
from load_tests.launch.scenario_config import scenario_from_config

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # load_tests/
DEFAULT_CONFIG = PACKAGE_DIR / "config" / "load_test_config.yaml"
DEFAULT_DATA_DIR = PACKAGE_DIR / "data"


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
    count_connections: bool = False  # connects, pings and pushes count as requests (run.count_connections)
    skipped_test_types: tuple[str, ...] = ()  # left out of "all" because their service has no address
    scripted: ScriptedConfig = field(default_factory=ScriptedConfig)
    fleet: dict[str, Any] = field(default_factory=dict)  # the chosen fleet services (core/fleet.py), checked
    resources: ResourcesPlan = field(default_factory=ResourcesPlan)
    distribution: Distribution = field(default_factory=Distribution)
    validity: ValidityLimits = field(default_factory=ValidityLimits)
    web_ui: tuple[str, int] | None = None  # (host, port) of Locust's web UI; None: headless
    matrix: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # the YAML's, for --matrix
    llm_slo: dict[str, float] = field(default_factory=dict)  # llm.slo: per-request targets of token streams


def _readable(loc: tuple[Any, ...]) -> str:
    """``fleet.svc.http.operations.0.colour`` -> ``fleet.svc.operations[0].colour``: pydantic's union
    tags and validator names are not places a user can find in the file."""
    parts = [p for i, p in enumerate(loc) if not (i == 2 and loc[0] == "fleet" and p in FLEET_PROTOCOLS)]
    parts = [p for p in parts if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    return ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in parts).replace(".[", "[")


def _one_line(error: ValidationError, source: str) -> ConfigError:
    first = error.errors()[0]
    loc = _readable(tuple(first["loc"]))
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
    found = cli_or_env(cli, env, "config")
    config_path = Path(found[0]).expanduser() if found else DEFAULT_CONFIG
    file_cfg = read_config_file(config_path, overrides, label)
    source = f"{config_path} with matrix {label}" if label else str(config_path)
    base = config_path.resolve().parent
    scenarios = _scenarios(file_cfg, source, base)
    scenario = scenario_with_flags(cli, env, _chosen_scenario(cli, env, scenarios, file_cfg, source))
    fleet = prepare_fleet(with_locustfile(file_cfg.fleet, cli, env), base, source, env)
    found = cli_or_env(cli, env, "test_type")
    test_type_spec, where = found if found else (file_cfg.run.test_type, f"{source}: run.test_type")
    if not found and cli_or_env(cli, env, "locustfile"):
        test_type_spec, where = locustfile_service_name(cli_or_env(cli, env, "locustfile")[0]), "--locustfile"
    test_types = _test_types(str(test_type_spec), where, fleet_test_types(fleet, env))
    services = _resolved_services(cli, env, file_cfg, base, source)
    test_types, skipped = _addressed(test_types, str(test_type_spec), where, services, file_cfg, source)
    found = cli_or_env(cli, env, "output_dir")
    output_dir = Path(found[0] if found else file_cfg.run.output_dir).expanduser()
    resources = _resources(cli, env, file_cfg)
    distribution = distribution_from(cli, env, services)
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
        tags=tag_list(cli, env, "tags", file_cfg.run.tags),
        exclude_tags=tag_list(cli, env, "exclude_tags", file_cfg.run.exclude_tags),
        features_csv=_resolve_path(file_cfg.data.features_csv, DEFAULT_DATA_DIR / "features.csv", base),
        audio_dir=_resolve_path(file_cfg.data.audio_dir, DEFAULT_DATA_DIR / "audio", base),
        progress_interval_s=file_cfg.run.progress_interval,
        stop_timeout_s=file_cfg.run.stop_timeout,
        count_connections=file_cfg.run.count_connections,
        skipped_test_types=skipped,
        scripted=_scripted_with_paths(file_cfg.scripted, base),
        fleet={t.name: fleet[t.name] for t in test_types if t.name in fleet},
        resources=resources,
        distribution=distribution,
        validity=ValidityLimits(**file_cfg.validity.model_dump()),
        web_ui=web_ui_address(cli, env),
        matrix=file_cfg.matrix,
        llm_slo=file_cfg.llm.slo.model_dump(exclude_none=True) if file_cfg.llm.slo else {},
    )


def _scenarios(file_cfg: FileConfig, source: str, base: Path | None = None) -> dict[str, Scenario]:
    """The built-in scenarios, with the YAML's laid over them (a YAML entry may redefine a built-in)."""
    scenarios = dict(BUILTIN_SCENARIOS)
    for name, cfg in file_cfg.scenarios.items():
        scenarios[name] = scenario_from_config(name, cfg, source, base)
    return scenarios


def _chosen_scenario(
    cli: Mapping[str, Any], env: Mapping[str, str], scenarios: dict[str, Scenario], file_cfg: FileConfig, source: str
) -> Scenario:
    found = cli_or_env(cli, env, "scenario")
    scenario_name, where = found if found else (file_cfg.run.scenario, f"{source}: run.scenario")
    if scenario_name not in scenarios:
        raise ConfigError(f"{where}: unknown scenario {scenario_name!r} (choose from {', '.join(sorted(scenarios))})")
    return scenarios[scenario_name]


def _test_types(spec: str, where: str, fleet: dict[str, TestType]) -> tuple[TestType, ...]:
    """The test types named by ``spec``; a bad name is reported against ``where`` it was given."""
    try:
        return resolve_test_types(spec, fleet)
    except HarnessError as exc:
        raise type(exc)(f"{where}: {exc}") from None


def _addressed(
    test_types: tuple[TestType, ...], spec: str, where: str, services: Services, file_cfg: FileConfig, source: str
) -> tuple[tuple[TestType, ...], tuple[str, ...]]:
    """The test types to run and those skipped: "all" against a remote target leaves out the test types
    whose service has no address, where naming a test type explicitly keeps it (and fails later, loudly)."""
    skipped: tuple[str, ...] = ()
    if any(t.name == "scripted" for t in test_types) and file_cfg.scripted.empty:
        raise ConfigError(f"{where}: test type scripted needs entries under 'scripted:' in {source}")
    if "all" in spec.lower().split(",") and not services.needs_bundled_target and not file_cfg.fleet:
        skipped = tuple(t.name for t in test_types if not services.address_of(t.name))
        test_types = tuple(t for t in test_types if services.address_of(t.name))
        if not test_types:
            raise ConfigError(f"{where}: no test type has a service address (give --host or services.*)")
    return test_types, skipped


def _resolved_services(
    cli: Mapping[str, Any], env: Mapping[str, str], file_cfg: FileConfig, base: Path, source: str
) -> Services:
    """The services' addresses from --host/--grpc-target or the YAML, with its CA file made absolute."""
    found = cli_or_env(cli, env, "host")
    grpc_found = cli_or_env(cli, env, "grpc_target")
    services = _services(file_cfg, str(found[0]) if found else None, str(grpc_found[0]) if grpc_found else None)
    if file_cfg.services.ca_file:
        ca_file = _resolve_path(file_cfg.services.ca_file, Path(), base)
        if not ca_file.is_file():
            raise ConfigError(f"{source}: services.ca_file: file not found: {ca_file}")
        services = replace(services, ca_file=str(ca_file))
    return services


def _resources(cli: Mapping[str, Any], env: Mapping[str, str], file_cfg: FileConfig) -> ResourcesPlan:
    """What to sample on the target: the YAML's ``resources:``, with --target-pid/--metrics-url over it."""
    res = file_cfg.resources
    resources = ResourcesPlan(res.interval, res.target_pid, res.metrics_url,
                              tuple(res.metrics) if res.metrics is not None else None, res.gpu)  # fmt: skip
    found = cli_or_env(cli, env, "target_pid")
    if found:
        resources = replace(resources, target_pid=number(found[0], found[1], int, 1))
    found = cli_or_env(cli, env, "metrics_url")
    if found:
        try:
            ResourcesConfig(metrics_url=str(found[0]))
        except ValidationError as exc:
            raise ConfigError(f"{found[1]}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        resources = replace(resources, metrics_url=str(found[0]))
    return resources


def _scripted_with_paths(config: ScriptedConfig, base: Path) -> ScriptedConfig:
    """``.proto`` paths are relative to the config file; make them absolute for the Locust process."""
    grpc = [e.model_copy(update={"proto": str(proto_path(e, base))}) if e.proto else e for e in config.grpc]
    return config.model_copy(update={"grpc": grpc})
