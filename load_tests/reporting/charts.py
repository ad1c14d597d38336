"""Charts of a run summary as PNG files (matplotlib, Agg backend: no display, no fonts from the web)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

WIDTH_IN, DPI = 10.0, 110


def _label(row: dict[str, Any]) -> str:
    return f"{row['request_type']} {row['name']}"[:48]


def subplots(*grid: int, figsize: tuple[float, float], **options: Any) -> tuple[Figure, Any]:
    """``pyplot.subplots`` without pyplot: a bare Figure renders to PNG through the Agg canvas, and
    importing pyplot (its figure managers and backend machinery) costs about 0.3 s more per process."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **options)


def _save(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _bars(rows: list[dict[str, Any]], series: list[tuple[str, str]], title: str, unit: str, empty: str = "") -> bytes:
    """Horizontal bars, one group per endpoint, one bar per (field, legend) in ``series``."""
    rows = list(reversed(rows))
    fig, ax = subplots(figsize=(WIDTH_IN, max(2.5, 0.38 * len(rows) + 1.2)))
    height = 0.8 / max(len(series), 1)
    for i, (field, legend) in enumerate(series):
        values = [row.get(field) or 0.0 for row in rows]
        ax.barh([y + i * height for y in range(len(rows))], values, height=height, label=legend)
    ax.set_yticks([y + height * (len(series) - 1) / 2 for y in range(len(rows))], [_label(r) for r in rows], fontsize=8)
    ax.set_xlabel(unit)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    if not any(row.get(field) for row in rows for field, _ in series):  # all zero: an axis from 0, said in words
        ax.set_xlim(0, 1)
        ax.text(0.5, 0.5, empty or f"all 0 {unit}", transform=ax.transAxes, ha="center", va="center", fontsize=12,
                color="grey")  # fmt: skip
    else:  # these figures are never negative: matplotlib would otherwise pad below 0
        ax.set_xlim(left=0)
    if len(series) > 1:
        ax.legend(loc="lower right", fontsize=8)
    return _save(fig)


def _timed(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in summary["endpoints"] if r.get("p50_ms") is not None]


def response_time_by_endpoint(summary: dict[str, Any]) -> bytes:
    return _bars(_timed(summary), [("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")],
                 "Response time by endpoint", "ms")  # fmt: skip


def p95_response_time(summary: dict[str, Any]) -> bytes:
    rows = sorted(_timed(summary), key=lambda r: -(r["p95_ms"] or 0))
    return _bars(rows, [("p95_ms", "p95")], "p95 response time (slowest first)", "ms")


def error_rate_by_endpoint(summary: dict[str, Any]) -> bytes:
    return _bars(summary["endpoints"], [("error_rate_pct", "error rate")], "Error rate by endpoint", "% of requests",
                 empty="No request failed: 0 % on every endpoint")  # fmt: skip


def latency_over_time(summary: dict[str, Any], compare: dict[str, Any] | None = None) -> bytes | None:
    fig, ax = subplots(figsize=(WIDTH_IN, 3.6))
    for data, prefix, style in ((summary, "", "-"), (compare, "old ", "--")):
        if not data:
            continue
        points = [p for p in data.get("timeline", []) if p.get("p95_ms") is not None]
        t = [p["t_s"] for p in points]
        ax.plot(t, [p["p50_ms"] for p in points], style, label=f"{prefix}p50")
        ax.plot(t, [p["p95_ms"] for p in points], style, label=f"{prefix}p95")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("ms")
    ax.set_title("Latency over time (all requests, per second)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig)


def rps_users_over_time(summary: dict[str, Any], compare: dict[str, Any] | None = None) -> bytes | None:
    fig, ax = subplots(figsize=(WIDTH_IN, 3.6))
    users_ax = ax.twinx()
    for data, prefix, style in ((summary, "", "-"), (compare, "old ", "--")):
        if not data:
            continue
        points = data.get("timeline", [])
        t = [p["t_s"] for p in points]
        ax.plot(t, [p["rps"] for p in points], style, label=f"{prefix}requests/s")
        ax.plot(t, [p["failures_per_s"] for p in points], style, label=f"{prefix}failures/s")
        users_ax.plot(t, [p["users"] for p in points], style, color="grey", label=f"{prefix}users")
    ax.set_xlabel("seconds since start")
    ax.set_ylim(bottom=0)
    users_ax.set_ylim(bottom=0)
    ax.set_ylabel("per second")
    users_ax.set_ylabel("users")
    ax.set_title("Throughput and users over time")
    ax.grid(alpha=0.3)
    lines = ax.get_legend_handles_labels()
    more = users_ax.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    return _save(fig)


def _plot_series(ax: Any, series: dict[str, list[list[float]]], names: list[str], label: Any = None) -> None:
    for name in names:
        points = series[name]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=label(name) if label else name)
    if names:
        ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)


def resources_over_time(summary: dict[str, Any], compare: dict[str, Any] | None = None) -> bytes | None:
    """p95 latency on top, then CPU, memory, scraped metrics and GPU on the same time axis."""
    resources = summary.get("resources") or {}
    series = resources.get("series") or {}
    if not series:
        return None
    cpu = sorted(n for n in series if n.endswith(".cpu_percent"))
    rss = sorted(n for n in series if n.endswith(".rss_mb"))
    kinds = (resources.get("metrics") or {}).get("kinds") or {}
    gauges = sorted(n for n in series if n.startswith("metrics.") and kinds.get(n[len("metrics.") :]) != "rate")
    rates = sorted(n for n in series if n.startswith("metrics.") and n not in gauges)
    gpu = sorted(n for n in series if n.startswith("gpu"))
    panels = [p for p in (("CPU (% of one core)", cpu), ("RSS (MB)", rss), ("scraped gauges", gauges),
                          ("scraped rates (/s)", rates), ("GPU", gpu)) if p[1]]  # fmt: skip
    fig, axes = subplots(len(panels) + 1, 1, figsize=(WIDTH_IN, 2.2 * (len(panels) + 1)), sharex=True)
    points = [p for p in summary.get("timeline", []) if p.get("p95_ms") is not None]
    axes[0].plot([p["t_s"] for p in points], [p["p95_ms"] for p in points], label="p95 latency (ms)")
    axes[0].legend(fontsize=7, loc="upper left")
    axes[0].grid(alpha=0.3)
    axes[0].set_title("Resources beside latency")
    for ax, (title, names) in zip(axes[1:], panels, strict=True):
        _plot_series(ax, series, names, lambda n: n.removeprefix("metrics."))
        ax.set_ylabel(title, fontsize=8)
    axes[-1].set_xlabel("seconds since start")
    return _save(fig)


CHARTS = {
    "response_time_by_endpoint.png": response_time_by_endpoint,
    "p95_response_time.png": p95_response_time,
    "error_rate_by_endpoint.png": error_rate_by_endpoint,
}
TIME_CHARTS = {
    "latency_over_time.png": latency_over_time,
    "rps_users_over_time.png": rps_users_over_time,
    "resources_over_time.png": resources_over_time,
}


def capacity_curve(summary: dict[str, Any]) -> bytes | None:
    """Throughput and p95 against users, one point per judged step, with the knee marked: the last
    step that held (the peak capacity) and the step that broke the thresholds."""
    result = summary.get("capacity")
    if not result or not result.get("steps"):
        return None
    steps = result["steps"]
    users = [s["load"] for s in steps]
    unit = result.get("unit", "users")
    fig, ax = subplots(figsize=(WIDTH_IN, 4.2))
    ax.plot(users, [s["rps"] for s in steps], "o-", color="tab:blue", label="requests/s (all)")
    ax.set_xlabel(f"{unit} (step)")
    ax.set_ylabel("requests/s", color="tab:blue")
    right = ax.twinx()
    right.plot(users, [s["p95_ms"] or 0.0 for s in steps], "s-", color="tab:orange", label="p95 ms (all)")
    for name in sorted({p for s in steps for p in s["protocols"]}) if len(steps[0]["protocols"]) > 1 else []:
        right.plot(users, [(s["protocols"].get(name) or {}).get("p95_ms") or 0.0 for s in steps], ":",
                   label=f"p95 ms {name}")  # fmt: skip
    right.set_ylabel("p95 ms", color="tab:orange")
    right.set_ylim(bottom=0)
    ax.set_ylim(bottom=0)
    peak, broke = result.get("peak"), result.get("broke")
    if peak:
        ax.axvline(peak["load"], color="tab:green", linestyle="--")
        ax.annotate(f"knee: {peak['load']:g} {unit}\n{peak['rps']:.0f} req/s", (peak["load"], peak["rps"]),
                    textcoords="offset points", xytext=(8, -30), fontsize=8, color="tab:green")  # fmt: skip
    if broke:
        ax.axvline(broke["load"], color="tab:red", linestyle=":")
        ax.annotate(f"broke: {broke['load']:g} {unit}", (broke["load"], broke["rps"]), textcoords="offset points",
                    xytext=(-80, -20), fontsize=8, color="tab:red")  # fmt: skip
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles, [str(h.get_label()) for h in handles], loc="upper left", fontsize=8)
    ax.set_title(
        "Capacity: throughput and p95 per step" + (" (generator saturated)" if result.get("saturated") else "")
    )
    ax.grid(alpha=0.3)
    return _save(fig)


def render_all(summary: dict[str, Any], compare: dict[str, Any] | None = None) -> dict[str, bytes]:
    """Every chart as {file name: PNG bytes}; time charts overlay ``compare`` when given."""
    charts = {name: draw(summary) for name, draw in CHARTS.items()}
    curve = capacity_curve(summary)
    if curve is not None:
        charts["capacity_curve.png"] = curve
    for name, draw in TIME_CHARTS.items():
        png = draw(summary, compare)
        if png is not None:  # no resource series (an old summary): no chart
            charts[name] = png
    return charts


def write_all(charts: dict[str, bytes], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, png in charts.items():
        (folder / name).write_bytes(png)
        paths.append(folder / name)
    return paths
