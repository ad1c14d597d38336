"""Child process of tests/e2e/test_llm_timing_lag.py (the pytest process never imports Locust): one stream
of sequential requests through the real OpenAIClient to bench/llm_sse_server.py, the loop-lag probe and
the resource monitor sampling as in a run, and, when ``BLOCK_MS`` > 0, a greenlet that holds the gevent
loop that long (busy-waiting) every 20 ms. Prints JSON: the run's validity (default limits and with
``max_timing_lag_ms`` = LIMIT_MS), the lag series, and each client ITL minus the server's gap between
the same chunks' ``x_server_time`` stamps. ``python tests/e2e/loop_lag_driver.py URL BLOCK_MS LIMIT_MS``."""

from __future__ import annotations

import json
import sys
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import gevent  # noqa: E402

from bench.llm_accuracy import chat_request, run_requests  # noqa: E402
from load_tests.core.conclusion import RunRecord, conclude  # noqa: E402
from load_tests.core.domain import DomainMetrics  # noqa: E402
from load_tests.core.plan import ValidityLimits  # noqa: E402
from load_tests.core.recorder import Recorder  # noqa: E402
from load_tests.engine.resources import Generator, LoopLagProbe, ResourceMonitor  # noqa: E402

REQUESTS, TOKENS, SAMPLE_S = 8, 20, 0.5


def main() -> None:
    url, block_ms, limit_ms = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    started = time.time()
    monitor, me, probe = ResourceMonitor(started, gpu=False), Generator("local", "local"), LoopLagProbe()
    probe.start()

    def sample() -> None:
        while True:
            gevent.sleep(SAMPLE_S)
            monitor.add_generator_sample(me, time.time(), 0.0, 0.0, probe.take())

    def block() -> None:
        while True:
            until = time.perf_counter() + block_ms / 1000.0
            while time.perf_counter() < until:
                pass
            gevent.sleep(0.02)

    helpers = [gevent.spawn(sample)] + ([gevent.spawn(block)] if block_ms > 0 else [])
    results = run_requests(url, [[chat_request(f"r{i}", TOKENS) for i in range(REQUESTS)]])
    gevent.killall(helpers)
    recorder, errors = Recorder(), []
    for _, event in results:
        stamps = event.pop("stamps")
        recorder.record(**event)
        chunk_ms = event["context"]["llm"]["chunk_ms"]
        if event["exception"] is None and len(stamps) == len(chunk_ms):
            gaps = zip(pairwise(chunk_ms), pairwise(stamps), strict=True)
            errors += [(b - a) - (s2 - s1) * 1000.0 for (a, b), (s1, s2) in gaps]
    record = RunRecord(recorder, {"partial": False, "pacing": None, "resources": monitor.as_summary()},
                       time.time() - started, DomainMetrics())  # fmt: skip
    default, _ = conclude(record, {}, ValidityLimits())
    limited, code = conclude(record, {}, ValidityLimits(max_timing_lag_ms=limit_ms))
    print(json.dumps({"validity": default["validity"], "limited": limited["validity"], "limited_exit": code,
                      "lag_series": monitor.series.get("generator.local.loop_lag_ms", []),
                      "itl_errors_ms": errors, "itl_p50_ms": default["llm"]["itl_ms"]["p50"],
                      "requests": default["llm"]["requests"]}))  # fmt: skip


if __name__ == "__main__":
    main()
