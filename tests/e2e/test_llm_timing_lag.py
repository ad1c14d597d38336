"""The validity check flags token streams timed by a lagging event loop, and only those: one stream against
bench/llm_sse_server.py (a token every 10 ms, each stamped by the server), once with a greenlet that holds
the loop 60 ms at a time and once without. The probe's lag is checked against the truth it stands for: each
client ITL minus the server's own gap between the same two chunks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LIMIT_MS = 25.0  # far above a busy machine's normal lag, far below the 60 ms blocks


def _run(block_ms: float) -> dict[str, Any]:
    command = [sys.executable, str(ROOT / "bench" / "llm_sse_server.py"), "--ttft-ms", "5", "--delay-ms", "10"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("PORT "), line
        url = f"http://127.0.0.1:{int(line.split()[1])}"
        driver = subprocess.run([sys.executable, str(ROOT / "tests" / "e2e" / "loop_lag_driver.py"), url, str(block_ms),
                                 str(LIMIT_MS)], capture_output=True, text=True, timeout=90, cwd=ROOT)  # fmt: skip
    finally:
        server.kill()
        server.wait()
    assert driver.returncode == 0, driver.stderr[-3000:]
    return dict(json.loads(driver.stdout))


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def test_a_blocked_loop_is_flagged_and_a_free_one_is_not() -> None:
    blocked, free = _run(60.0), _run(0.0)
    for run in (blocked, free):
        assert run["requests"] == 8 and len(run["lag_series"]) >= 3 and len(run["itl_errors_ms"]) >= 100
    lag = blocked["validity"]["timing"]["loop_lag_p99_ms"]["local"]
    # The truth: the server's stamps show the client's gaps really were that far off.
    assert lag >= 30.0 and _p99([abs(e) for e in blocked["itl_errors_ms"]]) >= 30.0, blocked
    assert blocked["validity"]["valid"] and len(blocked["validity"]["warnings"]) == 1  # a warning by default
    warning = blocked["validity"]["warnings"][0]
    assert warning.startswith(f"warning: token timing (local event-loop lag p99 {lag:.1f} ms > 2 ms; the run's ITL p50")
    assert not blocked["limited"]["valid"] and blocked["limited_exit"] == 4
    assert blocked["limited"]["reasons"][0].startswith("invalid: timing error (local event-loop lag p99")
    free_lag = free["validity"]["timing"]["loop_lag_p99_ms"]["local"]
    assert free_lag < LIMIT_MS and free["limited"]["valid"] and free["limited"]["reasons"] == [], free
    assert _p99([abs(e) for e in free["itl_errors_ms"]]) < _p99([abs(e) for e in blocked["itl_errors_ms"]]) / 2
