"""The LLM section of the text summary: token latencies, throughput and goodput of ``summary["llm"]``.

Figures are defined in load_tests/core/llm_metrics.py (vLLM's definitions). When any token count is an
estimate (no ``usage`` and no tokenizer), every count and rate says "(estimated)".
"""

from __future__ import annotations

from typing import Any

FIGURES = (
    ("ttft_ms", "TTFT (ms)"),
    ("ttst_ms", "Time to 2nd token (ms)"),
    ("itl_ms", "ITL (ms)"),
    ("tpot_ms", "TPOT (ms)"),
    ("e2e_ms", "E2E (ms)"),
    ("request_output_tokens_per_s", "Output tok/s per request"),
)
SOURCES = {
    "usage": "the server's usage",
    "tokenizer": "a local tokenizer",
    "estimate": "an estimate of ~4 characters per token",
    "messages": "one per message",
    "field": "a count field of each message",
    "mixed": "several sources",
}


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def estimated(llm: dict[str, Any]) -> str:
    """``" (estimated)"`` when any count of ``llm`` is an estimate, else nothing."""
    return " (estimated)" if llm.get("estimated") else ""


def goodput_line(llm: dict[str, Any]) -> str | None:
    goodput = llm.get("goodput")
    if not goodput:
        return None
    slo = ", ".join(f"{k} <= {v:g}" for k, v in goodput["slo"].items())
    return (f"Goodput: {goodput['goodput_rps']:.2f} req/s met every SLO ({slo}): "
            f"{goodput['attainment_pct']:.1f}% of {llm['requests']} requests")  # fmt: skip


def llm_lines(summary: dict[str, Any]) -> list[str]:
    """The section, or nothing for a run without token streams."""
    llm = summary.get("llm")
    if not llm:
        return []
    mark = estimated(llm)
    lines = [
        "",
        f"LLM token streams (token counts from {SOURCES.get(llm['count_source'], llm['count_source'])}"
        f"{', some estimated' if mark else ''}):",
        f"  requests {llm['requests']} ({llm['completed']} completed); tokens in {llm['input_tokens']}, "
        f"out {llm['output_tokens']}{mark}, of which reasoning {llm['reasoning_tokens']}",
        f"  throughput {llm['request_throughput']:.2f} req/s; output {llm['output_tokens_per_s']:.1f} tok/s{mark}; "
        f"total {llm['total_tokens_per_s']:.1f} tok/s{mark}",
        f"  {'':<26} {'mean':>9} {'p50':>9} {'p90':>9} {'p95':>9} {'p99':>9} {'max':>9}",
    ]
    for key, label in FIGURES:
        s = llm.get(key) or {}
        lines.append(f"  {label:<26} " + " ".join(f"{_fmt(s.get(k)):>9}" for k in ("mean", "p50", "p90", "p95",
                                                                                     "p99", "max")))  # fmt: skip
    good = goodput_line(llm)
    if good:
        lines.append(f"  {good}")
    rows = [r for r in summary.get("endpoints", []) if r.get("llm")]
    if len(rows) > 1:
        lines.append("  per row:       TTFT p50 / p99      ITL p50 / p99     TPOT p50   out tok/s")
        for r in rows:
            f = r["llm"]
            lines.append(
                f"    {r['request_type']} {r['name'][:40]}: {_fmt(f['ttft_ms']['p50'])} / {_fmt(f['ttft_ms']['p99'])}"
                f"   {_fmt(f['itl_ms']['p50'])} / {_fmt(f['itl_ms']['p99'])}   {_fmt(f['tpot_ms']['p50'])}"
                f"   {f['output_tokens_per_s']:.1f}{estimated(f)}"
            )
    lines.append("  (TTFT: send to first content chunk; ITL: each gap between content chunks; TPOT: (E2E - TTFT) / "
                 "(output tokens - 1); role-only and empty chunks are not tokens)")  # fmt: skip
    return lines
