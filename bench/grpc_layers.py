"""What timing a gRPC call costs, layer by layer, in one process: ``python bench/grpc_layers.py [--rounds N]``.

Starts the reference target (zero service time, core 0) and one gevent process on core 1 holding 16
greenlets, each looping the unary ``Inference/Predict`` on a channel of its own through one of three
stubs: ``raw`` (a plain stub), ``interceptor`` (Locust's documented interceptor, bench/locust_grpc_example.py)
and ``ours`` (GrpcClient's timed channel). The request event does nothing, so only the layer is measured.
The greenlets switch stubs every 0.75 s, ABC then CBA, for ``--rounds`` rounds: a shared, noisy machine
drifts far more slowly than that, so the per-round ratios compare like with like (bench/run.py's rule).
Prints one JSON line: median CPU µs per call of each, and each one's median ratio to ``raw``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STUBS = ("raw", "interceptor", "ours")
CONCURRENCY = 16


class _Silent:
    """A request event that records nothing: the layers' own cost is what is measured."""

    def fire(self, **_kwargs: Any) -> None:
        return None


def _measure(target: str, rounds: int) -> dict[str, Any]:  # in the gevent child
    import gevent
    import grpc

    from bench.locust_grpc_example import LocustInterceptor
    from bench.measure import process_cpu_s
    from load_tests.clients.grpc_client import GrpcClient
    from load_tests.protos import inference_pb2, inference_pb2_grpc

    class Env:
        events = type("Events", (), {"request": _Silent()})()

    def stub(kind: str) -> Any:
        if kind == "ours":
            return GrpcClient(target, _Silent(), timeout=10.0).stub(inference_pb2_grpc.InferenceStub)
        channel = grpc.insecure_channel(target)
        if kind == "interceptor":
            channel = grpc.intercept_channel(channel, LocustInterceptor(environment=Env()))
        return inference_pb2_grpc.InferenceStub(channel)

    stubs = {kind: [stub(kind) for _ in range(CONCURRENCY)] for kind in STUBS}
    request = inference_pb2.PredictRequest(features=[55.0, 2.0, 5.0, 70.0])
    state: dict[str, Any] = {"kind": "raw", "calls": 0, "stop": False}

    def loop(i: int) -> None:
        while not state["stop"]:
            stubs[state["kind"]][i].Predict(request, timeout=10)
            state["calls"] += 1

    greenlets = [gevent.spawn(loop, i) for i in range(CONCURRENCY)]
    per_call: dict[str, list[float]] = {kind: [] for kind in STUBS}
    for r in range(rounds):
        for kind in STUBS if r % 2 == 0 else STUBS[::-1]:
            state["kind"] = kind
            gevent.sleep(0.15)  # calls in flight on the previous stubs finish
            calls, cpu = state["calls"], process_cpu_s()
            gevent.sleep(0.75)
            per_call[kind].append(1e6 * (process_cpu_s() - cpu) / max(1, state["calls"] - calls))
    state["stop"] = True
    gevent.joinall(greenlets, timeout=5)
    rounds_ratio = {k: [a / b for a, b in zip(per_call[k], per_call["raw"], strict=True)] for k in STUBS}
    return {"concurrency": CONCURRENCY, "rounds": rounds,
            "cpu_us_per_call": {k: round(statistics.median(v), 1) for k, v in per_call.items()},
            "ratio_to_raw": {k: round(statistics.median(v), 3) for k, v in rounds_ratio.items()},
            "ratio_to_raw_rounds": {k: [round(x, 3) for x in v] for k, v in rounds_ratio.items()}}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.run import OPERATIONS, _pin
    from load_tests.reference_service.launcher import TargetProcess

    zero = [arg for op in sorted(OPERATIONS) for arg in ("--service-time", f"{op}=0")]
    two_cores = hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1
    with TargetProcess(*zero) as info:
        if two_cores:
            os.sched_setaffinity(info.pid, {0})
        done = subprocess.run([sys.executable, __file__, "--child", info.grpc_target, str(args.rounds)],
                              capture_output=True, text=True, timeout=60 + 3 * args.rounds, cwd=ROOT,
                              preexec_fn=_pin(1) if two_cores else None)  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(f"grpc_layers: the child failed: {(done.stderr or done.stdout)[-400:]}", file=sys.stderr)
        return 1
    print(lines[-1])
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        from gevent import monkey

        monkey.patch_all()
        sys.path.insert(0, str(ROOT))
        print(json.dumps(_measure(sys.argv[2], int(sys.argv[3]))))
    else:
        sys.exit(main())
