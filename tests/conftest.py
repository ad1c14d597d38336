"""Shared fixtures: a real reference target on free loopback ports, and helpers to read what it counted.

The pytest process never imports Locust (it monkey-patches the whole process with gevent); load
runs happen in child processes, exactly as a user runs them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from load_tests.target.launcher import TargetInfo, TargetProcess


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
