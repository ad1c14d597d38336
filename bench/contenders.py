"""One benchmark contender in a process of its own: ``python bench/contenders.py NAME SECONDS CONCURRENCY``.

Prints one JSON line: requests, failures, generator CPU seconds (user + system, this process, during
the measured window only), wall seconds, RSS and, for our users, p50/p99 from our recorder. Setup
(connecting, spawning users) happens before the window opens. Needs ``BENCH_TARGET`` (the target's
ready line as JSON) and, for our users, ``LOADTEST_PLAN`` (written by bench/run.py).

Contenders per protocol: ``raw`` (the client library in a gevent loop, no Locust: the floor),
``ours`` (our user class and our recorder, as a run uses them), and Locust's nearest equivalent:
``fasthttp``/``httpuser`` (Locust's FastHttpUser/HttpUser), ``contrib`` (locust.contrib.socketio's
SocketIOUser), ``example`` (the gRPC interceptor user of Locust's documentation). WebSocket has no
Locust equivalent.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.measure import process_cpu_s, start_users  # noqa: E402
from bench.target_throughput import _grpc, _http, _socketio, _websocket  # noqa: E402
from load_tests.reference_service.launcher import TargetInfo  # noqa: E402

WARMUP_S = 0.5


def _result(requests: int, failures: int, cpu_s: float, wall_s: float, **extra: Any) -> dict[str, Any]:
    return {"requests": requests, "failures": failures, "cpu_s": cpu_s, "wall_s": wall_s,
            "rps": requests / wall_s if wall_s else 0.0,
            "cpu_us_per_request": 1e6 * cpu_s / requests if requests else None,
            "rss_mb": psutil.Process().memory_info().rss / 1e6, **extra}  # fmt: skip


def run_raw(make_call: Callable[[], Callable[[], None]], concurrency: int, seconds: float) -> dict[str, Any]:
    calls = [make_call() for _ in range(concurrency)]  # connect first, outside the window
    counts, errors = [0] * concurrency, [0] * concurrency
    state = {"measure": False, "stop": False}
    timed = os.environ.get("BENCH_LATENCY") == "1"  # fidelity runs only: timing costs CPU
    times: list[float] = []

    def loop(i: int) -> None:
        call = calls[i]
        while not state["stop"]:
            try:
                start = time.perf_counter()
                call()
                if timed and state["measure"]:
                    times.append((time.perf_counter() - start) * 1000.0)
                if state["measure"]:
                    counts[i] += 1
            except Exception:  # counted, never fatal: a benchmark measures failures too
                if state["measure"]:
                    errors[i] += 1

    greenlets = [gevent.spawn(loop, i) for i in range(concurrency)]
    gevent.sleep(WARMUP_S)
    cpu0, t0 = process_cpu_s(), time.perf_counter()
    state["measure"] = True
    gevent.sleep(seconds)
    state["measure"] = False
    cpu1, t1 = process_cpu_s(), time.perf_counter()
    state["stop"] = True
    gevent.joinall(greenlets, timeout=5)
    extra = {}
    if times:
        times.sort()
        extra = {"p50_ms": times[len(times) // 2], "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))]}
    return _result(sum(counts), sum(errors), cpu1 - cpu0, t1 - t0, **extra)


def run_locust(
    user_class: type,
    host: str,
    concurrency: int,
    seconds: float,
    ours: bool,
    tags: list[str] | None = None,
    only: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A Locust environment of ``concurrency`` users; ``only`` = (name, method) counts one stats row."""
    from locust.env import Environment

    from load_tests.core.recorder import Recorder

    environment = Environment(user_classes=[user_class], host=host, tags=tags)
    recorder = Recorder()
    if ours:  # our per-request cost: the recorder listener every run of ours has
        environment.events.request.add_listener(recorder.record)
    runner = environment.create_local_runner()
    start_users(runner, concurrency)
    gevent.sleep(WARMUP_S)
    total = environment.stats.get(*only) if only else environment.stats.total
    n0, f0, cpu0, t0 = total.num_requests, total.num_failures, process_cpu_s(), time.perf_counter()
    recorder_before = recorder.totals()["requests"]
    gevent.sleep(seconds)
    n1, f1, cpu1, t1 = total.num_requests, total.num_failures, process_cpu_s(), time.perf_counter()
    extra: dict[str, Any] = {}
    if ours:
        extra["recorder_requests"] = recorder.totals()["requests"] - recorder_before
        rows = [r for r in recorder.endpoints.values()]
        if rows and rows[0].histogram.total_count:
            extra["p50_ms"] = rows[0].histogram.get_value_at_percentile(50) / 1000.0
            extra["p99_ms"] = rows[0].histogram.get_value_at_percentile(99) / 1000.0
    runner.quit()
    return _result(n1 - n0, f1 - f0, cpu1 - cpu0, t1 - t0, **extra)


OUR_TASK = {"http": "health", "websocket": "ping", "socketio": "ping", "grpc": "predict"}  # by tag


def _ours(protocol: str) -> type:
    """Our user class of the protocol, not thinking between calls (the task is picked by its tag)."""
    from locust import constant

    if protocol == "http":
        from load_tests.locust.gateway_rest import RestUser as Base
    elif protocol == "websocket":
        from load_tests.locust.gateway_websocket import WebSocketChatUser as Base  # type: ignore[assignment]
    elif protocol == "socketio":
        from load_tests.locust.gateway_socketio import SocketIOChatUser as Base  # type: ignore[assignment]
    else:
        from load_tests.locust.grpc_services import GrpcServicesUser as Base  # type: ignore[assignment]
    return type(f"Bench{Base.__name__}", (Base,), {"wait_time": constant(0), "weight": 1})


def _locust_equivalent(name: str, info: TargetInfo) -> type:
    from locust import HttpUser, constant, task
    from locust.contrib.fasthttp import FastHttpUser

    if name in ("fasthttp", "httpuser"):  # Locust's HTTP users as a user writes them: GET, no checks
        base = FastHttpUser if name == "fasthttp" else HttpUser

        def health(self: Any) -> None:
            self.client.get("/health")

        return type(f"Plain{base.__name__}", (base,), {"wait_time": constant(0), "tasks": [health]})
    if name == "contrib":
        from locust.contrib.socketio import SocketIOUser

        class ContribSocketIOUser(SocketIOUser):
            wait_time = constant(0)

            def on_start(self) -> None:
                self.sio.connect(info.http_url, transports=["websocket"], wait_timeout=10)

            @task
            def ping(self) -> None:
                self.sio.call("ping", {"id": 1}, timeout=10)

            def on_stop(self) -> None:
                self.sio.disconnect()

        return ContribSocketIOUser
    from bench.locust_grpc_example import GrpcUser
    from load_tests.protos import inference_pb2, inference_pb2_grpc

    class ExampleGrpcUser(GrpcUser):
        wait_time = constant(0)
        stub_class = inference_pb2_grpc.InferenceStub
        host = info.grpc_target

        @task
        def predict(self) -> None:
            self.stub.Predict(inference_pb2.PredictRequest(features=[55.0, 2.0, 5.0, 70.0]), timeout=10)

    return ExampleGrpcUser


RAW = {"http": _http, "websocket": _websocket, "socketio": _socketio, "grpc": _grpc}


def run_contender(name: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """``NAME`` is ``<protocol>_<contender>``, e.g. ``http_raw``, ``grpc_ours``, ``socketio_contrib``."""
    info = TargetInfo(**json.loads(os.environ["BENCH_TARGET"]))
    protocol, _, contender = name.partition("_")
    if contender == "raw":
        return run_raw(lambda: RAW[protocol](info), concurrency, seconds)
    host = info.grpc_target if protocol == "grpc" else info.http_url
    user = _ours(protocol) if contender == "ours" else _locust_equivalent(contender, info)
    ours = contender == "ours"
    # contrib's catch-all handler also reports every ack it receives ("WSR"): count its calls once
    only = ("ping", "WSC") if contender == "contrib" else None
    tags = [OUR_TASK[protocol]] if ours else None
    return run_locust(user, host, concurrency, seconds, ours=ours, tags=tags, only=only)


if __name__ == "__main__":
    result = run_contender(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # do not wait for lingering client threads/greenlets: the figures are out
