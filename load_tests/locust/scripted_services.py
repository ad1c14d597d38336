"""Users built from the YAML's ``scripted:`` section: any WebSocket, Socket.IO or gRPC service, no Python.

Run through the runner (``--test-type scripted``) or ``locust -f load_tests/locust/scripted_services.py``
with ``LOADTEST_CONFIG`` naming the YAML. Each entry becomes one weighted task; a protocol without
entries has no user class.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from load_tests.clients.grpc_client import consume, init_gevent_once

init_gevent_once()  # before any channel exists, or grpcio hangs under gevent

import grpc  # noqa: E402
from locust import User, between  # noqa: E402

from load_tests.clients.grpc_client import GrpcClient, call_scope  # noqa: E402
from load_tests.clients.socketio_client import SocketIOClient  # noqa: E402
from load_tests.clients.websocket_client import WebSocketClient  # noqa: E402
from load_tests.core.scripted import (  # noqa: E402
    GrpcMethod,
    ScriptedConfig,
    ScriptedGrpc,
    ScriptedSocketIO,
    ScriptedWebSocket,
    fill_template,
    pool_from_proto,
    pool_from_reflection,
    resolve_method,
)
from load_tests.engine.harness import install  # noqa: E402
from load_tests.engine.plan_source import current_plan  # noqa: E402
from load_tests.launch.settings import websocket_url_for  # noqa: E402

install()
CONFIG = ScriptedConfig.model_validate(current_plan().scripted or {})
_ids = itertools.count(1)


def _timeout(key: str) -> float:
    return float(getattr(current_plan().services, key))


def _key() -> str | None:
    return current_plan().api_key()


class _ClientsUser(User):
    """A user holding several clients (one per URL or namespace), opened and closed together."""

    abstract = True
    clients: dict[Any, Any]

    def on_start(self) -> None:
        for client in self.clients.values():
            client.connect()

    def on_stop(self) -> None:
        for client in self.clients.values():
            client.close()


def _ws_task(entry: ScriptedWebSocket) -> Callable[[Any], None]:
    def task(user: ScriptedWebSocketUser) -> None:
        request_id = str(next(_ids))
        message = fill_template(entry.message, request_id)
        message.setdefault(entry.id_field, request_id)
        client = user.clients[entry.url or user.default_url]
        if entry.stream_end:
            client.stream(message, name=entry.name, end_field=entry.stream_end["field"],
                          end_type=entry.stream_end["value"], expect_messages=entry.expect_messages)  # fmt: skip
        else:
            client.request(message, name=entry.name)

    task.__name__ = f"ws_{entry.name}"
    return task


class ScriptedWebSocketUser(_ClientsUser):
    abstract = not CONFIG.websocket
    wait_time = between(0.5, 2.0)
    tasks = {_ws_task(e): e.weight for e in CONFIG.websocket}  # noqa: RUF012 - Locust reads a class attribute

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        services = current_plan().services
        self.default_url = services.websocket_url or (websocket_url_for(self.host) if self.host else "")
        key = _key()
        self.clients: dict[str, WebSocketClient] = {}
        for entry in CONFIG.websocket:
            url = entry.url or self.default_url
            if url not in self.clients:
                self.clients[url] = WebSocketClient(
                    url, environment.events.request, name=urlsplit(url).path or url,
                    headers={"X-API-Key": key} if key else None, timeout=_timeout("websocket_timeout_s"),
                    id_field=entry.id_field,
                )  # fmt: skip


def _sio_task(entry: ScriptedSocketIO) -> Callable[[Any], None]:
    def task(user: ScriptedSocketIOUser) -> None:
        client = user.clients[(entry.url or user.default_url, entry.namespace)]
        payload = fill_template(entry.payload, str(next(_ids)))
        if entry.response_event:
            client.stream(entry.event, dict(payload or {}), name=entry.name, end_event=entry.end_event,
                          expect_messages=entry.expect_messages)  # fmt: skip
        elif entry.ack:
            client.call(entry.event, payload, name=entry.name)
        else:
            client.emit(entry.event, payload, name=entry.name)

    task.__name__ = f"sio_{entry.name}"
    return task


class ScriptedSocketIOUser(_ClientsUser):
    abstract = not CONFIG.socketio
    wait_time = between(0.5, 2.0)
    tasks = {_sio_task(e): e.weight for e in CONFIG.socketio}  # noqa: RUF012 - Locust reads a class attribute

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.default_url = current_plan().services.socketio_url or self.host or ""
        key = _key()
        self.clients: dict[tuple[str, str], SocketIOClient] = {}
        for entry in CONFIG.socketio:
            where = (entry.url or self.default_url, entry.namespace)
            if where not in self.clients:
                self.clients[where] = SocketIOClient(
                    where[0], environment.events.request, namespace=entry.namespace, id_field=entry.id_field,
                    auth={"api_key": key} if key else None, timeout=_timeout("socketio_timeout_s"),
                )  # fmt: skip
            if entry.response_event:
                self.clients[where].listen(entry.response_event, entry.end_event)


_methods: dict[tuple[str | None, str, str, str], GrpcMethod] = {}


def _method(entry: ScriptedGrpc, target: str) -> GrpcMethod:
    """Resolved once per process: compiling a .proto or asking reflection is not per-request work."""
    key = (entry.proto, entry.service, entry.method, target)
    if key not in _methods:
        if entry.proto:
            _methods[key] = resolve_method(pool_from_proto(Path(entry.proto)), entry)
        else:
            with grpc.insecure_channel(target) as channel:
                _methods[key] = resolve_method(pool_from_reflection(channel), entry)
    return _methods[key]


def _grpc_task(entry: ScriptedGrpc) -> Callable[[Any], None]:
    def task(user: ScriptedGrpcUser) -> None:
        target = entry.target or user.default_target
        method = _method(entry, target)
        channel = user.clients[target].channel
        serialize, parse = method.request_class.SerializeToString, method.response_class.FromString
        request = method.request(entry.request)
        with call_scope(entry.name):  # the entry's name is the row name, as in every other protocol
            if method.server_streaming:
                stream = channel.unary_stream(method.path, request_serializer=serialize, response_deserializer=parse)
                consume(stream(request))
                return
            with contextlib.suppress(grpc.RpcError):  # already reported by the interceptor
                channel.unary_unary(method.path, request_serializer=serialize, response_deserializer=parse)(request)

    task.__name__ = f"grpc_{entry.name}"
    return task


class ScriptedGrpcUser(User):
    abstract = not CONFIG.grpc
    wait_time = between(0.5, 2.0)
    tasks = {_grpc_task(e): e.weight for e in CONFIG.grpc}  # noqa: RUF012 - Locust reads a class attribute

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        host = self.host.split("://", 1)[-1].rstrip("/") if self.host else ""
        self.default_target = current_plan().services.grpc_target or host
        targets = {e.target or self.default_target for e in CONFIG.grpc}
        self.clients = {t: GrpcClient(t, environment.events.request, api_key=_key(), timeout=_timeout("grpc_timeout_s"))
                        for t in targets}  # fmt: skip

    def on_stop(self) -> None:
        for client in self.clients.values():
            client.close()
