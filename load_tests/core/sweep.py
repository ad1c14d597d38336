"""The sweep's figures: one point per load (arrival rate or users), the knee, and the table.

``--sweep rates=1,2,4,8`` runs the scenario once per rate (``users=`` for concurrency), lowest
first, and stops after the first point that saturated. Each point keeps the run's headline figures:
for LLM runs (the summary's ``llm`` section) total output tokens/s, the median per-request output
tokens/s (what one user sees) and TTFT p99; for any other protocol requests/s and p99 (the
corrected p99 for open-model load, since queueing in the generator is part of what a user waits).

**Saturated**: the run stopped early on ``stop_when``, or was invalid because the rate was not achieved
(iterations dropped), or failed more than ``SATURATED_ERROR_PCT`` of its requests.

**The knee** is the last point before the service stops scaling. Walking up from the lowest load,
point ``i`` still scales when all hold:

1. its throughput grew by at least ``MIN_GAIN`` (half) of the load's relative growth:
   ``tput_i >= tput_{i-1} * (1 + 0.5 * (load_i / load_{i-1} - 1))``;
2. its latency (TTFT p99, or p99) is at most ``MAX_LATENCY_FACTOR`` (3) times the lowest load's;
3. it did not saturate.

The knee is the last point of that unbroken climb; when every point scales it is the highest one, and
the table says the sweep did not reach saturation. Pure: no I/O, no clock.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from load_tests.core.errors import ConfigError

MIN_GAIN = 0.5
MAX_LATENCY_FACTOR = 3.0
SATURATED_ERROR_PCT = 50.0
MAX_POINTS = 50
DIMENSIONS = {"rate": "rate", "rates": "rate", "users": "users", "user": "users"}


def parse_sweep(text: str, where: str = "--sweep") -> tuple[str, list[float]]:
    """``rates=1,2,4,8`` -> ("rate", [1, 2, 4, 8]); ``users=10,20`` -> ("users", [10, 20])."""
    name, _, values = str(text).partition("=")
    dimension = DIMENSIONS.get(name.strip().lower())
    if dimension is None or not values.strip():
        raise ConfigError(f"{where}: {text!r} is not a sweep (use rates=1,2,4,8 or users=10,20,40)")
    loads = []
    for item in values.split(","):
        try:
            value = float(item)
        except ValueError:
            raise ConfigError(f"{where}: {item.strip()!r} is not a number") from None
        if not math.isfinite(value) or value <= 0 or (dimension == "users" and value != int(value)):
            raise ConfigError(f"{where}: {item.strip()!r} must be a positive {'whole ' * (dimension == 'users')}number")
        loads.append(value)
    if loads != sorted(set(loads)):
        raise ConfigError(f"{where}: give the {dimension} values in rising order, each once")
    if len(loads) > MAX_POINTS:
        raise ConfigError(f"{where}: {len(loads)} points; at most {MAX_POINTS}")
    return dimension, loads


def _get(data: Any, *path: str) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def is_saturated(summary: dict[str, Any]) -> str | None:
    """Why the run counts as saturated, or None."""
    if summary.get("saturated"):
        return str(summary["saturated"])
    for reason in _get(summary, "validity", "reasons") or []:
        if "rate not achieved" in reason:
            return str(reason)
    errors = _get(summary, "total", "error_rate_pct") or 0.0
    if errors > SATURATED_ERROR_PCT:
        return f"{errors:.1f}% of requests failed"
    return None


def sweep_point(load: float, summary: dict[str, Any] | None, exit_code: int) -> dict[str, Any]:
    """The figures of one run of the sweep (None where the run wrote no summary)."""
    summary = summary or {}
    llm = summary.get("llm") or None
    total = summary.get("total") or {}
    corrected = _get(total, "corrected", "p99_ms")
    point = {
        "load": load, "exit_code": exit_code, "llm": bool(llm),
        "rps": total.get("rps"), "error_rate_pct": total.get("error_rate_pct"),
        "p50_ms": total.get("p50_ms"), "p99_ms": corrected if corrected is not None else total.get("p99_ms"),
        "achieved_rate": _get(summary, "pacing", "achieved_rate"),
        "output_tokens_per_s": _get(llm, "output_tokens_per_s"),
        "per_user_tokens_per_s": _get(llm, "request_output_tokens_per_s", "p50"),
        "ttft_p99_ms": _get(llm, "ttft_ms", "p99"), "tpot_p50_ms": _get(llm, "tpot_ms", "p50"),
        "saturated": is_saturated(summary) if summary else "no summary",
    }  # fmt: skip
    point["throughput"] = point["output_tokens_per_s"] if llm else point["rps"]
    point["latency_ms"] = point["ttft_p99_ms"] if llm else point["p99_ms"]
    return point


def find_knee(points: list[dict[str, Any]]) -> int | None:
    """Index of the knee (see the module's docstring), or None when even the lowest load saturated."""
    if not points or points[0]["saturated"] or points[0]["throughput"] is None:
        return None
    base_latency = points[0]["latency_ms"]
    knee = 0
    for i in range(1, len(points)):
        prev, cur = points[i - 1], points[i]
        if cur["saturated"] or cur["throughput"] is None:
            break
        wanted = prev["throughput"] * (1 + MIN_GAIN * (cur["load"] / prev["load"] - 1))
        slow = base_latency and cur["latency_ms"] is not None and cur["latency_ms"] > MAX_LATENCY_FACTOR * base_latency
        if cur["throughput"] < wanted or slow:
            break
        knee = i
    return knee


COLUMNS = (
    ("load", "{:g}"), ("throughput", "{:.1f}"), ("latency_ms", "{:.1f}"), ("rps", "{:.1f}"),
    ("achieved_rate", "{:.1f}"), ("p50_ms", "{:.1f}"), ("p99_ms", "{:.1f}"), ("error_rate_pct", "{:.2f}"),
    ("output_tokens_per_s", "{:.1f}"), ("per_user_tokens_per_s", "{:.1f}"), ("ttft_p99_ms", "{:.1f}"),
    ("tpot_p50_ms", "{:.2f}"), ("exit_code", "{}"),
)  # fmt: skip


def _cell(value: Any, form: str) -> str:
    return "" if value is None else form.format(value)


def table_csv(points: list[dict[str, Any]], knee: int | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS] + ["knee", "saturated"])
    for i, p in enumerate(points):
        writer.writerow([_cell(p[n], f) for n, f in COLUMNS] + ["yes" if i == knee else "", p["saturated"] or ""])
    return out.getvalue()


def table_markdown(points: list[dict[str, Any]], knee: int | None, dimension: str) -> str:
    """The table a reader sees first, with the knee marked and the definitions named."""
    llm = any(p["llm"] for p in points)
    tput, lat = ("output tok/s", "TTFT p99 ms") if llm else ("req/s", "p99 ms")
    head = [dimension, tput, lat, "per-user tok/s" if llm else "errors %", "saturated"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, p in enumerate(points):
        third = p["per_user_tokens_per_s"] if llm else p["error_rate_pct"]
        mark = " **(knee)**" if i == knee else ""
        cells = [f"{p['load']:g}{mark}", _cell(p["throughput"], "{:.1f}"), _cell(p["latency_ms"], "{:.1f}"),
                 _cell(third, "{:.1f}" if llm else "{:.2f}"), p["saturated"] or "no"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    if knee is None:
        verdict = "No knee: the lowest load already saturated."
    elif knee == len(points) - 1 and not points[-1]["saturated"]:
        verdict = f"Knee at the highest {dimension} tried ({points[knee]['load']:g}): saturation not reached."
    else:
        verdict = f"Knee at {dimension} {points[knee]['load']:g}: the last load before the service stopped scaling."
    rule = (f"Knee: the last load whose throughput still grew by at least {MIN_GAIN:.0%} of the load's growth, "
            f"with {lat} within {MAX_LATENCY_FACTOR:g}x the lowest load's, unsaturated.")  # fmt: skip
    return "\n".join([*lines, "", verdict, rule]) + "\n"


def sweep_exit_code(points: list[dict[str, Any]], knee: int | None) -> int:
    """The worst exit code up to the knee (beyond it failing is the point), or the first run's without one."""
    if not points:
        return 0
    interrupted = [p["exit_code"] for p in points if p["exit_code"] >= 128]
    if interrupted:
        return int(interrupted[0])
    upto = points[: (knee if knee is not None else 0) + 1]
    return max(p["exit_code"] for p in upto)
