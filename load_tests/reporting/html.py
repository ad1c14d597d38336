"""The HTML report: one self-contained file. Interactive charts (uPlot and the data inline, see
reporting/interactive.py) and the PNG charts inlined as data: no CDN, no web fonts, no request anywhere."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from load_tests.core.request_types import is_facet
from load_tests.core.thresholds import value_at
from load_tests.reporting.interactive import LLM_FIGURES, llm_rows, script_block
from load_tests.reporting.text import corrected_label, custom_figures, window_line

COLUMNS = (("requests", "reqs", 0), ("failures", "fails", 0), ("error_rate_pct", "err %", 2), ("rps", "RPS", 2),
           ("avg_ms", "avg", 1), ("min_ms", "min", 1), ("p50_ms", "p50", 1), ("p90_ms", "p90", 1),
           ("p95_ms", "p95", 1), ("p99_ms", "p99", 1), ("p99_9_ms", "p99.9", 1), ("max_ms", "max", 1))  # fmt: skip
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


CORRECTED = (("corrected.p50_ms", "corrected p50", 1), ("corrected.p95_ms", "corrected p95", 1),
             ("corrected.p99_ms", "corrected p99", 1), ("corrected.max_ms", "corrected max", 1))  # fmt: skip


def _table(rows: list[tuple[str, dict[str, Any], bool]]) -> Markup:
    columns = COLUMNS + CORRECTED if any(row.get("corrected") for _, row, _ in rows) else COLUMNS
    head = "".join(f"<th>{label}</th>" for _, label, _ in columns)
    body = []
    for label, row, facet in rows:
        css = "facet" if facet else ("fail" if row.get("failures") else "")
        cells = "".join(f"<td>{fmt(value_at(row, key), digits)}</td>" for key, _, digits in columns)
        body.append(f'<tr class="{css}"><td>{Markup.escape(label)}</td>{cells}</tr>')
    return Markup(f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>")


def render_html(summary: dict[str, Any], charts: dict[str, bytes], comparison: dict[str, Any] | None = None) -> str:
    verdicts = summary.get("thresholds", {}).get("verdicts", [])
    endpoint_rows = [(f"{r['request_type']} {r['name']}", r, is_facet(r["request_type"])) for r in summary["endpoints"]]
    protocol_rows = [(name, row, False) for name, row in summary["protocols"].items()]
    protocol_rows.append(("TOTAL", summary["total"], False))
    return _env.get_template("report.html.j2").render(
        s=summary,
        passed=summary.get("thresholds", {}).get("passed", False),
        failed=[v for v in verdicts if not v["passed"]],
        table=_table,
        fmt=fmt,
        endpoint_rows=endpoint_rows,
        protocol_rows=protocol_rows,
        streams=[r for r in summary["endpoints"] if r.get("stream")],
        failures=[(r, kind, n) for r in summary["endpoints"] for kind, n in r["failures_by_type"].items()],
        charts={name: base64.b64encode(png).decode("ascii") for name, png in charts.items()},
        comparison=comparison,
        res=summary.get("resources"),
        custom=summary.get("custom") or {},
        cap=summary.get("capacity"),
        custom_figures=custom_figures,
        pacing=summary.get("pacing"),
        window_line=window_line(summary),
        corrected_label=corrected_label(summary["total"]),
        validity=summary.get("validity") or {"valid": True, "reasons": []},
        lost_workers=(summary.get("workers") or {}).get("lost", []),
        interactive=script_block(summary),
        llm_rows=llm_rows(summary),
        llm_figures=LLM_FIGURES,
    )
