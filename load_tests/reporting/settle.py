"""Leave the warm-up out of a run summary before it is compared: the settle window.

The first seconds of a run measure connection set-up, cold caches and first calls, which the next
run may or may not repeat; comparing them is comparing luck. Every 5-second point of the summary's
``endpoint_timeline`` carries each endpoint's requests, failures and HDR histogram, so the rows can
be rebuilt exactly from the points that start at or after ``settle_s`` (to the 5 s bucket and the
histogram's 1 % resolution). Protocol rows are rebuilt from their endpoints, as in the run.
"""

from __future__ import annotations

from typing import Any

from load_tests.core.errors import ConfigError
from load_tests.core.recorder import ENDPOINT_BUCKET_S, EndpointRecord, Recorder
from load_tests.core.summary import decode_histogram, figures_of


def _settled_points(summary: dict[str, Any], settle_s: float) -> list[dict[str, Any]]:
    points = summary.get("endpoint_timeline") or []
    if points and not all("histogram" in f for p in points for f in p["endpoints"].values()):
        raise ConfigError("--settle: this summary's endpoint_timeline has no histograms (made by an older harness)")
    return [p for p in points if p["t_s"] - ENDPOINT_BUCKET_S >= settle_s - 1e-9]


def settled(summary: dict[str, Any], settle_s: float) -> dict[str, Any]:
    """``summary`` whose protocol and endpoint rows count only what ended ``settle_s`` or more into the run."""
    if settle_s <= 0:
        return summary
    points = _settled_points(summary, settle_s)
    by_key = {f"{r['request_type']} {r['name']}": r for r in summary["endpoints"]}
    recorder = Recorder()
    for point in points:
        for key, figures in point["endpoints"].items():
            row = by_key.get(key)
            if row is None:
                continue
            record = EndpointRecord(row["request_type"], row["name"])
            record.requests, record.failures = int(figures["requests"]), int(figures["failures"])
            if figures["histogram"]:
                histogram = decode_histogram(figures["histogram"])
                record.histogram.add(histogram)
                record.total_ms = histogram.get_mean_value() * histogram.total_count / 1000.0
                record.min_ms = histogram.get_min_value() / 1000.0
                record.max_ms = histogram.get_max_value() / 1000.0
            record.no_reply = record.requests - record.histogram.total_count
            existing = recorder.endpoints.get((row["request_type"], row["name"]))
            if existing is None:
                recorder.endpoints[(row["request_type"], row["name"])] = record
            else:
                existing.merge(record)
    window = max(float(summary.get("window_s") or summary["duration_s"]) - settle_s, 1e-3)
    total, protocols, endpoints = figures_of(recorder, window)
    return {**summary, "total": total, "protocols": protocols, "endpoints": endpoints, "settled_s": settle_s}
