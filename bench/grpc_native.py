"""Experiment (issue 18, not wired into the harness): grpcio without ``init_gevent()`` in a gevent process.

Measured with bench/grpc_aio_probe.py and, while it was wired in, our gRPC user: it did not beat the gevent
path with a channel per user (grpcio's sync stack starts its spin thread each time a channel's calls go
from 0 to 1, i.e. once per call for a user's own channel, and hands the GIL between OS threads), and a
client-streaming call could be counted by the server but not reported when a user stopped mid-call. Kept
here so the figures can be reproduced.

grpcio's ``init_gevent()`` routes every socket operation of grpc core through gevent's hub; that costs
about 1.4x the CPU of the same calls made by plain grpcio (bench/run.py: ``grpc raw`` vs ``grpc sync``).
Without it, grpcio under ``monkey.patch_all()`` would hang: the Python threads grpcio starts (the channel
spin thread that polls the completion queue) become greenlets, and their blocking poll stops the hub.

:func:`enable` gives grpcio's Cython module a ``threading`` whose ``Thread`` starts a real OS thread
(gevent's original ``start_new_thread``); everything else is the (patched) module as before, so
grpcio's locks stay gevent locks, which gevent lets a foreign thread release to wake a waiting greenlet.
A blocking unary call, though, polls its own completion queue on the calling thread (the hub), so
:class:`NativeChannel` turns the unary and client-streaming calls into grpcio's ``.future()`` (driven by
the spin thread) and parks the greenlet on a gevent ``AsyncResult`` that the spin thread fills through
one ``hub.loop.async_()`` watcher (:class:`HubWaker`). Response streams need nothing: their iterators
already wait on a (gevent) condition that the spin thread notifies. ``enable()`` must run before the first
channel and never together with ``init_gevent()`` (one or the other per process).
"""

from __future__ import annotations

import collections
import os
import types
from collections.abc import Callable
from typing import Any

_enabled = False
TRANSPORT_ENV = "LOADTEST_GRPC_TRANSPORT"
TRANSPORTS = ("gevent", "native")


def selected() -> str:
    """The process's gRPC transport from the environment; a bad value is a one-line error naming it."""
    value = os.environ.get(TRANSPORT_ENV, "gevent").strip().lower() or "gevent"
    if value not in TRANSPORTS:
        raise ValueError(f"{TRANSPORT_ENV}={value!r}: choose one of {', '.join(TRANSPORTS)}")
    return value


class _Worker:
    """One reusable OS thread: grpcio starts a spin thread each time a channel's calls go from 0 to 1, which
    at load is hundreds of times a second; starting an OS thread each time cost more than the calls."""

    def __init__(self, pool: _ThreadPool) -> None:
        self.pool = pool
        self.wake = pool.allocate_lock()
        self.wake.acquire()
        self.task: _RealThread | None = None
        pool.start_new_thread(self._loop, ())

    def _loop(self) -> None:
        while True:
            self.wake.acquire()
            task, self.task = self.task, None
            if task is not None:
                task._run()
            self.pool.idle.append(self)


class _ThreadPool:
    def __init__(self) -> None:
        from gevent import monkey

        self.start_new_thread = monkey.get_original("_thread", "start_new_thread")
        self.allocate_lock = monkey.get_original("_thread", "allocate_lock")
        self.idle: collections.deque[_Worker] = collections.deque()
        self.pid = os.getpid()

    def run(self, task: _RealThread) -> None:
        try:
            worker = self.idle.pop()
        except IndexError:
            worker = _Worker(self)
        worker.task = task
        worker.wake.release()


_pool: _ThreadPool | None = None


def _thread_pool() -> _ThreadPool:
    global _pool
    if _pool is None or _pool.pid != os.getpid():  # threads do not survive a fork
        _pool = _ThreadPool()
    return _pool


class _RealThread:
    """The part of ``threading.Thread`` that grpcio's ``ForkManagedThread`` uses, on a pooled OS thread."""

    def __init__(self, target: Callable[..., Any] | None = None, args: tuple[Any, ...] = (), **kwargs: Any) -> None:
        self._target, self._args, self._kwargs = target, args, kwargs.get("kwargs") or {}
        self.daemon = bool(kwargs.get("daemon"))
        self.name = kwargs.get("name") or "grpc-native"
        self._pool = _thread_pool()
        self._done = self._pool.allocate_lock()
        self._started = False

    def setDaemon(self, daemonic: bool) -> None:  # noqa: N802  (threading.Thread's old name, grpcio calls it)
        self.daemon = daemonic

    def start(self) -> None:
        self._done.acquire()
        self._started = True
        self._pool.run(self)

    def _run(self) -> None:
        try:
            if self._target is not None:
                self._target(*self._args, **self._kwargs)
        except BaseException:
            pass
        finally:
            self._done.release()

    def join(self, timeout: float | None = None) -> None:
        if self._started and self._done.acquire(True, -1 if timeout is None else timeout):
            self._done.release()

    def is_alive(self) -> bool:
        return self._started and self._done.locked()


def enable() -> None:
    """Let grpcio start real OS threads in this gevent-patched process; idempotent; before any channel."""
    global _enabled
    if _enabled:
        return
    import threading

    from grpc._cython import cygrpc

    shim = types.ModuleType("threading")
    shim.__dict__.update(threading.__dict__)
    shim.Thread = _RealThread  # type: ignore[attr-defined]
    cygrpc.threading = shim  # type: ignore[attr-defined]
    _enabled = True


class HubWaker:
    """Hands results finished on grpc's threads to greenlets: one ``async_`` watcher wakes the hub, which
    sets each waiting ``AsyncResult``. One per process (made again after a fork)."""

    _instance: HubWaker | None = None

    def __init__(self) -> None:
        import gevent

        self.pid = os.getpid()
        self.watcher = gevent.get_hub().loop.async_()
        self.watcher.start(self._drain)
        self.done: collections.deque[tuple[Any, Any]] = collections.deque()

    @classmethod
    def get(cls) -> HubWaker:
        if cls._instance is None or cls._instance.pid != os.getpid():
            cls._instance = HubWaker()
        return cls._instance

    def post(self, waiter: Any, future: Any) -> None:  # on grpc's spin thread
        self.done.append((waiter, future))
        self.watcher.send()

    def _drain(self) -> None:  # on the hub
        while self.done:
            waiter, future = self.done.popleft()
            waiter.set(future)


def _wait(future: Any) -> Any:
    """Park the greenlet until grpc's thread completes ``future``; the future (a grpc call) is returned."""
    from gevent.event import AsyncResult

    waiter = AsyncResult()
    waker = HubWaker.get()
    future.add_done_callback(lambda done: waker.post(waiter, done))
    try:
        return waiter.get()
    except BaseException:  # the user stopped (GreenletExit) mid-call: cancel it, as a blocking call would be
        future.cancel()
        raise


class _FutureCallable:
    """A unary or client-streaming multi-callable whose blocking forms wait greenlet-wise on ``.future()``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return _wait(self._inner.future(request, *args, **kwargs)).result()

    def with_call(self, request: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        call = _wait(self._inner.future(request, *args, **kwargs))
        return call.result(), call

    def future(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return self._inner.future(request, *args, **kwargs)


class NativeChannel:
    """A grpcio channel whose blocking unary and client-streaming calls do not block gevent's hub."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel

    def unary_unary(self, *args: Any, **kwargs: Any) -> _FutureCallable:
        return _FutureCallable(self._channel.unary_unary(*args, **kwargs))

    def stream_unary(self, *args: Any, **kwargs: Any) -> _FutureCallable:
        return _FutureCallable(self._channel.stream_unary(*args, **kwargs))

    def __getattr__(self, attribute: str) -> Any:  # unary_stream, stream_stream, subscribe, close ...
        return getattr(self._channel, attribute)

    def __enter__(self) -> NativeChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self._channel.close()
