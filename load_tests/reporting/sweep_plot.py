"""The sweep's trade-off plot (PNG): what the service gives in total against what each user gets.

Left: total throughput (output tokens/s for LLM runs, requests/s otherwise) against the per-user
speed (median output tokens/s of a request) for LLM runs, or against the offered load otherwise.
Right: the latency users feel (TTFT p99, or p99) against total throughput. One point per load,
labelled with it; the knee (core/sweep.py) is the red star. Reading it: up and to the right is better
on the left panel; the points bend where adding load stops adding throughput and starts costing each
user speed and latency, and the knee is the last point before that bend.
"""

from __future__ import annotations

import io
from typing import Any

from load_tests.reporting.charts import subplots


def _panel(ax: Any, points: list[dict[str, Any]], x: str, y: str, knee: int | None, labels: tuple[str, str]) -> None:
    shown = [p for p in points if p.get(x) is not None and p.get(y) is not None]
    ax.plot([p[x] for p in shown], [p[y] for p in shown], "o-", color="#1f77b4")
    for p in shown:
        ax.annotate(f"{p['load']:g}", (p[x], p[y]), textcoords="offset points", xytext=(5, 5), fontsize=8)
        if p["saturated"]:
            ax.plot(p[x], p[y], "x", color="#d62728", markersize=9)
    if knee is not None and points[knee].get(x) is not None and points[knee].get(y) is not None:
        ax.plot(points[knee][x], points[knee][y], "*", color="#d62728", markersize=16, label="knee")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.grid(alpha=0.3)


def sweep_png(points: list[dict[str, Any]], knee: int | None, dimension: str) -> bytes:
    llm = any(p["llm"] for p in points)
    tput = "total output tokens/s" if llm else "requests/s"
    fig, (left, right) = subplots(1, 2, figsize=(12.0, 4.8))
    if llm:
        _panel(left, points, "per_user_tokens_per_s", "throughput", knee, ("per-user output tokens/s (median)", tput))
    else:
        _panel(left, points, "load", "throughput", knee, (dimension, tput))
    _panel(right, points, "throughput", "latency_ms", knee, (tput, "TTFT p99 (ms)" if llm else "p99 (ms)"))
    fig.suptitle(f"Sweep of {dimension}: each point is one run, labelled with its {dimension}; x = saturated")
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()
