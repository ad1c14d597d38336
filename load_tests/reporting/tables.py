"""CSV views of a run summary: one row per endpoint and protocol, the figures of the JSON summary."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

LLM_FIELDS = ["llm_requests", "llm_output_tokens", "llm_count_source", "llm_ttft_p50_ms", "llm_ttft_p99_ms",
              "llm_itl_p50_ms", "llm_itl_p99_ms", "llm_tpot_p50_ms", "llm_tpot_p99_ms", "llm_output_tokens_per_s",
              "llm_goodput_rps", "llm_slo_attainment_pct"]  # fmt: skip

FIELDS = ["protocol", "request_type", "name", "requests", "failures", "no_reply", "error_rate_pct", "rps", "min_ms",
          "avg_ms", "max_ms", "p50_ms", "p75_ms", "p90_ms", "p95_ms", "p99_ms", "p99_9_ms", "corrected_p50_ms",
          "corrected_p95_ms", "corrected_p99_ms", "corrected_max_ms", "stream_messages",
          "failures_by_type", *LLM_FIELDS]  # fmt: skip
# corrected_*: open-model load only, from the intended start of the iteration (empty otherwise)
# llm_*: rows with token streams only (core/llm_record.py); llm_count_source says whether counts are estimates


def rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    named = [*summary["endpoints"],
             *({"protocol": p, "request_type": "protocol", "name": p, **r} for p, r in summary["protocols"].items()),
             {"protocol": "all", "request_type": "", "name": "TOTAL", **summary["total"],
              "llm": summary.get("llm")}]  # fmt: skip
    for row in named:
        flat = {k: row.get(k) for k in FIELDS if k not in ("stream_messages", "failures_by_type")}
        corrected = row.get("corrected") or {}
        for key in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
            flat[f"corrected_{key}"] = corrected.get(key)
        flat["stream_messages"] = (row.get("stream") or {}).get("messages")
        flat["failures_by_type"] = "; ".join(f"{k}: {v}" for k, v in row["failures_by_type"].items())
        flat.update(_llm_cells(row.get("llm")))
        out.append(flat)
    return out


def _llm_cells(llm: dict[str, Any] | None) -> dict[str, Any]:
    if not llm:
        return {}
    goodput = llm.get("goodput") or {}
    cells = {"llm_requests": llm["requests"], "llm_output_tokens": llm["output_tokens"],
             "llm_count_source": llm["count_source"], "llm_output_tokens_per_s": llm["output_tokens_per_s"],
             "llm_goodput_rps": goodput.get("goodput_rps"),
             "llm_slo_attainment_pct": goodput.get("attainment_pct")}  # fmt: skip
    for figure in ("ttft", "itl", "tpot"):
        for p in ("p50", "p99"):
            cells[f"llm_{figure}_{p}_ms"] = llm[f"{figure}_ms"][p]
    return cells


def write_csv(summary: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows(summary))
    return path
