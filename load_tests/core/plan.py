"""The run plan: the one typed bridge between the launcher and Locust's process.

The launcher writes it as ``run_plan.json`` in the run folder and names it in ``LOADTEST_PLAN``;
Locust's process reads it back (:meth:`RunPlan.read`). Writing and reading are one JSON round trip
of frozen dataclasses, and every default is defined here once: the launcher's settings and the
config schema take theirs from these classes. The plan is also a record of what ran. It never
holds a secret: the API key stays in the environment variable whose *name* the plan carries.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from load_tests.core.scenarios import Arrival, Scenario, Stage

PLAN_ENV = "LOADTEST_PLAN"
DEFAULT_TIMEOUT_S = 10.0  # any protocol's reply timeout, unless the config names one
DEFAULT_API_KEY_ENV = "LOADTEST_API_KEY"
DEFAULT_PROGRESS_INTERVAL_S = 5.0
# The bundled service's /metrics series sampled during its runs (a user's endpoint: all gauges and counters).
DEFAULT_TARGET_METRICS = (
    "target_requests_total", "target_errors_total", "target_in_flight", "target_connections_open",
    "target_db_pool_size", "target_db_pool_in_use",
)  # fmt: skip


@dataclass(frozen=True)
class Services:
    """Where each protocol's service is; None everywhere means "start the bundled reference service"."""

    rest_url: str | None = None
    websocket_url: str | None = None
    socketio_url: str | None = None
    grpc_target: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S  # REST
    api_key_env: str = DEFAULT_API_KEY_ENV
    websocket_timeout_s: float = DEFAULT_TIMEOUT_S
    socketio_timeout_s: float = DEFAULT_TIMEOUT_S
    grpc_timeout_s: float = DEFAULT_TIMEOUT_S
    ca_file: str | None = None

    def address_of(self, test_type: str) -> str | None:
        """Where the service of a test type is (URL or host:port), or None."""
        return {"rest": self.rest_url, "llm": self.rest_url, "websocket": self.websocket_url,
                "socketio": self.socketio_url, "grpc": self.grpc_target}.get(test_type)  # fmt: skip

    @property
    def needs_bundled_target(self) -> bool:
        return not any((self.rest_url, self.websocket_url, self.socketio_url, self.grpc_target))

    def api_key(self) -> str | None:
        """The key, read from the environment variable the config names (never stored in the plan)."""
        return os.environ.get(self.api_key_env or "") or None

    def public(self) -> dict[str, Any]:
        """What a report may show: everything but the name of the key's variable."""
        return {k: v for k, v in asdict(self).items() if k != "api_key_env"}


@dataclass(frozen=True)
class ResourcesPlan:
    """What the resource monitor samples besides the Locust processes themselves."""

    interval_s: float = 2.0
    target_pid: int | None = None  # the target's process, when it runs on this host
    metrics_url: str | None = None  # a Prometheus text endpoint
    metrics: tuple[str, ...] | None = None  # names to keep (None: all gauges and counters)
    gpu: bool = True


@dataclass(frozen=True)
class ValidityLimits:
    """When a run's latency measures the generator rather than the service (see core/validity.py)."""

    max_generator_cpu_pct: float = 90.0  # median CPU of any Locust process above this
    rate_tolerance_pct: float = 10.0  # arrival rate achieved below schedule by more than this
    late_ms: float = 10.0  # an iteration starting later than this is counted late
    max_timing_lag_ms: float | None = None  # opt-in: a Locust process's event-loop lag p99 above this


@dataclass(frozen=True)
class RunPlan:
    run_dir: str
    timestamp: str
    scenario: Scenario | None  # None: a plain ``locust -f`` run, Locust's own flags decide the load
    test_types: tuple[str, ...]
    services: Services
    thresholds: dict[str, Any]  # the config's rules merged with the scenario's (core/thresholds.py)
    features_csv: str
    audio_dir: str
    progress_interval_s: float = DEFAULT_PROGRESS_INTERVAL_S
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    from_runner: bool = False
    count_connections: bool = False  # connects, pings and pushes count as requests in totals and rates
    scripted: dict[str, Any] = field(default_factory=dict)  # the YAML's `scripted:` section, validated
    fleet: dict[str, Any] = field(default_factory=dict)  # chosen services of `fleet:` (core/fleet.py), paths absolute
    worker_count: int = 0  # Locust workers of the run (0: one process); unique feeds are split between them
    resources: ResourcesPlan = field(default_factory=ResourcesPlan)
    validity: ValidityLimits = field(default_factory=ValidityLimits)
    llm_slo: dict[str, float] = field(default_factory=dict)  # per-request targets of token streams (goodput)

    def api_key(self) -> str | None:
        return self.services.api_key()

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunPlan:
        data = json.loads(text)
        return cls(
            **{
                **data,
                "scenario": scenario_from_dict(data["scenario"]) if data.get("scenario") else None,
                "test_types": tuple(data["test_types"]),
                "services": Services(**data["services"]),
                "tags": tuple(data.get("tags", ())),
                "exclude_tags": tuple(data.get("exclude_tags", ())),
                "resources": _resources(data.get("resources") or {}),
                "validity": ValidityLimits(**(data.get("validity") or {})),
            }
        )

    def write(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> RunPlan:
        return cls.from_json(path.read_text(encoding="utf-8"))


def _resources(data: dict[str, Any]) -> ResourcesPlan:
    metrics = data.get("metrics")
    return ResourcesPlan(**{**data, "metrics": tuple(metrics) if metrics is not None else None})


def scenario_from_dict(data: dict[str, Any]) -> Scenario:
    """The inverse of ``dataclasses.asdict(scenario)`` (tuples come back from JSON lists)."""
    arrival = data.get("arrival")
    return Scenario(
        name=data["name"],
        stages=tuple(Stage(**s) for s in data["stages"]),
        description=data.get("description", ""),
        profile=data.get("profile", "normal"),
        thresholds=data.get("thresholds") or {},
        arrival=Arrival(**{**arrival, "stages": tuple(tuple(s) for s in arrival["stages"])}) if arrival else None,
        capacity_settle_s=data.get("capacity_settle_s"),
        stop_when=data.get("stop_when"),
    )


def scenario_record(scenario: Scenario | None) -> dict[str, Any]:
    """The scenario as the summary records it (its thresholds are in the summary's verdicts)."""
    if scenario is None:
        return {"name": "locust", "profile": "normal", "stages": []}
    record = asdict(scenario)
    record.pop("thresholds")
    return record
