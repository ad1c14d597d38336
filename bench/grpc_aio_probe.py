"""Probe: grpc.aio on one OS thread under a gevent-patched process, greenlets waiting on gevent-safe results.

``python bench/grpc_aio_probe.py SECONDS N [aio|thread]``: N greenlets each loop the unary
``Inference/Predict``; ``aio`` hands every call to one asyncio loop thread (grpc.aio, no
``init_gevent``) and wakes the waiting greenlet through ``hub.loop.async_()``; ``thread`` runs grpcio's
plain sync stub's ``.future()`` (grpc's own threads) and wakes it the same way. Prints contenders.py's
JSON line. Every greenlet shares one channel here (the spin thread stays busy); our users have a channel
each, which is where the native path lost (bench/grpc_native.py). Measured before wiring anything in.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import asyncio  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
from gevent.event import AsyncResult  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from load_tests.reference_service.launcher import TargetInfo  # noqa: E402

start_thread = monkey.get_original("_thread", "start_new_thread")
OriginalLock = monkey.get_original("_thread", "allocate_lock")
OriginalSelector = monkey.get_original("selectors", "DefaultSelector")


class HubWaker:
    """Results finished on foreign threads, handed to greenlets on the hub: one async_ watcher, one deque."""

    def __init__(self) -> None:
        self.hub = gevent.get_hub()
        self.watcher = self.hub.loop.async_()
        self.watcher.start(self._drain)
        self.done: collections.deque[tuple[AsyncResult, Any, BaseException | None]] = collections.deque()

    def post(self, waiter: AsyncResult, value: Any, error: BaseException | None) -> None:  # any thread
        self.done.append((waiter, value, error))
        self.watcher.send()

    def _drain(self) -> None:  # on the hub
        while self.done:
            waiter, value, error = self.done.popleft()
            if error is not None:
                waiter.set_exception(error)
            else:
                waiter.set(value)


def aio_caller(target: str, waker: HubWaker) -> Any:
    from bench import grpc_native

    if os.environ.get("PROBE_NATIVE") == "1":
        grpc_native.enable()
    import grpc

    from load_tests.protos import inference_pb2, inference_pb2_grpc

    ready = OriginalLock()
    ready.acquire()
    box: dict[str, Any] = {}

    def thread_main() -> None:
        loop = asyncio.SelectorEventLoop(OriginalSelector())
        asyncio.set_event_loop(loop)
        box["loop"] = loop
        box["stub"] = inference_pb2_grpc.InferenceStub(grpc.aio.insecure_channel(target))
        ready.release()
        loop.run_forever()

    start_thread(thread_main, ())
    ready.acquire()
    loop, stub = box["loop"], box["stub"]
    request = inference_pb2.PredictRequest(features=[55.0, 2.0, 5.0, 70.0])

    async def one(waiter: AsyncResult) -> None:
        try:
            reply = await stub.Predict(request, timeout=10)
        except BaseException as exc:  # handed to the greenlet, raised there
            waker.post(waiter, None, exc)
            return
        waker.post(waiter, reply, None)

    def call() -> Any:
        waiter = AsyncResult()
        loop.call_soon_threadsafe(lambda: loop.create_task(one(waiter)))
        return waiter.get()

    return call


def native_caller(target: str, waker: HubWaker) -> Any:
    """grpcio's own stub, its threads real OS threads (bench/grpc_native.py), called blocking."""
    from bench import grpc_native

    grpc_native.enable()
    import grpc

    from load_tests.protos import inference_pb2, inference_pb2_grpc

    stub = inference_pb2_grpc.InferenceStub(grpc.insecure_channel(target))
    request = inference_pb2.PredictRequest(features=[55.0, 2.0, 5.0, 70.0])
    return lambda: stub.Predict(request, timeout=10)


def thread_caller(target: str, waker: HubWaker) -> Any:
    """grpcio sync stack without init_gevent: ``.future()`` completes on grpc's own threads."""
    from bench import grpc_native

    if os.environ.get("PROBE_NATIVE") == "1":
        grpc_native.enable()
    import grpc

    from load_tests.protos import inference_pb2, inference_pb2_grpc

    stub = inference_pb2_grpc.InferenceStub(grpc.insecure_channel(target))
    request = inference_pb2.PredictRequest(features=[55.0, 2.0, 5.0, 70.0])

    if os.environ.get("PROBE_WAIT") == "1":  # the greenlet waits on grpc's own (gevent) condition
        return lambda: stub.Predict.future(request, timeout=10).result()

    def done(future: Any, waiter: AsyncResult) -> None:
        error = future.exception()
        waker.post(waiter, None if error is not None else future.result(), error)

    def call() -> Any:
        waiter = AsyncResult()
        future = stub.Predict.future(request, timeout=10)
        future.add_done_callback(lambda f: done(f, waiter))
        return waiter.get()

    return call


def main(seconds: float, concurrency: int, kind: str) -> dict[str, Any]:
    info = TargetInfo(**json.loads(os.environ["BENCH_TARGET"]))
    waker = HubWaker()
    call = {"aio": aio_caller, "thread": thread_caller, "native": native_caller}[kind](info.grpc_target, waker)
    lateness: list[float] = []

    def ticker() -> None:  # is the hub free? a 5 ms timer's lateness while calls wait
        while not state["stop"]:
            t = time.perf_counter()
            gevent.sleep(0.005)
            if state["measure"]:
                lateness.append((time.perf_counter() - t - 0.005) * 1000.0)

    state = {"measure": False, "stop": False}
    counts, errors = [0] * concurrency, [0] * concurrency

    def loop(i: int) -> None:
        while not state["stop"]:
            try:
                call()
                counts[i] += state["measure"]
            except Exception:
                errors[i] += state["measure"]

    greenlets = [gevent.spawn(loop, i) for i in range(concurrency)] + [gevent.spawn(ticker)]
    gevent.sleep(0.5)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, t0 = usage.ru_utime + usage.ru_stime, time.perf_counter()
    state["measure"] = True
    gevent.sleep(seconds)
    state["measure"] = False
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s, wall_s = usage.ru_utime + usage.ru_stime - cpu0, time.perf_counter() - t0
    state["stop"] = True
    gevent.joinall(greenlets, timeout=5)
    requests = sum(counts)
    return {"requests": requests, "failures": sum(errors), "cpu_s": cpu_s, "wall_s": wall_s,
            "rps": requests / wall_s, "cpu_us_per_request": 1e6 * cpu_s / requests if requests else None,
            "rss_mb": psutil.Process().memory_info().rss / 1e6, "kind": kind,
            "timer_late_ms_p50": sorted(lateness)[len(lateness) // 2] if lateness else None,
            "timer_late_ms_max": max(lateness) if lateness else None}  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(main(float(sys.argv[1]), int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "aio")))
    sys.stdout.flush()
    os._exit(0)
