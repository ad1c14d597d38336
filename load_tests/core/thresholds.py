"""Pure: a run summary plus threshold rules -> pass/fail verdicts. No Locust, no I/O.

Rules come in three scopes, checked in this order: the whole run (``global``), each protocol, each
endpoint (``"POST /predict"``). A scenario's own thresholds replace the global ones they name.

Token-stream rules (any scope) read the row's ``llm`` figures (core/llm_record.py) and take bounds:
``goodput_rps: {min: 5}``, ``slo_attainment_pct: {min: 95}``, ``output_tokens_per_s: {min: 100}``, and
per-request percentiles ``ttft_ms: {p95: 500}`` (also ``ttst_ms``, ``itl_ms``, ``tpot_ms``, ``e2e_ms``;
keys ``mean``, ``p50``, ``p90``, ``p95``, ``p99``, ``max``, each a maximum). A run without token streams
fails them ("no token streams"); goodput without an SLO (``llm.slo`` in the config) fails likewise.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass
from typing import Any

from load_tests.core.domain import lookup

# metric -> (summary field, True when the limit is a maximum)
METRICS: dict[str, tuple[str, bool]] = {
    "p95_ms": ("p95_ms", True),
    "p99_ms": ("p99_ms", True),
    "avg_ms": ("avg_ms", True),
    "error_rate_pct": ("error_rate_pct", True),
    "min_rps": ("rps", False),
    "corrected_p95_ms": ("corrected.p95_ms", True),  # open-model load: from the intended start
    "corrected_p99_ms": ("corrected.p99_ms", True),
}

# token-stream rules: metric -> its field in the row's ``llm`` figures (bounds min/max), or percentile keys
LLM_BOUNDS: dict[str, str] = {
    "goodput_rps": "goodput.goodput_rps",
    "slo_attainment_pct": "goodput.attainment_pct",
    "output_tokens_per_s": "output_tokens_per_s",
    "total_tokens_per_s": "total_tokens_per_s",
}
LLM_LATENCIES = ("ttft_ms", "ttst_ms", "itl_ms", "tpot_ms", "e2e_ms")


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


_SPECIAL = ("endpoints", "protocols", "recovery", "abort", "resources", "custom")


def merge_rules(file_rules: dict[str, Any], scenario_rules: dict[str, Any]) -> dict[str, Any]:
    """Global rules of the config file, overridden by the scenario's own, as one plain dict."""
    rules = {k: v for k, v in file_rules.items() if k not in _SPECIAL and v is not None}
    rules.update({k: v for k, v in scenario_rules.items() if v is not None and k not in _SPECIAL})
    return {
        "global": rules,
        "protocols": {k: _set(v) for k, v in (file_rules.get("protocols") or {}).items()},
        "endpoints": {k: _set(v) for k, v in (file_rules.get("endpoints") or {}).items()},
        "recovery": scenario_rules.get("recovery") or file_rules.get("recovery"),
        "abort": scenario_rules.get("abort") or file_rules.get("abort"),
        "resources": {k: _set(v) for k, v in (file_rules.get("resources") or {}).items()},
        "custom": {k: _set(v) for k, v in (file_rules.get("custom") or {}).items()},
    }


def check_recovery(summary: dict[str, Any], rule: dict[str, Any]) -> Verdict:
    """After stage ``after_stage`` ends, the per-second p95 must be back under its limit within ``within_s``."""
    stages = summary.get("scenario", {}).get("stages", [])
    number, limit, within = rule["after_stage"], float(rule["p95_ms"]), float(rule["within_s"])
    scope = f"recovery after stage {number}"
    if number > len(stages):
        return Verdict(scope, "recovery_s", within, None, False, f"the scenario has {len(stages)} stage(s)")
    end = sum(s["duration_s"] for s in stages[:number])
    after = [p for p in summary.get("timeline", []) if p["t_s"] > end and p.get("p95_ms") is not None]
    back = next((p for p in after if p["p95_ms"] <= limit), None)
    if back is None:
        reason = "no data after the stage" if not after else f"p95 never back under {limit:g} ms"
        return Verdict(scope, "recovery_s", within, None, False, reason)
    took = max(0.0, back["t_s"] - end - 1.0)  # a sample covers the second before it
    passed = took <= within
    reason = f"p95 under {limit:g} ms {took:.0f}s after the stage {'<=' if passed else '>'} {within:g}s"
    return Verdict(scope, "recovery_s", within, took, passed, reason)


def check_resources(summary: dict[str, Any], rules: dict[str, dict[str, float]]) -> list[Verdict]:
    """Limits on resource series; ``*`` in a name matches (``generator.*.cpu_percent``: every process).

    A series with no samples fails ("no samples"), except GPU series on a host without a GPU: those
    are not checked, so one config serves machines with and without GPUs.
    """
    resources = summary.get("resources") or {}
    stats = resources.get("stats") or {}
    no_gpu = not (resources.get("gpu") or {}).get("available")
    verdicts = []
    for pattern, limits in rules.items():
        names = sorted(n for n in stats if fnmatch.fnmatchcase(n, pattern))
        for stat, limit in limits.items():
            scope = f"resource {pattern}"
            if not names:
                if no_gpu and pattern.startswith("gpu"):
                    verdicts.append(Verdict(scope, stat, float(limit), None, True, "not checked: no GPU"))
                else:
                    verdicts.append(Verdict(scope, stat, float(limit), None, False, "no samples of this series"))
                continue
            for name in names:
                actual = stats[name][stat]
                passed, reason = within(actual, limit, is_max=True, digits=".1f")
                verdicts.append(Verdict(f"resource {name}", stat, float(limit), actual, passed, f"{stat} {reason}"))
    return verdicts


def check_custom(summary: dict[str, Any], rules: dict[str, dict[str, float]]) -> list[Verdict]:
    """Bounds on domain metrics; a metric that was never recorded fails ("not recorded")."""
    custom = summary.get("custom") or {}
    verdicts = []
    for key, bounds in rules.items():
        found = lookup(custom, key)
        for bound, limit in bounds.items():
            if found is None:
                verdicts.append(Verdict(f"custom {key}", bound, float(limit), None, False, "not recorded in this run"))
                continue
            actual = custom[found[0]].get(found[1])
            passed, reason = within(actual, limit, is_max=bound == "max", digits=".3g")
            verdicts.append(Verdict(f"custom {key}", bound, float(limit), actual, passed, reason))
    return verdicts


def beyond_hope(
    total: dict[str, Any], window_p95_ms: float | None, rule: dict[str, Any], elapsed_s: float
) -> str | None:
    """Why the run should stop now (a limit of the abort rule is broken after its grace period), or None."""
    if elapsed_s < float(rule.get("after_s") or 0):
        return None
    limit = rule.get("error_rate_pct")
    if limit is not None and total["requests"] and 100.0 * total["failures"] / total["requests"] > limit:
        return f"error rate {100.0 * total['failures'] / total['requests']:.1f}% > {limit:g}% after {elapsed_s:.0f}s"
    limit = rule.get("p95_ms")
    if limit is not None and window_p95_ms is not None and window_p95_ms > limit:
        return f"p95 {window_p95_ms:.0f} ms > {limit:g} ms after {elapsed_s:.0f}s"
    return None


def value_at(row: dict[str, Any] | None, path: str) -> Any:
    """``row["corrected"]["p99_ms"]`` for ``"corrected.p99_ms"``; None where any step is missing."""
    value: Any = row
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _set(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def within(actual: float | None, limit: float, is_max: bool, digits: str = ".2f") -> tuple[bool, str]:
    """Whether ``actual`` keeps to ``limit`` (a maximum or a minimum), and the reason in words."""
    if actual is None:
        return False, "no data"
    passed = actual <= limit if is_max else actual >= limit
    sign = ("<=" if passed else ">") if is_max else (">=" if passed else "<")
    return passed, f"{actual:{digits}} {sign} {limit:g}"


def _check_llm(scope: str, row: dict[str, Any] | None, metric: str, bounds: dict[str, Any]) -> list[Verdict]:
    """Bounds on one token-stream figure of ``row["llm"]`` (module docstring)."""
    llm = (row or {}).get("llm")
    verdicts = []
    for bound, limit in bounds.items():
        if limit is None:
            continue
        name = f"{metric} {bound}"
        if metric in LLM_BOUNDS:
            actual, is_max = value_at(llm, LLM_BOUNDS[metric]), bound == "max"
        else:
            actual, is_max = value_at(llm, f"{metric}.{bound}"), True
        if llm is None:
            verdicts.append(Verdict(scope, name, float(limit), None, False, "no token streams"))
            continue
        if actual is None and metric in ("goodput_rps", "slo_attainment_pct"):
            verdicts.append(Verdict(scope, name, float(limit), None, False, "no SLO set (llm.slo in the config)"))
            continue
        passed, reason = within(actual, limit, is_max)
        verdicts.append(Verdict(scope, name, float(limit), actual, passed, reason))
    return verdicts


def _check(scope: str, row: dict[str, Any] | None, limits: dict[str, Any]) -> list[Verdict]:
    verdicts = []
    for metric, limit in limits.items():
        if metric in LLM_BOUNDS or metric in LLM_LATENCIES:
            verdicts += _check_llm(scope, row, metric, limit)
            continue
        field, is_max = METRICS[metric]
        actual = value_at(row, field)
        passed, reason = within(actual, limit, is_max)
        verdicts.append(Verdict(scope, metric, float(limit), actual, passed, reason))
    return verdicts


def evaluate(summary: dict[str, Any], rules: dict[str, Any]) -> list[Verdict]:
    """Every verdict of ``rules`` (as built by :func:`merge_rules`) on ``summary``."""
    total = summary["total"]
    verdicts = []
    if not total["requests"]:
        verdicts.append(Verdict("global", "requests", 1, 0, False, "no requests were made"))
    whole = {**total, "llm": summary["llm"]} if "llm" in summary else total  # the run's token figures
    verdicts += _check("global", whole, rules.get("global", {}))
    for protocol, limits in rules.get("protocols", {}).items():
        verdicts += _check(f"protocol {protocol}", summary["protocols"].get(protocol), limits)
    rows = {f"{r['request_type']} {r['name']}": r for r in summary["endpoints"]}
    for endpoint, limits in rules.get("endpoints", {}).items():
        verdicts += _check(f"endpoint {endpoint}", rows.get(endpoint), limits)
    if rules.get("recovery"):
        verdicts.append(check_recovery(summary, rules["recovery"]))
    verdicts += check_resources(summary, rules.get("resources") or {})
    verdicts += check_custom(summary, rules.get("custom") or {})
    if summary.get("aborted"):
        verdicts.append(Verdict("abort", "abort", 0, None, False, f"run aborted: {summary['aborted']}"))
    return verdicts
