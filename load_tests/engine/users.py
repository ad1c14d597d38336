"""Abstract Locust users, one per protocol: thin on purpose.

Each builds its client in ``__init__`` (so per user, after any ``--processes`` fork), connects in
``on_start`` and closes in ``on_stop``; tasks live in the locustfiles. Where a service is comes from
the run plan (the runner's, or the YAML config for plain ``locust -f``), falling back to Locust's
``--host``. Imports Locust: only locustfiles import this module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from locust import User
from locust.exception import StopUser

from load_tests.clients.grpc_client import GrpcClient
from load_tests.clients.socketio_client import SocketIOClient
from load_tests.clients.websocket_client import WebSocketClient
from load_tests.engine.plan_source import current_plan
from load_tests.launch.settings import websocket_url_for


def _required(value: str | None, what: str, how: str) -> str:
    if not value:
        raise StopUser(f"no {what}: give {how}")  # stops this user with the reason in Locust's log
    return value


def _api_key() -> str | None:
    return current_plan().api_key()


class WebSocketUser(User):
    """A user with one WebSocket session (``self.client``); reconnects by itself when dropped."""

    abstract = True
    client: WebSocketClient

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        services = current_plan().services
        url = services.websocket_url or (websocket_url_for(self.host) if self.host else None)
        key = _api_key()
        self.client = WebSocketClient(
            _required(url, "WebSocket URL", "--host or services.websocket.url"),
            environment.events.request,
            headers={"X-API-Key": key} if key else None,
            timeout=services.websocket_timeout_s,
            ca_file=services.ca_file,
        )

    def on_start(self) -> None:
        self.client.connect()

    def on_stop(self) -> None:
        self.client.close()


class SocketIOUser(User):
    """A user with one Socket.IO session; ``transport`` and ``namespace`` are class attributes."""

    abstract = True
    transport = "websocket"
    namespace = "/"
    client: SocketIOClient

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        services = current_plan().services
        key = _api_key()
        self.client = SocketIOClient(
            _required(services.socketio_url or self.host, "Socket.IO URL", "--host or services.socketio.url"),
            environment.events.request,
            namespace=self.namespace,
            transport=self.transport,
            auth={"api_key": key} if key else None,
            timeout=services.socketio_timeout_s,
            ca_file=services.ca_file,
        )

    def on_start(self) -> None:
        self.client.connect()

    def on_stop(self) -> None:
        self.client.close()


class GrpcUser(User):
    """A user with one gRPC channel; make stubs with ``self.client.stub(SomeStub)``."""

    abstract = True
    client: GrpcClient

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        services = current_plan().services
        host_target = self.host.split("://", 1)[-1].rstrip("/") if self.host else None
        target = _required(
            services.grpc_target or host_target, "gRPC target", "--grpc-target or --host grpc://HOST:PORT"
        )
        ca_file = services.ca_file
        self.client = GrpcClient(
            target,
            environment.events.request,
            api_key=_api_key(),
            timeout=services.grpc_timeout_s,
            root_certificates=Path(ca_file).read_bytes() if ca_file else None,
        )

    def on_stop(self) -> None:
        self.client.close()
