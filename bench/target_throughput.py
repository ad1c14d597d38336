"""How many calls/s the reference target serves per protocol on this machine (prints JSON).

``python bench/target_throughput.py [--seconds 5] [--concurrency 32]``. Starts the target with zero
service times, then drives each protocol in turn with raw clients under gevent (no Locust):
HTTP ``GET /health`` (keep-alive), WebSocket ``ping``, Socket.IO ``ping`` acks, gRPC unary
``Inference/Predict``. Loopback only, bounded in time. The client shares the machine's cores with the
target, so figures are a floor for the target, and a check that it is not the bottleneck at the
loads the tests and the demo use.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import grpc.experimental.gevent as grpc_gevent  # noqa: E402

grpc_gevent.init_gevent()

import grpc  # noqa: E402
import socketio  # noqa: E402
import websocket  # noqa: E402
from geventhttpclient import HTTPClient  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from load_tests.protos import inference_pb2, inference_pb2_grpc  # noqa: E402
from load_tests.reference_service.faults import OPERATIONS  # noqa: E402
from load_tests.reference_service.launcher import TargetInfo, TargetProcess  # noqa: E402


def _drive(make_call: Callable[[], Callable[[], None]], concurrency: int, seconds: float) -> dict[str, float]:
    """Run ``concurrency`` loops of calls for ``seconds``; each loop builds its own client first."""
    counts = [0] * concurrency
    errors = [0] * concurrency
    deadline = time.perf_counter() + seconds

    def loop(i: int) -> None:
        call = make_call()
        while time.perf_counter() < deadline:
            try:
                call()
                counts[i] += 1
            except Exception:  # a benchmark counts failures instead of stopping on them
                errors[i] += 1

    start = time.perf_counter()
    gevent.joinall([gevent.spawn(loop, i) for i in range(concurrency)])
    elapsed = time.perf_counter() - start
    return {"calls": sum(counts), "errors": sum(errors), "calls_per_s": round(sum(counts) / elapsed, 1)}


def _http(info: TargetInfo) -> Callable[[], None]:
    client = HTTPClient(info.host, info.http_port, concurrency=1)

    def call() -> None:
        response = client.get("/health")
        response.read()
        if response.status_code != 200:
            raise RuntimeError(response.status_code)

    return call


def _websocket(info: TargetInfo) -> Callable[[], None]:
    ws = websocket.create_connection(info.ws_url, timeout=10)
    message = json.dumps({"type": "ping", "id": 1})

    def call() -> None:
        ws.send(message)
        ws.recv()

    return call


def _socketio(info: TargetInfo) -> Callable[[], None]:
    client = socketio.Client(reconnection=False)
    client.connect(info.http_url, transports=["websocket"], wait_timeout=10)

    def call() -> None:
        client.call("ping", {"id": 1}, timeout=10)

    return call


def _grpc(info: TargetInfo) -> Callable[[], None]:
    stub = inference_pb2_grpc.InferenceStub(grpc.insecure_channel(info.grpc_target))
    request = inference_pb2.PredictRequest(features=[55.0, 2.0, 5.0, 70.0])

    def call() -> None:
        stub.Predict(request, timeout=10)

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    zero = [arg for op in sorted(OPERATIONS) for arg in ("--service-time", f"{op}=0")]
    zero += ["--llm-ttft-ms", "0", "--llm-token-ms", "0"]  # chat streams are timed by the reference LLM
    results: dict[str, dict[str, float]] = {}
    with TargetProcess(*zero) as info:
        for name, factory in (("http", _http), ("websocket", _websocket), ("socketio", _socketio), ("grpc", _grpc)):
            results[name] = _drive(lambda f=factory: f(info), args.concurrency, args.seconds)
    print(json.dumps({
        "benchmark": "target_throughput",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "seconds_per_protocol": args.seconds,
        "concurrency": args.concurrency,
        "protocols": results,
    }, indent=2))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
