"""The plain gRPC floor: grpcio's sync client, 8 OS threads, no gevent: ``python bench/grpc_floor.py SECONDS N``.

The gevent loop that ``contenders.py grpc_raw`` runs is itself costlier than grpcio without gevent
(grpcio's gevent integration polls its completion queue through gevent's hub), so it is a weak floor.
This is the floor a team would measure without Locust: the same unary ``Inference/Predict`` call at
the same concurrency ``N``, spread over 8 threads, each keeping ``N / 8`` calls in flight with
``.future()`` so concurrency matches without 16 threads fighting for the GIL. Prints the same JSON line
as contenders.py (CPU of this process during the measured window only). Never monkey-patched.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.measure import process_cpu_s
from load_tests.protos import inference_pb2, inference_pb2_grpc
from load_tests.reference_service.launcher import TargetInfo

THREADS = 8
# "one": every call on one channel (one HTTP/2 connection), as a plain client is written; "per-call": one
# channel per concurrent call, as our users (a channel per user) and the gevent loop do
CHANNELS = os.environ.get("BENCH_GRPC_CHANNELS", "one")
WARMUP_S = 0.5


def _stub(target: str) -> inference_pb2_grpc.InferenceStub:
    channel = grpc.insecure_channel(target)
    grpc.channel_ready_future(channel).result(timeout=10)
    return inference_pb2_grpc.InferenceStub(channel)


def run(target: str, seconds: float, concurrency: int) -> dict[str, Any]:
    request = inference_pb2.PredictRequest(features=[55.0, 2.0, 5.0, 70.0])
    threads = min(THREADS, concurrency)
    per_thread = [concurrency // threads + (1 if i < concurrency % threads else 0) for i in range(threads)]
    state = {"measure": False, "stop": False}
    counts, errors = [0] * threads, [0] * threads

    stubs = [_stub(target) for _ in range(concurrency if CHANNELS == "per-call" else 1)]

    def loop(i: int) -> None:
        mine = [stubs[(sum(per_thread[:i]) + k) % len(stubs)] for k in range(per_thread[i])]
        in_flight = [stub.Predict.future(request, timeout=10) for stub in mine]
        while not state["stop"]:
            for slot, future in enumerate(in_flight):
                stub = mine[slot]
                try:
                    future.result()
                    ok = True
                except grpc.RpcError:
                    ok = False
                if state["measure"]:
                    counts[i] += ok
                    errors[i] += not ok
                in_flight[slot] = stub.Predict.future(request, timeout=10)
        for future in in_flight:
            future.cancel()

    workers = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(WARMUP_S)
    cpu0, t0 = process_cpu_s(), time.perf_counter()
    state["measure"] = True
    time.sleep(seconds)
    state["measure"] = False
    cpu1, t1 = process_cpu_s(), time.perf_counter()
    state["stop"] = True
    for worker in workers:
        worker.join(timeout=5)
    requests, cpu_s, wall_s = sum(counts), cpu1 - cpu0, t1 - t0
    return {"requests": requests, "failures": sum(errors), "cpu_s": cpu_s, "wall_s": wall_s,
            "rps": requests / wall_s if wall_s else 0.0,
            "cpu_us_per_request": 1e6 * cpu_s / requests if requests else None,
            "rss_mb": psutil.Process().memory_info().rss / 1e6, "threads": threads,
            "channels": len(stubs)}  # fmt: skip


if __name__ == "__main__":
    info = TargetInfo(**json.loads(os.environ["BENCH_TARGET"]))
    print(json.dumps(run(info.grpc_target, float(sys.argv[1]), int(sys.argv[2]))))
    sys.stdout.flush()
    os._exit(0)
