"""Shared fixtures: a real reference target on free loopback ports, and helpers to read what it counted.

Two tiers: tests/unit/ (pure, seconds) and tests/e2e/ (real servers and processes), marked ``e2e`` here.

The pytest process never imports Locust (it monkey-patches the whole process with gevent); load
runs happen in child processes, exactly as a user runs them.
"""

from __future__ import annotations

import inspect
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from load_tests.reference_service.launcher import TargetInfo, TargetProcess

E2E_DIR = pathlib.Path(__file__).resolve().parent / "e2e"
# Light runs at once; heavy ones count 2. A run mostly waits: the lane alone kept 1.09 of 2 cores busy at
# 4 units (314 s) and 1.47 at 6 (241 s), so 6 leaves the unit tier beside it a core's worth.
LANE_UNITS = 6
LANE_TIMEOUT_S = 900  # for the first test that may wait for the whole lane
BESIDE, SIDE_BY_SIDE, ALONE = "beside_the_lane", "side_by_side", "alone"
_GROUP = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "side_by_side(act=..., target=('--seed', '1'), weight=1, seconds=10, share=None): the test's load run, made "
        "in the lane "
        "with the other side-by-side tests' before it checks (see Lane in tests/conftest.py)",
    )
    config.addinivalue_line(
        "markers", f"{BESIDE}: an end-to-end test whose figures do not depend on the machine's speed, run while the "
        "lane's load runs go on (as every unit test is)",
    )  # fmt: skip


def _group(item: pytest.Item) -> str:
    if item.get_closest_marker(SIDE_BY_SIDE):
        return SIDE_BY_SIDE
    return BESIDE if item.get_closest_marker(BESIDE) or not item.get_closest_marker("e2e") else ALONE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ is the slow tier: ``-m "not e2e"`` runs the unit tier alone.

    The session then runs in three groups, in this order (see Lane): the tests that may run beside the
    lane's load runs (the unit tier, and e2e tests marked ``beside_the_lane``); the side-by-side tests,
    each checking once its own run has ended; and the rest, alone, once the whole lane has ended. A test
    that may wait for the lane has a timeout that covers the lane."""
    for item in items:
        if item.path.resolve().is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)
        item.stash[_GROUP] = _group(item)
    order = (BESIDE, SIDE_BY_SIDE, ALONE)
    items.sort(key=lambda item: order.index(item.stash[_GROUP]))  # stable: files keep their order
    first_alone = next((item for item in items if item.stash[_GROUP] == ALONE), None)
    for item in items:
        if item.stash[_GROUP] == SIDE_BY_SIDE or item is first_alone:
            item.add_marker(pytest.mark.timeout(LANE_TIMEOUT_S))


@pytest.fixture
def target() -> Iterator[TargetInfo]:
    """A fresh target (so its counters start at zero), stopped after the test."""
    with TargetProcess("--seed", "1") as info:
        yield info


Ran = tuple[Any, pathlib.Path, Any]  # what a side-by-side test gets: its target (or None), its folder, its act's result


class Lane:
    """The load runs of the session's light tests, run side by side in the background from its start.

    A test marked ``side_by_side(act=...)`` has its act (``act(target, out, **its parameters)``) run here, against a
    target of its own started with the flags ``target`` (None: no target), in an output folder of its own.
    Every act of the session is queued at its start, longest first (``seconds``: an estimate), and at most
    :data:`LANE_UNITS` units run at a time: a light run (users that think between calls) costs 1, a heavy
    one (stress users, or several Locust processes) costs ``weight=2``. Meanwhile the session runs the
    tests that may run beside load runs: the unit tier and the e2e tests marked ``beside_the_lane`` (their
    figures are counts and contents, not speeds). Each side-by-side test then gets its target, folder and
    result through the ``ran`` fixture, waiting for its own act only (and re-raising what it raised); its
    target is stopped after it, so it still reads the counters of a target that served its own run only.
    Every other test waits until the whole lane has ended, and runs alone as before.

    Why it is safe: a light run keeps a core busy about a third of its wall time, mostly starting up and
    writing reports; the checks of these tests compare counts with the target, or rates over the run's own
    traffic window, which a busier machine stretches on both sides alike. Runs whose figures depend on the
    machine's speed (arrival rates, capacity steps, latency comparisons, the stall, the benchmark) are not
    side by side. Targets are started in the lane's threads: the ``preexec_fn`` of their fork only calls
    prctl, loaded before the fork (reference_service/launcher.py), so no lock another thread holds at the
    fork is needed in the child.
    """

    def __init__(self, tmp: pytest.TempPathFactory) -> None:
        self.tmp = tmp
        self.free = threading.Condition()
        self.units = LANE_UNITS
        self.targets: dict[str, TargetProcess] = {}
        self.done: dict[str, Future[Ran]] = {}
        self.took: dict[str, float] = {}  # each act's wall time, for the session's closing lines
        self.span: list[float] = []  # when the first act started and the last one ended
        # A target dies with the thread that started it (PR_SET_PDEATHSIG follows the forking thread), so
        # the pool's threads live until the lane closes, after the last test has read its target.
        self.pool = ThreadPoolExecutor(LANE_UNITS)

    def start(self, items: list[pytest.Item]) -> None:
        """Queue every side-by-side act of ``items``, longest first; returns at once. Tests marked with the
        same ``share`` name (and no target) share one run of the first one's act."""
        marked = [(item, m) for item in items if (m := item.get_closest_marker(SIDE_BY_SIDE))]
        marked.sort(key=lambda im: -im[1].kwargs.get("seconds", 10))
        shared: dict[str, Future[Ran]] = {}
        for item, mark in marked:
            share = mark.kwargs.get("share")
            if share is None:
                self.done[item.nodeid] = self.pool.submit(self._act, item, mark)
                continue
            assert mark.kwargs.get("target", ()) is None, f"{item.nodeid}: a shared act has no target of its own"
            if share not in shared:
                shared[share] = self.pool.submit(self._act, item, mark)
            self.done[item.nodeid] = shared[share]

    def wait_all(self) -> None:
        wait(self.done.values())

    def close(self) -> None:
        for target in self.targets.values():
            target.stop()
        self.pool.shutdown()

    def _act(self, item: pytest.Item, mark: pytest.Mark) -> Ran:
        weight = mark.kwargs.get("weight", 1)
        with self.free:
            self.free.wait_for(lambda: self.units >= weight)
            self.units -= weight
        try:
            flags = mark.kwargs.get("target", ("--seed", "1"))
            info = None
            if flags is not None:
                self.targets[item.nodeid] = TargetProcess(*flags)
                info = self.targets[item.nodeid].start()
            out = self.tmp.mktemp(re.sub(r"\W+", "_", item.name)[-40:])
            act, callspec = mark.kwargs["act"], getattr(item, "callspec", None)
            wanted = inspect.signature(act).parameters  # the test's parameters that the act takes
            params = {k: v for k, v in callspec.params.items() if k in wanted} if callspec else {}
            started = time.monotonic()
            try:
                return info, out, act(info, out, **params)
            finally:
                self.took[item.nodeid] = time.monotonic() - started
                self.span = [min([*self.span[:1], started]), time.monotonic()]
        finally:
            with self.free:
                self.units += weight
                self.free.notify_all()

    def result(self, item: pytest.Item) -> Ran:
        return self.done[item.nodeid].result()

    def stop_target(self, item: pytest.Item) -> None:
        target = self.targets.pop(item.nodeid, None)
        if target is not None:
            target.stop()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """How long the lane took, and its longest runs (all of them with ``-v``): to keep ``seconds`` honest."""
    if _LANES and _LANES[0].took:
        running = _LANES[0]
        wall, total = running.span[1] - running.span[0], sum(running.took.values())
        line = f"lane: {len(running.took)} runs in {wall:.0f} s (together {total:.0f} s), the longest:"
        terminalreporter.write_line(line)
        shown = sorted(running.took.items(), key=lambda kv: -kv[1])[: None if config.option.verbose > 0 else 8]
        for nodeid, took in shown:
            terminalreporter.write_line(f"  {took:6.1f} s  {nodeid}")


_LANES: list[Lane] = []  # the session's lane, for the closing lines


@pytest.fixture(scope="session", autouse=True)
def lane(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    """Started with the session's first test, in the background; stopped after its last."""
    running = Lane(tmp_path_factory)
    _LANES.append(running)
    try:
        running.start(request.session.items)
        yield running
    finally:
        running.close()


@pytest.fixture(autouse=True)
def _alone(request: pytest.FixtureRequest, lane: Lane) -> None:
    """A test of the last group starts once no load run of the lane is left."""
    if request.node.stash.get(_GROUP, None) == ALONE:
        lane.wait_all()


@pytest.fixture
def ran(request: pytest.FixtureRequest, lane: Lane) -> Iterator[Ran]:
    """This side-by-side test's (target, output folder, result of its act); its target is stopped after it."""
    try:
        yield lane.result(request.node)
    finally:
        lane.stop_target(request.node)


def cli_only(*args: str, timeout: float = 180) -> pytest.MarkDecorator:
    """Mark a test whose act is the one call ``run_cli(*args)``, which starts no load (a dry run, a bad flag):
    it goes in the lane too, where it fills a core the load runs leave idle."""
    return pytest.mark.side_by_side(act=lambda _, __: run_cli(*args, timeout=timeout), target=None, seconds=1)


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
        if row["request_type"] in ("LLM stream", "LLM request"):
            name = name.removeprefix("POST ")  # the openai rows: "POST /v1/chat/completions"
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
    # within 2 %, or what the window may legitimately exceed the arrival span by (the last call's own
    # duration: a 0.2 s stream ending a 6 s run is 3 %), whichever is more
    allowed = max(0.02, (longest_s + 0.05) / (last - first))
    assert summary["total"]["rps"] == pytest.approx(total_served / (last - first), rel=allowed)
    assert summary["duration_s"] > window


class CountingHTTPServer(ThreadingHTTPServer):
    """A user-shaped HTTP server on 127.0.0.1, port 0: its handler counts what it served in ``paths`` (under
    ``lock``), the truth a test compares the harness's figures with."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.paths: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"
