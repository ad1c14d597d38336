"""What every benchmark measures the same way: this process's CPU time, and a Locust pool fully started.

Imports nothing at module level beyond the standard library, so the plain floors (the sync grpcio one
runs without gevent) can use it without monkey-patching anything.
"""

from __future__ import annotations

import resource
import time
from typing import Any


def process_cpu_s() -> float:
    """CPU seconds (user + system) this process has used: differences of it are a contender's cost."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_users(runner: Any, count: int, timeout_s: float = 30.0) -> None:
    """Start ``count`` users of a Locust runner at once and wait (at most ``timeout_s``) until all run."""
    import gevent  # only the Locust contenders get here, already under gevent

    runner.start(count, spawn_rate=10_000)
    deadline = time.monotonic() + timeout_s
    while runner.user_count < count and time.monotonic() < deadline:
        gevent.sleep(0.05)
