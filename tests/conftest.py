"""Shared fixtures: a real reference target on free loopback ports, and helpers to read what it counted.

Two tiers: tests/unit/ (pure, seconds) and tests/e2e/ (real servers and processes), marked ``e2e`` here.

The pytest process never imports Locust (it monkey-patches the whole process with gevent); load
runs happen in child processes, exactly as a user runs them.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from load_tests.reference_service.launcher import TargetInfo, TargetProcess

E2E_DIR = pathlib.Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ is the slow tier: ``-m "not e2e"`` runs the unit tier alone."""
    for item in items:
        if item.path.resolve().is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def target() -> Iterator[TargetInfo]:
    """A fresh target (so its counters start at zero), stopped after the test."""
    with TargetProcess("--seed", "1") as info:
        yield info


def scrape(http_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the target's /metrics as {(name, sorted labels): value}."""
    text = requests.get(f"{http_url}/metrics", timeout=5).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def served(http_url: str, protocol: str | None = None) -> dict[str, float]:
    """Requests the target counted per endpoint (optionally for one protocol), as {endpoint: count}."""
    counts: dict[str, float] = {}
    for (name, labels), value in scrape(http_url).items():
        if name == "target_requests_total":
            d = dict(labels)
            if protocol is None or d["protocol"] == protocol:
                counts[d["endpoint"]] = counts.get(d["endpoint"], 0) + value
    return counts


def metric(http_url: str, name: str, **labels: str) -> float:
    return scrape(http_url).get((name, tuple(sorted(labels.items()))), 0.0)


REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python run_load_tests.py ARGS`` as a user runs it, from the repository root."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "run_load_tests.py", *args], cwd=REPO_ROOT, env=full_env,
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def load_summary(output_dir: pathlib.Path) -> dict:
    """The one run summary written under ``output_dir``."""
    found = sorted(output_dir.glob("*/*/locust_report_*.json"))
    assert len(found) == 1, f"expected one summary under {output_dir}, found {found}"
    return json.loads(found[0].read_text())


SENT_TYPES = {
    "websocket": {"WS reply", "WS stream", "WS send"},
    "socketio": {"SIO ack", "SIO stream", "SIO send"},
    "grpc": {"gRPC unary", "gRPC server-stream", "gRPC client-stream", "gRPC bidi-stream"},
}


def sent(summary: dict, protocol: str) -> dict[str, int]:
    """Calls per target endpoint of one protocol as the harness saw them, to compare with :func:`served`."""
    if protocol == "http":
        return harness_counts({"endpoints": [r for r in summary["endpoints"] if r["protocol"] == "http"]})
    counts: dict[str, int] = {}
    for row in summary["endpoints"]:
        if row["request_type"] in SENT_TYPES[protocol]:
            counts[row["name"]] = counts.get(row["name"], 0) + row["requests"]
    return counts


def harness_counts(summary: dict) -> dict[str, int]:
    """Requests per target endpoint as the harness saw them (first-token rows are not extra requests)."""
    counts: dict[str, int] = {}
    for row in summary["endpoints"]:
        if row["request_type"] == "SSE first token":
            continue
        name = row["name"].removesuffix(" (audio)")
        counts[name] = counts.get(name, 0) + row["requests"]
    return counts


REPORT_FILES = (
    "locust_report_*.html", "locust_report_*_stats.csv", "analysis/summary.txt", "analysis/metrics.csv",
    "analysis/latency_over_time.png", "analysis/rps_users_over_time.png", "locust_builtin_*.html",
)  # fmt: skip


def assert_reports(output_dir: pathlib.Path) -> None:
    """The one run under ``output_dir`` wrote every report, none of them empty."""
    run_dir = next(output_dir.glob("*/*/"))
    for pattern in REPORT_FILES:
        found = list(run_dir.glob(pattern))
        assert found and all(p.stat().st_size > 0 for p in found), pattern


def failures_by_type(summary: dict, protocol: str) -> dict[str, int]:
    """Failures of every row of ``protocol``, added up by failure type."""
    found: dict[str, int] = {}
    for row in summary["endpoints"]:
        if row["protocol"] == protocol:
            for kind, n in row["failures_by_type"].items():
                found[kind] = found.get(kind, 0) + n
    return found


def served_window(http_url: str) -> tuple[float, float]:
    """When the target's first and last counted call arrived (epoch seconds), by its own clock."""
    samples = scrape(http_url)
    return samples[("target_first_request_timestamp_seconds", ())], samples[
        ("target_last_request_timestamp_seconds", ())
    ]


def assert_rates_over_the_traffic_window(summary: dict, http_url: str) -> None:
    """Every rate divides by the traffic window, which the target's own clock confirms.

    The TOTAL row counts exactly the calls the target counted; the window runs from the first call
    sent to the last one ended, so it holds the target's first-to-last arrival span and exceeds it by
    no more than the longest call; and it is shorter than the run's wall time, which includes start-up,
    the stop tail and settling (the old denominator, 6 to 21 % too long).
    """
    total_served = sum(served(http_url).values())
    assert summary["total"]["requests"] == total_served, (summary["total"]["requests"], total_served)
    first, last = served_window(http_url)
    window = summary["window_s"]
    longest_s = max((r["max_ms"] or 0.0) for r in summary["endpoints"]) / 1000.0
    assert last - first - 0.01 <= window <= last - first + longest_s + 0.05, (window, last - first, longest_s)
    assert summary["total"]["rps"] == pytest.approx(total_served / window, rel=1e-9)
    assert summary["total"]["rps"] == pytest.approx(total_served / (last - first), rel=0.02)
    assert summary["duration_s"] > window
