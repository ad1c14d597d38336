"""Merge run summaries exactly: the figures of the merge equal those of one run with all the data.

Possible because every row carries its HDR histogram (and streams their gap histogram) besides exact
counts, sums, minimum and maximum. Summaries of the same period (workers of one run) merge with the
longest traffic window; ``sequential=True`` (repeated runs) adds the windows, for rates.
"""

from __future__ import annotations

from typing import Any

from load_tests.core.llm_record import LlmRecord
from load_tests.core.recorder import EndpointRecord, Recorder
from load_tests.core.summary import build_summary, decode_histogram


def _record(row: dict[str, Any]) -> EndpointRecord:
    record = EndpointRecord(row["request_type"], row["name"])
    if row.get("histogram"):
        record.histogram = decode_histogram(row["histogram"])
    record.requests, record.failures, record.no_reply = row["requests"], row["failures"], row["no_reply"]
    timed = row["requests"] - row["no_reply"]
    record.total_ms = (row["avg_ms"] or 0.0) * timed
    record.min_ms, record.max_ms = row["min_ms"], row["max_ms"]
    record.failures_by_type = dict(row["failures_by_type"])
    stream = row.get("stream") or {}
    record.messages = stream.get("messages") or 0
    if stream.get("gaps_histogram"):
        record.gaps = decode_histogram(stream["gaps_histogram"])
    corrected = row.get("corrected") or {}
    if corrected.get("histogram"):
        record.corrected = decode_histogram(corrected["histogram"])
    if row.get("llm"):
        record.llm = LlmRecord.from_figures(row["llm"])
    return record


def merge_summaries(summaries: list[dict[str, Any]], *, sequential: bool = False) -> dict[str, Any]:
    """One summary of all rows of ``summaries``; metadata (scenario, services...) from the first."""
    if not summaries:
        raise ValueError("nothing to merge")
    recorder = Recorder()
    for summary in summaries:
        for row in summary["endpoints"]:
            record = _record(row)
            key = (record.request_type, record.name)
            if key in recorder.endpoints:
                recorder.endpoints[key].merge(record)
            else:
                recorder.endpoints[key] = record
    durations = [s["duration_s"] for s in summaries]
    windows = [window_of(s) for s in summaries]
    first = summaries[0]
    meta = {k: v for k, v in first.items() if k not in ("schema", "duration_s", "window_s", "environment", "total",
                                                        "protocols", "endpoints", "thresholds", "llm")}  # fmt: skip
    meta["merged_from"] = len(summaries)
    meta["duration_s"] = sum(durations) if sequential else max(durations)
    return build_summary(recorder, meta, sum(windows) if sequential else max(windows))


def window_of(summary: dict[str, Any]) -> float:
    """The seconds a summary's rates are over (summaries older than ``window_s`` used their wall time)."""
    return float(summary.get("window_s") or summary["duration_s"])
