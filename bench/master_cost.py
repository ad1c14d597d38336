"""What one worker report costs the master: ``python bench/master_cost.py [REPORTS]`` (prints JSON).

A worker ships, with every ``report_to_master`` (Locust's default: every 3 s), the recorder delta of
what it measured since the last one (load_tests.core.wire). This builds realistic deltas — 50
endpoints (40 request rows, 10 stream rows with gaps), histograms included, a low-load worker's 3 s
of traffic spread over the wall-clock windows — from ``WORKERS`` workers a round, each round the 3 s
after the one before, so the master opens new seconds and 5-second buckets as a real one does (once a
round, not once a report). It times, in a loop and in this process's CPU time, the worker's side
(``encode_delta`` + msgpack, as Locust serialises reports) and the master's side (msgpack unpack +
``merge_delta`` into the run's recorder). Between rounds, untimed, the master hands its finished
windows on as its timeline does, so its recorder stays the size of a real one. ``workers_served`` is
how many workers one master core could take at the default interval from these deltas alone (Locust's
own per-report work comes on top: the real-master figure of bench/run.py measures it with it).
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
from pathlib import Path
from typing import Any

import msgpack

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.measure import process_cpu_s
from load_tests.core.recorder import ENDPOINT_BUCKET_S, Recorder
from load_tests.core.wire import encode_delta, merge_delta

ENDPOINTS, STREAMS = 50, 10
REPORT_INTERVAL_S = 3.0  # locust.runners.WORKER_REPORT_INTERVAL (not imported: no gevent here)
GOAL_MS = 2.0
START_EPOCH = 1_800_000_000.0
WORKERS = 10  # reports of one round cover the same 3 s
LAG_S = int(REPORT_INTERVAL_S) + 2  # load_tests.engine.distributed.MASTER_LAG_S


def worker_delta(requests_per_endpoint: int, seed: int = 1) -> Recorder:
    """Report number ``seed``: every endpoint hit ``requests_per_endpoint`` times in its round's 3 s."""
    rng = random.Random(seed)
    clock = {"now": START_EPOCH + seed // WORKERS * REPORT_INTERVAL_S}
    recorder = Recorder(clock=lambda: clock["now"])
    rows = [("GET", f"/api/v1/items/{i}") for i in range(ENDPOINTS - STREAMS)]
    rows += [("gRPC server-stream", f"Inference/Generate{i}") for i in range(STREAMS)]
    total = requests_per_endpoint * len(rows)
    for n in range(total):
        clock["now"] += REPORT_INTERVAL_S / total
        request_type, name = rows[n % len(rows)]
        latency = rng.lognormvariate(3.0, 0.6)
        failure = "HTTP 503" if rng.random() < 0.01 else None
        context = None
        if request_type.startswith("gRPC"):
            context = {"messages": 8, "gaps_ms": [rng.uniform(1, 30) for _ in range(7)]}
        recorder.record(request_type, name, latency, 100, exception=failure, context=context)
    return recorder


def measure(reports: int = 200, requests_per_endpoint: int = 20) -> dict[str, Any]:
    master = Recorder()
    encode_us, decode_us, sizes = [], [], []
    for seed in range(reports):  # untimed: build the delta, let the timeline drain, collect this loop's garbage
        delta = worker_delta(requests_per_endpoint, seed)
        if seed % WORKERS == 0:  # a new round: the timeline takes what no report can still add to
            now = START_EPOCH + seed // WORKERS * REPORT_INTERVAL_S
            master.drain_seconds(int(now) - LAG_S)
            master.drain_endpoint_buckets(int((now - LAG_S) // ENDPOINT_BUCKET_S))
        gc.collect()  # the bench's own cyclic garbage (the last delta's histograms), not the master's
        cpu0 = process_cpu_s()
        packed = msgpack.packb({"load_tests": {"delta": encode_delta(delta)}}, use_bin_type=True)
        cpu1 = process_cpu_s()
        merge_delta(master, msgpack.unpackb(packed, raw=False)["load_tests"]["delta"])
        cpu2 = process_cpu_s()
        encode_us.append((cpu1 - cpu0) * 1e6)
        decode_us.append((cpu2 - cpu1) * 1e6)
        sizes.append(len(packed))
    # rusage ticks are coarse on some kernels: the mean over the loop is the figure, the median a check
    master_ms = statistics.fmean(decode_us) / 1000.0
    return {
        "endpoints": ENDPOINTS,
        "requests_per_report": requests_per_endpoint * ENDPOINTS,
        "reports": reports,
        "workers_per_round": WORKERS,
        "bytes_per_report": int(statistics.median(sizes)),
        "worker_encode_ms": round(statistics.fmean(encode_us) / 1000.0, 3),
        "master_ms_per_report": round(master_ms, 3),
        "report_interval_s": REPORT_INTERVAL_S,
        "workers_served": int(REPORT_INTERVAL_S * 1000.0 / master_ms) if master_ms else None,
        "merged_requests": master.totals()["requests"],
        "goal_ms": GOAL_MS,
        "met": master_ms < GOAL_MS,
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 200)))
