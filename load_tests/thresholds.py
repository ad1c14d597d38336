"""Pure: a run summary plus threshold rules -> pass/fail verdicts. No Locust, no I/O.

Rules come in three scopes, checked in this order: the whole run (``global``), each protocol, each
endpoint (``"POST /predict"``). A scenario's own thresholds replace the global ones they name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# metric -> (summary field, True when the limit is a maximum)
METRICS: dict[str, tuple[str, bool]] = {
    "p95_ms": ("p95_ms", True),
    "p99_ms": ("p99_ms", True),
    "avg_ms": ("avg_ms", True),
    "error_rate_pct": ("error_rate_pct", True),
    "min_rps": ("rps", False),
}


@dataclass(frozen=True)
class Verdict:
    scope: str  # "global", "protocol http", "endpoint POST /predict"
    metric: str
    limit: float
    actual: float | None
    passed: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def merge_rules(file_rules: dict[str, Any], scenario_rules: dict[str, Any]) -> dict[str, Any]:
    """Global rules of the config file, overridden by the scenario's own, as one plain dict."""
    rules = {k: v for k, v in file_rules.items() if k not in ("endpoints", "protocols") and v is not None}
    rules.update({k: v for k, v in scenario_rules.items() if v is not None})
    return {
        "global": rules,
        "protocols": {k: _set(v) for k, v in (file_rules.get("protocols") or {}).items()},
        "endpoints": {k: _set(v) for k, v in (file_rules.get("endpoints") or {}).items()},
    }


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _check(scope: str, row: dict[str, Any] | None, limits: dict[str, Any]) -> list[Verdict]:
    verdicts = []
    for metric, limit in limits.items():
        field, is_max = METRICS[metric]
        actual = row.get(field) if row else None
        if actual is None:
            passed, reason = False, "no data"
        elif is_max:
            passed = actual <= limit
            reason = f"{actual:.2f} <= {limit:g}" if passed else f"{actual:.2f} > {limit:g}"
        else:
            passed = actual >= limit
            reason = f"{actual:.2f} >= {limit:g}" if passed else f"{actual:.2f} < {limit:g}"
        verdicts.append(Verdict(scope, metric, float(limit), actual, passed, reason))
    return verdicts


def evaluate(summary: dict[str, Any], rules: dict[str, Any]) -> list[Verdict]:
    """Every verdict of ``rules`` (as built by :func:`merge_rules`) on ``summary``."""
    total = summary["total"]
    verdicts = []
    if not total["requests"]:
        verdicts.append(Verdict("global", "requests", 1, 0, False, "no requests were made"))
    verdicts += _check("global", total, rules.get("global", {}))
    for protocol, limits in rules.get("protocols", {}).items():
        verdicts += _check(f"protocol {protocol}", summary["protocols"].get(protocol), limits)
    rows = {f"{r['request_type']} {r['name']}": r for r in summary["endpoints"]}
    for endpoint, limits in rules.get("endpoints", {}).items():
        verdicts += _check(f"endpoint {endpoint}", rows.get(endpoint), limits)
    return verdicts
