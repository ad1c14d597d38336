"""The YAML config file's schema: every section and key, its type, bounds and default (pydantic).

Validation only; :mod:`load_tests.launch.settings` reads the file with these models and turns any error into a
one-line :class:`~load_tests.core.errors.ConfigError`. Unknown keys are an error, so typos show.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from load_tests.core.fleet import SERVICE_NAME, Service
from load_tests.core.plan import (
    DEFAULT_API_KEY_ENV,
    DEFAULT_PROGRESS_INTERVAL_S,
    DEFAULT_TIMEOUT_S,
    ResourcesPlan,
    ValidityLimits,
)
from load_tests.core.scenarios import parse_duration
from load_tests.core.scripted import ScriptedConfig

Seconds = Annotated[float, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceEndpoint(_Model):
    url: str | None = None
    timeout_s: Seconds = DEFAULT_TIMEOUT_S


class GrpcService(_Model):
    target: str | None = None  # host:port
    timeout_s: Seconds = DEFAULT_TIMEOUT_S


class ServicesConfig(_Model):
    rest: ServiceEndpoint = ServiceEndpoint()
    websocket: ServiceEndpoint = ServiceEndpoint()
    socketio: ServiceEndpoint = ServiceEndpoint()
    grpc: GrpcService = GrpcService()
    api_key_env: str = DEFAULT_API_KEY_ENV
    ca_file: str | None = None  # PEM bundle to trust for https/wss/gRPC TLS (relative to the config file)


class Bounds(_Model):
    """A minimum, a maximum or both (``goodput_rps: {min: 5}``)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Bounds:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self


class TokenLatencyLimit(_Model):
    """Maxima on a per-request token figure's statistics (``ttft_ms: {p95: 500, p99: 1000}``)."""

    mean: float | None = Field(default=None, gt=0)
    p50: float | None = Field(default=None, gt=0)
    p90: float | None = Field(default=None, gt=0)
    p95: float | None = Field(default=None, gt=0)
    p99: float | None = Field(default=None, gt=0)
    max: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_limit(self) -> TokenLatencyLimit:
        if all(v is None for v in self.model_dump().values()):
            raise ValueError("give at least one of mean, p50, p90, p95, p99, max")
        return self


class ThresholdSet(_Model):
    """Limits a run must keep; a missing one is not checked. Token-stream limits: core/thresholds.py."""

    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    avg_ms: float | None = Field(default=None, gt=0)
    error_rate_pct: float | None = Field(default=None, ge=0, le=100)
    min_rps: float | None = Field(default=None, ge=0)
    corrected_p95_ms: float | None = Field(default=None, gt=0)  # open-model load only
    corrected_p99_ms: float | None = Field(default=None, gt=0)
    goodput_rps: Bounds | None = None  # token streams: requests/s that met every SLO of llm.slo
    slo_attainment_pct: Bounds | None = None
    output_tokens_per_s: Bounds | None = None
    total_tokens_per_s: Bounds | None = None
    ttft_ms: TokenLatencyLimit | None = None
    ttst_ms: TokenLatencyLimit | None = None
    itl_ms: TokenLatencyLimit | None = None
    tpot_ms: TokenLatencyLimit | None = None
    e2e_ms: TokenLatencyLimit | None = None


class RecoveryRule(_Model):
    """After stage ``after_stage`` (1-based) ends, p95 must come back under ``p95_ms`` within ``within_s``."""

    after_stage: int = Field(ge=1)
    p95_ms: float = Field(gt=0)
    within_s: Seconds


class AbortRule(_Model):
    """Stop the run early, reports still written, once a limit is broken beyond hope after ``after_s``."""

    after_s: Seconds = 30.0
    error_rate_pct: float | None = Field(default=None, ge=0, le=100)
    p95_ms: float | None = Field(default=None, gt=0)


class ResourceLimit(_Model):
    """Limits on one resource series (``target.cpu_percent``; ``*`` matches, as in ``generator.*.cpu_percent``)."""

    max: float | None = None
    avg: float | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> ResourceLimit:
        if self.max is None and self.avg is None:
            raise ValueError("give max, avg or both")
        return self


class CustomLimit(_Model):
    """Bounds on one domain metric's figure (``tokens_per_second: {min: 500}``)."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> CustomLimit:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        return self


class ThresholdsConfig(ThresholdSet):
    p95_ms: float | None = Field(default=2000.0, gt=0)
    error_rate_pct: float | None = Field(default=1.0, ge=0, le=100)
    endpoints: dict[str, ThresholdSet] = {}
    protocols: dict[str, ThresholdSet] = {}
    recovery: RecoveryRule | None = None
    abort: AbortRule | None = None
    resources: dict[str, ResourceLimit] = {}
    custom: dict[str, CustomLimit] = {}  # domain metrics (load_tests/core/domain.py) by name[.figure]


class ScenarioThresholds(ThresholdSet):
    recovery: RecoveryRule | None = None
    abort: AbortRule | None = None


class StopWhen(_Model):
    """End the run early once the service is saturated (core/saturation.py): any limit broken over ``for``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    error_rate_pct: float | None = Field(default=None, ge=0, le=100)
    dropped_pct: float | None = Field(default=None, ge=0, le=100)  # arrival-rate load
    late_pct: float | None = Field(default=None, ge=0, le=100)  # arrival-rate load
    for_s: Seconds = Field(default=10.0, alias="for")

    @model_validator(mode="after")
    def _one_limit(self) -> StopWhen:
        if self.error_rate_pct is None and self.dropped_pct is None and self.late_pct is None:
            raise ValueError("give error_rate_pct, dropped_pct or late_pct")
        return self


class StageConfig(_Model):
    """A closed-model stage (users, spawn_rate) or an arrival-rate stage (target: iterations/s)."""

    duration: Seconds
    users: int | None = Field(default=None, ge=0, le=1_000_000)
    spawn_rate: float | None = Field(default=None, gt=0, le=1_000_000)
    target: float | None = Field(default=None, ge=0, le=1_000_000)


ARRIVAL_KINDS = ("constant_arrival_rate", "ramping_arrival_rate", "trace")


class ScenarioConfig(_Model):
    kind: str = Field(default="users", pattern="^(users|constant_arrival_rate|ramping_arrival_rate|trace|capacity)$")
    # arrival-rate kinds: how iterations fall within the rate (core/arrivals.py), reproducible from seed
    arrival: str = Field(default="constant", pattern="^(constant|poisson|gamma)$")
    burstiness: float | None = Field(default=None, gt=0, le=1000)  # arrival gamma: the gaps' shape (1 = Poisson)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    trace: str | None = None  # kind trace: a JSON Lines file of {offset_s, input_tokens, output_tokens}
    stop_when: StopWhen | None = None  # end early on saturation
    rate: float | None = Field(default=None, gt=0, le=1_000_000)  # constant_arrival_rate: iterations per second
    start_rate: float = Field(default=0.0, ge=0, le=1_000_000)  # ramping_arrival_rate: the rate before stage 1
    max_users: int | None = Field(default=None, ge=1, le=1_000_000)  # arrival-rate: the pool; capacity: the ceiling
    start_users: int | None = Field(default=None, ge=1, le=1_000_000)  # capacity: the first step
    step_rate: float | None = Field(default=None, gt=0, le=1_000_000)  # capacity in iterations/s (from start_rate)
    max_rate: float | None = Field(default=None, gt=0, le=1_000_000)  # capacity in iterations/s: the ceiling
    step_users: int | None = Field(default=None, ge=1, le=1_000_000)  # capacity: users added per step
    step_duration: Seconds | None = None  # capacity: each step's length
    settle: Seconds | None = None  # capacity: the start of each step that is not judged (default: a third)
    description: str = ""
    users: int | None = Field(default=None, ge=1, le=1_000_000)
    spawn_rate: float | None = Field(default=None, gt=0, le=1_000_000)
    duration: Seconds | None = None
    stages: list[StageConfig] | None = Field(default=None, min_length=1)
    profile: str = Field(default="normal", pattern="^(normal|stress)$")
    thresholds: ScenarioThresholds | None = None


class RunConfig(_Model):
    scenario: str = "smoke"
    test_type: str = "all"
    output_dir: str = "reports"
    tags: list[str] = []
    exclude_tags: list[str] = []
    progress_interval: Seconds = DEFAULT_PROGRESS_INTERVAL_S
    stop_timeout: Seconds = 10.0  # users finish the call in hand at the end, so none goes unreported
    count_connections: bool = False  # count connects, pings and pushes as requests in totals, rates, error rate


class ResourcesConfig(_Model):
    """What to sample beside latency (see load_tests/engine/resources.py)."""

    interval: Seconds = Field(default=ResourcesPlan.interval_s, gt=0)
    target_pid: int | None = Field(default=None, ge=1)  # the target's process, when it runs on this host
    metrics_url: str | None = None  # a Prometheus text endpoint, e.g. http://127.0.0.1:8000/metrics
    metrics: list[str] | None = None  # names to keep (default: all gauges and counters of the endpoint)
    gpu: bool = ResourcesPlan.gpu

    @field_validator("metrics_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"{value!r} is not an http(s) URL such as http://127.0.0.1:8000/metrics")
        return value


class ValidityConfig(_Model):
    """When a run's latency measures the generator rather than the service (the run is marked invalid)."""

    # Meanings and defaults: core/plan.py ValidityLimits.
    max_generator_cpu_pct: float = Field(default=ValidityLimits.max_generator_cpu_pct, gt=0)
    rate_tolerance_pct: float = Field(default=ValidityLimits.rate_tolerance_pct, ge=0, le=100)
    late_ms: float = Field(default=ValidityLimits.late_ms, ge=0)
    max_timing_lag_ms: float | None = Field(default=ValidityLimits.max_timing_lag_ms, gt=0)


class DataConfig(_Model):
    features_csv: str | None = None
    audio_dir: str | None = None


class CompareConfig(_Model):
    """How different two runs must be before a row is called regressed or improved."""

    latency_pct: float = Field(default=10.0, ge=0)
    latency_ms: float = Field(default=2.0, ge=0)
    error_rate_pct: float = Field(default=1.0, ge=0, le=100)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    settle_s: float = Field(default=0.0, ge=0)  # leave out the first seconds (warm-up) of both runs


class SloConfig(_Model):
    """Per-request targets of token streams, in ms (core/llm_metrics.Slo): goodput counts the requests that
    meet all those given; ``itl_ms`` limits a request's largest gap between chunks."""

    ttft_ms: float | None = Field(default=None, gt=0)
    tpot_ms: float | None = Field(default=None, gt=0)
    e2e_ms: float | None = Field(default=None, gt=0)
    itl_ms: float | None = Field(default=None, gt=0)


class LlmConfig(_Model):
    """Token streams (LLM serving): ``llm: {slo: {ttft_ms: 500, tpot_ms: 50}}``."""

    slo: SloConfig | None = None


MATRIX_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class FileConfig(_Model):
    """The YAML file, as written by the user."""

    services: ServicesConfig = ServicesConfig()
    run: RunConfig = RunConfig()
    data: DataConfig = DataConfig()
    thresholds: ThresholdsConfig = ThresholdsConfig()
    scenarios: dict[str, ScenarioConfig] = {}
    scripted: ScriptedConfig = ScriptedConfig()
    fleet: dict[Annotated[str, StringConstraints(pattern=SERVICE_NAME)], Service] = {}  # core/fleet.py
    compare: CompareConfig = CompareConfig()
    resources: ResourcesConfig = ResourcesConfig()
    validity: ValidityConfig = ValidityConfig()
    llm: LlmConfig = LlmConfig()
    # --matrix: {dimension: {entry: overrides of this file}}; every combination is one run
    matrix: dict[str, dict[str, dict[str, Any]]] = {}

    @field_validator("matrix")
    @classmethod
    def _matrix_names(cls, value: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, dict[str, Any]]]:
        for dimension, entries in value.items():
            for name in (dimension, *entries):
                if not re.match(MATRIX_NAME, name):
                    raise ValueError(f"{name!r} is not a valid name (letters, digits, '_', '.', '-')")
            if not entries:
                raise ValueError(f"{dimension}: needs at least one entry")
            if any("matrix" in overrides for overrides in entries.values()):
                raise ValueError(f"{dimension}: an entry cannot hold another matrix")
        return value
