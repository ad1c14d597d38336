"""Before/after comparison of two run summaries, judged by a statistical test, not by eye.

For each endpoint and protocol present in both runs, p50/p95/p99, error rate and RPS are shown with
absolute and relative deltas. The verdict rests on a distribution-free interval of the p95 difference
(order statistics of the two exact HDR histograms the summaries carry, see
:mod:`load_tests.reporting.quantiles`) and a two-proportion test on the error rates: a row is
*regressed* only when the whole interval lies beyond the tolerance (relative and absolute, so
sub-millisecond jitter is not a regression) or the error rate rose significantly beyond its
tolerance; *improved* mirrors that; anything else is *unchanged*, noise included.

A row is judged only when both runs have at least :func:`min_samples_for` timed requests (86 at the
default 95 % confidence): below that no interval of the p95 reaches the confidence asked for, whatever
the data, so the row says ``too few samples (n=1 now; ...)`` and never fails the gate. The warm-up can be left
out of both runs with ``settle_s`` (see :mod:`load_tests.reporting.settle`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from load_tests.core.summary import decode_histogram
from load_tests.reporting.quantiles import min_samples, quantile_interval
from load_tests.reporting.settle import settled

FIGURES = ("p50_ms", "p95_ms", "p99_ms", "error_rate_pct", "rps")
VERDICTS = ("regressed", "improved", "unchanged", "too_few")
TOO_FEW = "too_few"


@dataclass(frozen=True)
class Tolerance:
    latency_pct: float = 10.0  # p95 must move more than this (relative) ...
    latency_ms: float = 2.0  # ... and more than this (absolute) to count
    error_rate_pct: float = 1.0  # percentage points
    confidence: float = 0.95
    settle_s: float = 0.0  # leave out the first seconds of both runs (warm-up), see reporting/settle.py


def per_run_level(confidence: float) -> float:
    """Each run's p95 interval is taken at 1 - (1 - confidence) / 2, so that both hold together with
    probability >= ``confidence`` (Bonferroni) and so does the difference interval built from them."""
    return 1.0 - (1.0 - confidence) / 2.0


def min_samples_for(confidence: float) -> int:
    """Timed requests each run needs before its p95 can be judged (86 at 95 % confidence)."""
    return min_samples(0.95, per_run_level(confidence))


def _samples(row: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """(values in ms, counts) of a row's histogram, or None when it has no timed requests."""
    if not row.get("histogram"):
        return None
    histogram = decode_histogram(row["histogram"])
    values, counts = [], []
    for item in histogram.get_recorded_iterator():
        values.append(item.value_iterated_to / 1000.0)
        counts.append(item.count_at_value_iterated_to)
    return np.asarray(values), np.asarray(counts, dtype=np.int64)


def timed_count(row: dict[str, Any]) -> int:
    return int(row.get("requests") or 0) - int(row.get("no_reply") or 0) if row.get("histogram") else 0


def p95_difference_interval(old: dict[str, Any], new: dict[str, Any], tol: Tolerance) -> tuple[float, float] | None:
    """Interval of new p95 - old p95 (ms) at ``tol.confidence``; None when either side has too few samples.

    Each run's p95 gets an order-statistic interval at :func:`per_run_level`; the difference lies in
    [new low - old high, new high - old low] whenever both hold.
    """
    a, b = _samples(old), _samples(new)
    if a is None or b is None:
        return None
    level = per_run_level(tol.confidence)
    old_ci, new_ci = quantile_interval(*a, 0.95, level), quantile_interval(*b, 0.95, level)
    if old_ci is None or new_ci is None:
        return None
    return new_ci[0] - old_ci[1], new_ci[1] - old_ci[0]


def _error_rate_shift(old: dict[str, Any], new: dict[str, Any], tol: Tolerance) -> int:
    """+1 if the error rate rose significantly beyond tolerance, -1 if it fell so, else 0."""
    n1, n2 = old["requests"], new["requests"]
    if not n1 or not n2:
        return 0
    p1, p2 = old["failures"] / n1, new["failures"] / n2
    if abs(p2 - p1) * 100 <= tol.error_rate_pct:
        return 0
    pooled = (old["failures"] + new["failures"]) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)) or 1e-12
    z = (p2 - p1) / se
    return (1 if z > 0 else -1) if abs(z) > 2.576 else 0  # 99 % two-sided


def _too_few(old: dict[str, Any], new: dict[str, Any], tol: Tolerance) -> str | None:
    """The reason a row cannot be judged, or None when both runs have enough timed requests."""
    need = min_samples_for(tol.confidence)
    n_old, n_new = timed_count(old), timed_count(new)
    if n_old >= need and n_new >= need:
        return None
    counts = ", ".join(f"n={n} {side}" for n, side in ((n_old, "before"), (n_new, "now")) if n < need)
    return f"too few samples ({counts}; at least {need} per run are needed for a {tol.confidence:.0%} p95 interval)"


def compare_rows(
    scope: str, old: dict[str, Any], new: dict[str, Any], tol: Tolerance, noise_ms: float | None = None
) -> dict[str, Any]:
    """``noise_ms``: how far this row's p95 moved between repeats of the old run (``--repeat``); a
    change must also exceed it. A row with too few timed samples is ``too_few``: its p95 is not judged,
    and its error rate only when both runs made as many requests (a row whose calls all failed untimed)."""
    too_few = _too_few(old, new, tol)
    interval = None if too_few else p95_difference_interval(old, new, tol)
    base = old.get("p95_ms") or 0.0
    threshold = max(tol.latency_ms, base * tol.latency_pct / 100.0, noise_ms or 0.0)
    verdict, reasons = (TOO_FEW, [too_few]) if too_few else ("unchanged", [])
    if interval is not None:
        low, high = interval
        if low > threshold:
            verdict = "regressed"
            reasons.append(f"p95 up {low:.1f}..{high:.1f} ms ({tol.confidence:.0%} CI) > {threshold:.1f} ms")
        elif high < -threshold:
            verdict = "improved"
            reasons.append(f"p95 down {-high:.1f}..{-low:.1f} ms ({tol.confidence:.0%} CI) > {threshold:.1f} ms")
    enough = min(old.get("requests") or 0, new.get("requests") or 0) >= min_samples_for(tol.confidence)
    shift = _error_rate_shift(old, new, tol) if enough else 0  # untimed failures still count here
    if shift > 0:
        verdict = "regressed"
        reasons.append(f"error rate {old['error_rate_pct']:.2f}% -> {new['error_rate_pct']:.2f}%")
    elif shift < 0 and verdict != "regressed":
        verdict = "improved"
        reasons.append(f"error rate {old['error_rate_pct']:.2f}% -> {new['error_rate_pct']:.2f}%")
    delta = {k: (new[k] - old[k]) if new.get(k) is not None and old.get(k) is not None else None for k in FIGURES}
    delta_pct = {k: (100.0 * d / old[k]) if (d := delta[k]) is not None and old[k] else None for k in FIGURES}
    return {
        "scope": scope,
        "verdict": verdict,
        "reason": ("; ".join(reasons) or "within noise and tolerance")
        + (f" (tolerance includes the p95 range of the baseline's repeats, {noise_ms:.1f} ms)" if noise_ms else ""),
        "old": {k: old.get(k) for k in FIGURES},
        "new": {k: new.get(k) for k in FIGURES},
        "delta": delta,
        "delta_pct": delta_pct,
        "p95_diff_ci_ms": interval,
        "threshold_ms": threshold,
        "samples": [timed_count(old), timed_count(new)],
        "noise_ms": noise_ms,
    }


def compare(
    old: dict[str, Any], new: dict[str, Any], tol: Tolerance | None = None, old_label: str = "old"
) -> dict[str, Any]:
    """Every common protocol and endpoint row judged improved / regressed / unchanged / too few samples."""
    tol = tol or Tolerance()
    old, new = settled(old, tol.settle_s), settled(new, tol.settle_s)
    spread = old.get("spread") or {}  # a baseline.json of --repeat: the p95 range its runs showed

    def noise(scope: str) -> float | None:
        return ((spread.get(scope) or {}).get("p95_ms") or {}).get("range")

    rows = []
    for protocol in sorted(set(old["protocols"]) & set(new["protocols"])):
        scope = f"protocol {protocol}"
        rows.append(compare_rows(scope, old["protocols"][protocol], new["protocols"][protocol], tol, noise(scope)))
    old_rows = {(r["request_type"], r["name"]): r for r in old["endpoints"]}
    for row in new["endpoints"]:
        key = (row["request_type"], row["name"])
        if key in old_rows:
            scope = f"{key[0]} {key[1]}"
            rows.append(compare_rows(scope, old_rows[key], row, tol, noise(scope)))
    rows += compare_llm(old.get("llm") or {}, new.get("llm") or {}, tol)
    rows += compare_slo(old.get("llm") or {}, new.get("llm") or {}, tol)
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    only_old = sorted(f"{t} {n}" for t, n in set(old_rows) - {(r["request_type"], r["name"]) for r in new["endpoints"]})
    return {"old_label": old_label, "rows": rows, "counts": counts, "regressed": counts["regressed"] > 0,
            "only_in_old": only_old, "tolerance": tol.__dict__, "noise_runs": old.get("spread_runs"),
            "min_samples": min_samples_for(tol.confidence), "settle_s": tol.settle_s,
            "custom": compare_custom(old.get("custom") or {}, new.get("custom") or {}, tol)}  # fmt: skip


LLM_LATENCIES = ("ttft_ms", "itl_ms", "tpot_ms")


def compare_llm(old: dict[str, Any], new: dict[str, Any], tol: Tolerance) -> list[dict[str, Any]]:
    """The run's token latencies (``summary["llm"]``) judged like rows: the order-statistic interval of the
    p95 difference from the exact histograms, and the same minimum of samples; scopes ``llm ttft_ms``,
    ``llm itl_ms``, ``llm tpot_ms``. A settle window does not reach them (they have no windows)."""
    rows = []
    for figure in LLM_LATENCIES:
        before, after = (_llm_row(side, figure) for side in (old, new))
        if before is not None and after is not None:
            rows.append(compare_rows(f"llm {figure}", before, after, tol))
    return rows


def _llm_row(llm: dict[str, Any], figure: str) -> dict[str, Any] | None:
    """A token figure as a row compare_rows can judge (no failures of its own: the requests' rows have them)."""
    encoded = (llm.get("histograms") or {}).get(figure)
    if not encoded:
        return None
    stats = llm[figure]
    count = decode_histogram(encoded).total_count
    return {"histogram": encoded, "p50_ms": stats["p50"], "p95_ms": stats["p95"], "p99_ms": stats["p99"],
            "requests": count, "failures": 0, "error_rate_pct": 0.0, "rps": None}  # fmt: skip


def compare_slo(old: dict[str, Any], new: dict[str, Any], tol: Tolerance) -> list[dict[str, Any]]:
    """SLO attainment (``llm.goodput``) judged like an error rate, the SLO misses standing for the failures:
    regressed when the share of requests missing an SLO rose by more than ``error_rate_pct`` points and
    significantly (the same two-proportion test), with at least the minimum of requests in both runs.
    Only runs judged against the same SLO are compared: attainment against another SLO means nothing."""
    before, after = old.get("goodput"), new.get("goodput")
    if not before or not after or before.get("slo") != after.get("slo"):
        return []
    sides = [{"requests": llm.get("requests") or 0, "failures": (llm.get("requests") or 0) - g["met"],
              "error_rate_pct": 100.0 - g["attainment_pct"]} for llm, g in ((old, before), (new, after))]  # fmt: skip
    need = min_samples_for(tol.confidence)
    n_old, n_new = sides[0]["requests"], sides[1]["requests"]
    shift = _error_rate_shift(sides[0], sides[1], tol) if min(n_old, n_new) >= need else None
    change = f"SLO attainment {before['attainment_pct']:.1f}% -> {after['attainment_pct']:.1f}%"
    verdict, reason = {None: (TOO_FEW, f"too few requests (n={n_old} before, n={n_new} now; at least {need} per run)"),
                       1: ("regressed", change), -1: ("improved", change),
                       0: ("unchanged", f"{change}: within noise and tolerance")}[shift]  # fmt: skip
    figures = [{**dict.fromkeys(FIGURES), "error_rate_pct": side["error_rate_pct"]} for side in sides]
    delta = {k: (figures[1][k] - figures[0][k]) if figures[0][k] is not None else None for k in FIGURES}
    return [{"scope": "llm slo_attainment_pct", "verdict": verdict, "reason": reason, "old": figures[0],
             "new": figures[1], "delta": delta, "delta_pct": dict.fromkeys(FIGURES), "p95_diff_ci_ms": None,
             "threshold_ms": 0.0, "samples": [n_old, n_new], "noise_ms": None,
             "goodput_rps": [before.get("goodput_rps"), after.get("goodput_rps")]}]  # fmt: skip


HEADLINE = {"counter": "per_second", "rate": "rate", "trend": "p95"}  # the figure a domain metric is compared by


def compare_custom(old: dict[str, Any], new: dict[str, Any], tol: Tolerance) -> list[dict[str, Any]]:
    """Domain metrics in both runs, by their headline figure. ``moved`` when the change is beyond the
    relative tolerance; informative, not part of the verdict (their noise is the user's to judge)."""
    rows = []
    for name in sorted(set(old) & set(new)):
        if old[name]["kind"] != new[name]["kind"]:
            continue
        figure = HEADLINE[old[name]["kind"]]
        before, after = old[name].get(figure), new[name].get(figure)
        pct = 100.0 * (after - before) / before if before and after is not None else None
        rows.append({"name": name, "kind": old[name]["kind"], "figure": figure, "old": before, "new": after,
                     "delta_pct": pct, "moved": pct is not None and abs(pct) > tol.latency_pct})  # fmt: skip
    return rows
