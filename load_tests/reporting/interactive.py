"""Interactive time-series charts for the HTML report: zoom by dragging, hover for values, fully offline.

The charts are drawn by uPlot (MIT, ``vendor/uPlot.iife.min.js``, about 50 kB, with its licence in
``vendor/LICENSE-uPlot``), embedded in the report with the data, so the file opens from a disk, an
artifact or an e-mail with no request to anywhere. Each chart here is plain data: a title, a unit, one
x axis (seconds since the start) and its series aligned on it (``None`` where a series has no point);
``templates/charts.js`` draws them. A chart with nothing to show carries ``empty``: the sentence the
report prints instead of an empty frame.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from markupsafe import Markup

VENDOR = Path(__file__).parent / "vendor"
TEMPLATES = Path(__file__).parent / "templates"
LLM_FIGURES = (("ttft_ms", "TTFT", "ms"), ("itl_ms", "ITL", "ms"), ("tpot_ms", "TPOT", "ms"))  # summary["llm"]


def _chart(key: str, title: str, unit: str, x: list[float], series: list[dict[str, Any]], **extra: Any) -> dict:
    return {"id": key, "title": title, "unit": unit, "x": x, "series": series, **extra}


def _aligned(named: dict[str, list[list[float]]]) -> tuple[list[float], list[dict[str, Any]]]:
    """Series of [t, value] pairs on one x axis: the union of their times, None where a series has none."""
    x = sorted({float(t) for points in named.values() for t, _ in points})
    index = {t: i for i, t in enumerate(x)}
    series = []
    for label, points in named.items():
        values: list[float | None] = [None] * len(x)
        for t, value in points:
            values[index[float(t)]] = value
        series.append({"label": label, "values": values})
    return x, series


def _timeline_charts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    points = summary.get("timeline") or []
    x = [p["t_s"] for p in points]
    charts = [
        _chart("latency", "Latency over time (all requests, per second)", "ms", x,
               [{"label": "p50", "values": [p.get("p50_ms") for p in points]},
                {"label": "p95", "values": [p.get("p95_ms") for p in points]}],
               empty=None if any(p.get("p95_ms") is not None for p in points) else "No timed request: no latency."),
        _chart("throughput", "Throughput and users", "/s", x,
               [{"label": "requests/s", "values": [p.get("rps") for p in points]},
                {"label": "users", "values": [p.get("users") for p in points], "scale": "users"}],
               empty=None if points else "No per-second data in this summary."),
    ]  # fmt: skip
    failed = sum(p.get("failures") or 0 for p in points)
    rate = [100.0 * p["failures"] / p["requests"] if p.get("requests") else None for p in points]
    per_s = [p.get("failures_per_s") for p in points]
    empty = None if failed else "No request failed: the error rate was 0 % throughout."
    series = [{"label": "error rate %", "values": rate}, {"label": "failures/s", "values": per_s, "scale": "fps"}]
    charts.append(_chart("errors", "Errors over time", "%", x, series, from_zero=True, empty=empty))
    return charts


def _endpoint_chart(summary: dict[str, Any]) -> dict[str, Any]:
    buckets = summary.get("endpoint_timeline") or []
    names = sorted({name for b in buckets for name in b["endpoints"]})
    named = {name: [[b["t_s"], b["endpoints"][name].get("p95_ms")] for b in buckets if name in b["endpoints"]]
             for name in names}  # fmt: skip
    x, series = _aligned(named)
    return _chart("endpoints", "p95 by endpoint (5 s windows)", "ms", x, series,
                  empty=None if series else "No per-endpoint windows in this summary.")  # fmt: skip


def _resource_charts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    resources = summary.get("resources") or {}
    all_series = resources.get("series") or {}
    panels = (("cpu", "CPU (% of one core)", "%", lambda n: n.endswith(".cpu_percent")),
              ("rss", "Memory (RSS)", "MB", lambda n: n.endswith(".rss_mb")),
              ("gpu", "GPU", "", lambda n: n.startswith("gpu")),
              ("metrics", "Scraped metrics", "", lambda n: n.startswith("metrics.")))  # fmt: skip
    charts = []
    for key, title, unit, wanted in panels:
        named = {name: points for name, points in sorted(all_series.items()) if wanted(name)}
        if not named and key in ("gpu", "metrics"):
            continue  # not asked for: the resources table says why
        x, series = _aligned(named)
        charts.append(_chart(f"res_{key}", title, unit, x, series, from_zero=True,
                             empty=None if series else "No samples of this resource in this run."))  # fmt: skip
    return charts


def _llm_charts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Token throughput and streams in flight per second (timeline points that carry them), when the run
    streamed tokens (``summary["llm"]``)."""
    if not summary.get("llm"):
        return []
    points = [p for p in summary.get("timeline") or [] if "output_tokens_per_s" in p or "llm_concurrency" in p]
    x = [p["t_s"] for p in points]
    series = [
        {"label": "output tokens/s", "values": [p.get("output_tokens_per_s") for p in points]},
        {"label": "streams in flight", "values": [p.get("llm_concurrency") for p in points], "scale": "streams"},
    ]
    return [
        _chart(
            "llm",
            "Tokens over time",
            "tokens/s",
            x,
            series if points else [],
            from_zero=True,
            empty=None if points else "This run has token figures (table above) but no per-second series.",
        )
    ]


def charts_of(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Every interactive chart of ``summary``, in report order."""
    return [*_timeline_charts(summary), _endpoint_chart(summary), *_resource_charts(summary), *_llm_charts(summary)]


def _num(value: Any, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


def _pick(figures: Any, key: str) -> Any:
    """``p50`` of a figure dict, whether keyed ``p50`` or ``p50_ms``."""
    return figures.get(key, figures.get(f"{key}_ms")) if isinstance(figures, dict) else None


def _llm_cells(llm: dict[str, Any]) -> list[str]:
    cells = [f"{_num(_pick(llm.get(k), 'p50'))} / {_num(_pick(llm.get(k), 'p95'))}" for k, _, _ in LLM_FIGURES]
    rate = llm.get("output_tokens_per_s")
    cells.append(_num(rate if not isinstance(rate, dict) else _pick(rate, "p50")))
    goodput = llm.get("goodput")
    if isinstance(goodput, dict):  # core/llm_record.py: goodput_rps, attainment_pct, slo
        slo = ", ".join(f"{k} {v}" for k, v in (goodput.get("slo") or {}).items())
        cells.append(f"{_num(goodput.get('goodput_rps'), 2)} req/s met every SLO "
                     f"({_num(goodput.get('attainment_pct'))} %){f'; SLO {slo}' if slo else ''}")  # fmt: skip
    else:
        cells.append("- (no SLO set)")
    return cells


def llm_rows(summary: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(scope, cells) of the run and of each endpoint with token metrics (issue 13), for the overview:
    TTFT, ITL and TPOT p50 / p95, output tokens/s and goodput. Empty when the summary has none."""
    rows = [("all", summary["llm"])] if summary.get("llm") else []
    rows += [(f"{r['request_type']} {r['name']}", r["llm"]) for r in summary.get("endpoints", []) if r.get("llm")]
    return [(scope, _llm_cells(llm)) for scope, llm in rows]


def _json_for_script(data: Any) -> str:
    """JSON that cannot end the <script> element it sits in."""
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "<\\!--")


def script_block(summary: dict[str, Any]) -> Markup:
    """The library, its stylesheet, the data and the drawing code, inline."""
    library = (VENDOR / "uPlot.iife.min.js").read_text(encoding="utf-8")
    css = (VENDOR / "uPlot.min.css").read_text(encoding="utf-8")
    code = (TEMPLATES / "charts.js").read_text(encoding="utf-8")
    data = _json_for_script(charts_of(summary))
    return Markup(
        f"<style>{css}</style>\n<script>{library}</script>\n"
        f'<script type="application/json" id="chart-data">{data}</script>\n<script>{code}</script>'
    )
