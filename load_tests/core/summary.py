"""The run summary: one JSON document that every report and verdict is made from.

Schema ``load_tests.summary/1`` (all times in milliseconds, rates per second):

- ``schema``, ``partial`` (the run was interrupted before its scenario ended), ``started_at``,
  ``ended_at``, ``duration_s`` (wall time of the whole run: start-up, warm-up, drain and settling
  included), ``window_s`` (the traffic window every rate divides by: first request sent to last
  request ended, or for open-model runs the scheduled span; ``window`` says which), ``scenario``
  (name, profile, stages), ``test_types``, ``services``, ``environment`` (harness, Python, Locust
  versions, host, git commit);
- ``total``, ``protocols.<protocol>`` and ``endpoints[]`` rows, each with ``requests``, ``failures``,
  ``failures_by_type``, ``no_reply``, ``rps``, ``error_rate_pct``, ``min_ms``, ``avg_ms``, ``max_ms``,
  ``p50_ms`` ... ``p99_ms``, ``p99_9_ms`` and ``histogram`` (HdrHistogram, base64, microseconds) so
  summaries can be merged exactly; endpoint rows add ``protocol``, ``request_type`` and ``name``;
  stream rows add ``stream`` (``messages``, ``gap_p50_ms``, ``gap_p95_ms``, ``gap_max_ms``); ``total``
  and ``protocols`` count requests only: facet rows (time to first message), connects, pings and
  pushes keep their endpoint rows but stay out (see core/request_types.py); open-model rows add
  ``corrected`` (from the intended start), whose ``total`` also takes in the iterations that never
  started (``not_started``, each at the lower bound from its intended start to the window's end);
- ``llm`` (rows and the run, when token streams were seen): TTFT, ITL, TPOT, tokens, goodput, as
  ``load_tests/core/llm_record.py`` describes; the run's figures are ``summary["llm"]``, not ``total["llm"]``;
- ``timeline[]``: per second ``t_s``, ``stage``, ``users``, ``requests``, ``failures``, ``rps``,
  ``failures_per_s``, ``p50_ms``, ``p95_ms`` of all requests; ``endpoint_timeline[]``: every 5 s
  ``t_s``, ``users`` and per endpoint (``"POST /predict"``) ``rps``, ``failures_per_s``, ``p50_ms``,
  ``p95_ms`` of that window;
- ``resources``: ``interval_s``, ``series`` ({name: [[t_s, value], ...]}: ``generator.<process>.cpu_percent``
  and ``.rss_mb``, ``target.cpu_percent``/``.rss_mb``, ``metrics.<scraped name>``, ``gpu<i>.*``), ``stats``
  (min, avg, max, last, samples per series), ``generators[]`` (name, role, pid, host, requests, failures,
  status, lost_at_s), ``target``, ``metrics`` (url, kinds, errors) and ``gpu`` (available, reason, devices);
  ``workers``: ``count`` and ``lost[]`` in a master/worker run, else null (see load_tests/engine/resources.py);
- ``thresholds``: ``passed`` and ``verdicts[]`` (scope, metric, limit, actual, passed, reason).
"""

from __future__ import annotations

import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from load_tests.core.llm_record import LlmRecord
from load_tests.core.recorder import PERCENTILES, EndpointRecord, Recorder, new_histogram, summed
from load_tests.core.thresholds import Verdict

SCHEMA = "load_tests.summary/1"
HARNESS_VERSION = "0.1.0"


def _pct_key(p: float) -> str:
    return f"p{p:g}_ms".replace(".", "_")


def _sum(histograms: list[HdrHistogram | None]) -> HdrHistogram:
    total = new_histogram()
    for h in histograms:
        summed(total, h)
    return total


def _row(records: list[EndpointRecord], window_s: float) -> dict[str, Any]:
    """Figures of one or several records merged (a protocol row merges its endpoints)."""
    histogram = _sum([r.histogram for r in records])
    requests = sum(r.requests for r in records)
    failures = sum(r.failures for r in records)
    timed = requests - sum(r.no_reply for r in records)
    by_type: dict[str, int] = {}
    for r in records:
        for kind, n in r.failures_by_type.items():
            by_type[kind] = by_type.get(kind, 0) + n
    mins = [r.min_ms for r in records if r.min_ms is not None]
    maxs = [r.max_ms for r in records if r.max_ms is not None]
    row: dict[str, Any] = {
        "requests": requests,
        "failures": failures,
        "failures_by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        "no_reply": sum(r.no_reply for r in records),
        "rps": requests / window_s if window_s > 0 else 0.0,
        "error_rate_pct": 100.0 * failures / requests if requests else 0.0,
        "min_ms": min(mins) if mins else None,
        "avg_ms": sum(r.total_ms for r in records) / timed if timed else None,
        "max_ms": max(maxs) if maxs else None,
    }
    for p in PERCENTILES:  # HDR gives a bucket's upper edge: keep it within the exact min and max
        value = histogram.get_value_at_percentile(p) / 1000.0 if timed else None
        row[_pct_key(p)] = min(max(value, row["min_ms"]), row["max_ms"]) if value is not None and mins else value
    row["histogram"] = histogram.encode().decode("ascii") if timed else None
    if any(r.corrected is not None for r in records):  # paced load: from the intended start (corrected)
        merged = _sum([r.corrected for r in records])
        row["corrected"] = {_pct_key(p): merged.get_value_at_percentile(p) / 1000.0 for p in PERCENTILES}
        row["corrected"]["max_ms"] = merged.get_max_value() / 1000.0
        row["corrected"]["histogram"] = merged.encode().decode("ascii")
        row["corrected"]["started_only"] = True  # until with_not_started() adds those that never started
    if any(r.gaps is not None or r.messages for r in records):
        gaps = _sum([r.gaps for r in records])
        row["stream"] = {
            "messages": sum(r.messages for r in records),
            "gap_p50_ms": gaps.get_value_at_percentile(50) / 1000.0 if gaps.total_count else None,
            "gap_p95_ms": gaps.get_value_at_percentile(95) / 1000.0 if gaps.total_count else None,
            "gap_max_ms": gaps.get_max_value() / 1000.0 if gaps.total_count else None,
            "gaps_histogram": gaps.encode().decode("ascii") if gaps.total_count else None,
        }
    llms = [r.llm for r in records if r.llm is not None]
    if llms:  # token streams (core/llm_record.py)
        row["llm"] = LlmRecord.merged(llms).figures(window_s)
    return row


def build_summary(recorder: Recorder, meta: dict[str, Any], window_s: float) -> dict[str, Any]:
    """Summary of everything ``recorder`` saw, every rate over ``window_s``; ``meta`` supplies scenario,
    services, times (``duration_s``, the wall time) and flags."""
    total, protocols, endpoints = figures_of(recorder, window_s)
    summary = {
        "schema": SCHEMA,
        "duration_s": window_s,  # the wall time, when meta does not give it (merged and test summaries)
        **meta,
        "window_s": window_s,
        "environment": environment_info(),
        "total": total,
        "protocols": protocols,
        "endpoints": endpoints,
    }
    llm = total.pop("llm", None)  # the run's token figures stand at the top, once
    if llm is not None:
        summary["llm"] = llm
    return summary


def figures_of(
    recorder: Recorder, window_s: float
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The total row, the rows per protocol and per endpoint of everything ``recorder`` saw."""
    records = sorted(recorder.endpoints.values(), key=lambda r: (r.protocol, r.name, r.request_type))
    endpoints = [
        {"protocol": r.protocol, "request_type": r.request_type, "name": r.name, **_row([r], window_s)} for r in records
    ]
    counted = [r for r in records if recorder.counts(r.request_type)]  # requests only (core/request_types.py)
    protocols: dict[str, dict[str, Any]] = {}
    for protocol in sorted({r.protocol for r in counted}):
        protocols[protocol] = _row([r for r in counted if r.protocol == protocol], window_s)
    return _row(counted, window_s), protocols, endpoints


def with_not_started(row: dict[str, Any], bounds_ms: list[tuple[float, int]]) -> dict[str, Any]:
    """``row`` whose corrected figures also count iterations that never started, each at a lower bound.

    An open-model iteration dropped (every user busy) or still waiting at the end never got a
    latency; leaving it out would hide exactly the slowest ones (coordinated omission again). Each
    enters the corrected histogram at ``bounds_ms``: from its intended start to the end of the window.
    """
    corrected = row.get("corrected")
    count = sum(n for _, n in bounds_ms)
    if corrected is None or not count:
        return row
    merged = decode_histogram(corrected["histogram"])
    for bound_ms, n in bounds_ms:
        merged.record_value(max(int(bound_ms * 1000.0), 1), n)
    figures = {_pct_key(p): merged.get_value_at_percentile(p) / 1000.0 for p in PERCENTILES}
    figures.update(max_ms=merged.get_max_value() / 1000.0, histogram=merged.encode().decode("ascii"),
                   not_started=count, started_only=False)  # fmt: skip
    return {**row, "corrected": figures}


def decode_histogram(encoded: str) -> HdrHistogram:
    """The histogram of a summary row (microseconds), for exact merging and re-computation."""
    return HdrHistogram.decode(encoded)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment_info() -> dict[str, Any]:
    try:
        from importlib.metadata import version

        locust_version: str | None = version("locust")
    except Exception:  # the summary must be written even if package metadata is odd
        locust_version = None
    return {
        "harness_version": HARNESS_VERSION,
        "python": platform.python_version(),
        "locust": locust_version,
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }


def with_verdicts(summary: dict[str, Any], verdicts: list[Verdict]) -> dict[str, Any]:
    return {
        **summary,
        "thresholds": {"passed": all(v.passed for v in verdicts), "verdicts": [v.as_dict() for v in verdicts]},
    }
