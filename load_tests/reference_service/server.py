"""Run HTTP, WebSocket, Socket.IO and gRPC of the target on one asyncio loop, and stop them cleanly.

uvicorn's own signal capture re-raises the signal after shutdown, which would kill the process before
the gRPC server stops; we install our own handlers instead so SIGINT and SIGTERM end everything
within about a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio
import uvicorn

from load_tests.reference_service.faults import DEFAULT_SERVICE_TIMES, Faults, WorkModel
from load_tests.reference_service.grpc_app import start_grpc_server
from load_tests.reference_service.http_app import ApiKeyMiddleware, create_http_app
from load_tests.reference_service.llm_engine import LlmEngine
from load_tests.reference_service.llm_timing import LlmTiming
from load_tests.reference_service.service import Service
from load_tests.reference_service.sio_app import create_sio
from load_tests.reference_service.telemetry import Telemetry
from load_tests.reference_service.wire_faults import WireFaultMiddleware


@dataclass(frozen=True)
class TargetOptions:
    """Everything ``python -m load_tests.reference_service`` can be told at start."""

    host: str = "127.0.0.1"
    http_port: int = 8000
    grpc_port: int = 50051
    api_key: str | None = None
    faults: Faults = field(default_factory=Faults)
    service_times: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_SERVICE_TIMES))
    db_pool_size: int = 20
    seed: int | None = None
    access_log: bool = False
    tls_cert: str | None = None  # PEM files: HTTPS/WSS and gRPC over TLS when both are given
    tls_key: str | None = None
    llm: LlmTiming = field(default_factory=LlmTiming)  # the reference LLM's timing (every chat stream)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # we own the signals, see module docstring
        yield


def build_service(options: TargetOptions) -> Service:
    work = WorkModel(service_times=dict(options.service_times), faults=options.faults, rng=random.Random(options.seed))
    llm = LlmEngine(options.llm, random.Random(options.seed))
    return Service(work=work, telemetry=Telemetry(options.db_pool_size), api_key=options.api_key or None, llm=llm)


def build_asgi_app(service: Service) -> Any:
    sio = create_sio(service)
    app = socketio.ASGIApp(sio, other_asgi_app=create_http_app(service))
    return ApiKeyMiddleware(WireFaultMiddleware(app, service), service)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it a keep-alive client waits ~40 ms per response
    # (Nagle holding the body behind the headers until the client's delayed ACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def serve(options: TargetOptions, on_ready: Callable[[dict[str, Any]], None]) -> None:
    """Serve until SIGINT/SIGTERM; ``on_ready`` gets the bound addresses once all protocols listen."""
    service = build_service(options)
    sock = _bind(options.host, options.http_port)
    http_port = sock.getsockname()[1]
    config = uvicorn.Config(
        build_asgi_app(service),
        log_level="warning",
        access_log=options.access_log,
        lifespan="off",
        timeout_graceful_shutdown=1,
        ws_ping_interval=None,
        ssl_certfile=options.tls_cert,
        ssl_keyfile=options.tls_key,
    )
    server = _Server(config)
    tls = (
        (Path(options.tls_key).read_bytes(), Path(options.tls_cert).read_bytes())
        if options.tls_cert and options.tls_key
        else None
    )
    grpc_server, grpc_port = await start_grpc_server(service, options.host, options.grpc_port, tls)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))

    http_task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not http_task.done():
        await asyncio.sleep(0.01)
    if http_task.done():
        await http_task  # re-raises a startup failure
        return
    host = f"[{options.host}]" if ":" in options.host else options.host
    secure = "s" if tls else ""
    on_ready(
        {
            "event": "ready",
            "pid": os.getpid(),
            "host": options.host,
            "http_port": http_port,
            "grpc_port": grpc_port,
            "tls": bool(tls),
            "http_url": f"http{secure}://{host}:{http_port}",
            "ws_url": f"ws{secure}://{host}:{http_port}/ws/chat",
            "grpc_target": f"{host}:{grpc_port}",
        }
    )
    try:
        await http_task
    finally:
        await grpc_server.stop(grace=0.5)


def print_ready(info: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
