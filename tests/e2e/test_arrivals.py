"""Poisson arrivals and trace replay, judged by the arrival times a server stamps itself.

A tiny HTTP server in the test process stamps each request's arrival (``time.time()`` on the same
host as the generator) and the iteration index ``k`` the user sent, read with ``current_iteration()``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from load_tests.core.arrivals import unit_arrival
from tests.conftest import load_summary, run_cli
from tests.ks import exponential_cdf, ks_critical_5pct, ks_statistic

LOCUSTFILE = """
from locust import FastHttpUser, task

from load_tests.engine.pacing import current_iteration


class Stamped(FastHttpUser):
    @task
    def hit(self):
        self.client.get(f"/hit?k={current_iteration()}", name="/hit")
"""


class _Stamper(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    arrivals: list[tuple[float, int]]

    def do_GET(self) -> None:
        now = time.time()
        query = parse_qs(urlsplit(self.path).query)
        self.arrivals.append((now, int(query.get("k", ["-1"])[0])))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        return


@pytest.fixture
def stamper() -> Iterator[tuple[str, list[tuple[float, int]]]]:
    arrivals: list[tuple[float, int]] = []
    handler = type("Handler", (_Stamper,), {"arrivals": arrivals})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", arrivals
    server.shutdown()
    server.server_close()


def _run(tmp_path: Path, url: str, *args: str) -> dict:
    users = tmp_path / "stamped.py"
    users.write_text(LOCUSTFILE)
    result = run_cli("--locustfile", str(users), "--host", url, "--output-dir", str(tmp_path / "out"), *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return load_summary(tmp_path / "out")


@pytest.mark.slow
def test_poisson_arrivals_at_the_server_pass_a_ks_test(tmp_path: Path, stamper: tuple[str, list]) -> None:
    url, arrivals = stamper
    # Seed 1: its planned gaps sit far inside the 5 % bound (D 0.033 against 0.087). The default seed 0's
    # sit at 0.081 against 0.092, so a few ms of jitter at the server once failed a fresh-clone CI run.
    config = tmp_path / "c.yaml"
    scenario = "{kind: constant_arrival_rate, rate: 40, duration: 6s, arrival: poisson, seed: 1}"
    config.write_text(f"scenarios:\n  p: {scenario}\n")
    summary = _run(
        tmp_path, url, "--config", str(config), "--scenario", "p", "--max-users", "20", "--workers", "2"
    )  # each worker its share: k % 2
    pacing = summary["pacing"]
    assert pacing["process"] == "poisson" and pacing["dropped"] == 0
    assert len(arrivals) == pacing["started"] == pacing["planned"] and 170 < len(arrivals) < 310
    assert sorted(k for _, k in arrivals) == list(range(len(arrivals)))  # every iteration once, in any order
    # Each request reaches the server when the seed's sequence planned it, so the KS test below judges
    # that sequence and not this machine's scheduling.
    start = pacing["start_epoch"]
    late_ms = sorted((t - start - unit_arrival("poisson", 1.0, 1, k) / 40.0) * 1000.0 for t, k in arrivals)
    p95 = late_ms[int(0.95 * len(late_ms))]  # a wrong sequence is off by a gap, 25 ms on average, or more
    assert late_ms[0] >= -1.0 and p95 <= 10.0 and late_ms[-1] <= 100.0, (late_ms[:3], p95, late_ms[-3:])
    gaps = np.diff(sorted(t for t, _ in arrivals))
    d = ks_statistic(gaps, exponential_cdf(40.0))
    assert d <= ks_critical_5pct(len(gaps)), (d, ks_critical_5pct(len(gaps)))
    cv = gaps.std() / gaps.mean()
    assert 0.8 < cv < 1.2  # exponential gaps: CV 1 (a constant rate has 0)
    workers = [g for g in summary["resources"]["generators"] if g["role"] == "worker"]
    assert len(workers) == 2 and all(w["requests"] > 0 for w in workers)


@pytest.mark.slow
def test_a_trace_replay_starts_requests_within_10_ms_of_their_offsets(
    tmp_path: Path, stamper: tuple[str, list]
) -> None:
    url, arrivals = stamper
    rng = np.random.default_rng(1)
    offsets = np.round(np.cumsum(rng.exponential(0.08, 50)) - 0.05, 4).clip(0)  # about 4 s, bursts included
    offsets[10:13] = offsets[10]  # three at once
    trace = tmp_path / "trace.jsonl"
    trace.write_text("".join(f'{{"offset_s": {o}, "input_tokens": 8, "output_tokens": 4}}\n' for o in offsets))
    config = tmp_path / "c.yaml"
    config.write_text("scenarios:\n  replay: {kind: trace, trace: trace.jsonl, max_users: 10}\n")
    summary = _run(tmp_path, url, "--config", str(config), "--scenario", "replay")
    pacing = summary["pacing"]
    assert pacing["planned"] == pacing["started"] == len(arrivals) == 50 and pacing["dropped"] == 0
    start = pacing["start_epoch"]
    late_ms = sorted((t - start - offsets[k]) * 1000.0 for t, k in arrivals)
    assert sorted(k for _, k in arrivals) == list(range(50))  # row k is the iteration k
    # 48 of 50 within 10 ms and none past 30 ms: the suite's side-by-side lane loads this machine
    # (one start 10.1 ms late was seen on a load average of 7); a replay that drifts fails both.
    assert late_ms[0] >= -1.0 and late_ms[-3] <= 10.0 and late_ms[-1] <= 30.0, (late_ms[:3], late_ms[-3:])
