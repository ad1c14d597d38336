"""Socket.IO side of the target (python-socketio on the same ASGI app as HTTP).

Events, on the default namespace and on ``/chat``:

- ``ping`` ``{"id": ...}``: answered through the ack with ``{"id": ..., "pong": true}``.
- ``load_file`` ``{"name": ..., "size": bytes}``: after a simulated load time, the ack carries metadata.
- ``chat`` ``{"id": ..., "message": ..., "max_tokens": n}``: the ack says ``accepted``, then ``token``
  events and a ``done`` event follow, each carrying the request id; a ``token`` event carries
  ``token`` (its words), ``tokens`` (how many) and ``x_server_time`` (epoch s), timed by the
  reference LLM (:mod:`llm_engine`), as every chat stream of the target.
- ``typing`` (any data): counted, never answered (fire-and-forget).

Errors come back as an ack ``{"error": ..., "status": 500}`` (or an ``error`` event for ``chat``).
The API key is taken from the ``auth`` payload (``{"api_key": ...}``) or the ``X-API-Key`` header.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import socketio

from load_tests.reference_service.faults import InjectedFault
from load_tests.reference_service.service import Service
from load_tests.reference_service.wire_faults import malformed_json

PROTOCOL = "socketio"
NAMESPACES = ("/", "/chat")
MAX_TOKENS = 2048
_ERROR = {"error": "injected fault", "status": 500}


def create_sio(service: Service) -> socketio.AsyncServer:
    """A Socket.IO server whose handlers count and fault like every other protocol of the target."""
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", logger=False, engineio_logger=False)
    _on_connections(sio, service)
    _on_calls(sio, service)
    _on_chat(sio, service)
    return sio


async def _dropped(sio: socketio.AsyncServer, service: Service, sid: str, namespace: str, operation: str) -> bool:
    if not service.work.should_drop(PROTOCOL, operation):
        return False
    service.telemetry.connection_dropped(PROTOCOL)
    await sio.disconnect(sid, namespace=namespace)
    return True


def _answer(service: Service, operation: str, value: dict[str, Any]) -> dict[str, Any] | str:
    """The ack, or (``malformed_rate``) its JSON cut in half, as a broken server would send it."""
    if service.work.should_malform(PROTOCOL, operation):
        service.telemetry.wire_fault(PROTOCOL, "malformed")
        return malformed_json(value)
    return value


def _on_every_namespace(sio: socketio.AsyncServer, event: str, handler: Any) -> None:
    for namespace in NAMESPACES:
        sio.on(event, namespace=namespace)(_bind(handler, namespace))


def _on_connections(sio: socketio.AsyncServer, service: Service) -> None:
    telemetry = service.telemetry

    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        presented = auth.get("api_key") if isinstance(auth, dict) else None
        presented = presented or environ.get("HTTP_X_API_KEY")
        if not service.authorized(presented):
            telemetry.error(PROTOCOL, "connect", "unauthorized")
            raise socketio.exceptions.ConnectionRefusedError("unauthorized: missing or invalid API key")
        telemetry.connection_opened(PROTOCOL)

    async def disconnect(sid: str, *_reason: Any) -> None:
        telemetry.connection_closed(PROTOCOL)

    for namespace in NAMESPACES:
        sio.on("connect", namespace=namespace)(connect)
        sio.on("disconnect", namespace=namespace)(disconnect)


def _on_calls(sio: socketio.AsyncServer, service: Service) -> None:
    """The request/ack events, and ``typing``, which is counted but never answered."""
    telemetry = service.telemetry

    async def ping(sid: str, data: Any = None, namespace: str = "/") -> dict[str, Any] | str | None:
        if await _dropped(sio, service, sid, namespace, "ping"):
            return None
        try:
            await service.call(PROTOCOL, "ping", "ping")
        except InjectedFault:
            return _ERROR
        return _answer(service, "ping", {"id": data.get("id") if isinstance(data, dict) else None, "pong": True})

    async def load_file(sid: str, data: Any = None, namespace: str = "/") -> dict[str, Any] | str | None:
        if await _dropped(sio, service, sid, namespace, "load_file"):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            telemetry.request(PROTOCOL, "load_file")
            telemetry.error(PROTOCOL, "load_file", "bad_request")
            return {"error": "load_file needs {'name': str, 'size': int}", "status": 400}
        try:
            await service.call(PROTOCOL, "load_file", "load_file")
        except InjectedFault:
            return _ERROR
        size = data.get("size") if isinstance(data.get("size"), int) else 0
        loaded = {"name": data["name"], "size": size, "loaded": True, "format": data["name"].rpartition(".")[2]}
        return _answer(service, "load_file", loaded)

    async def typing(sid: str, data: Any = None, namespace: str = "/") -> None:
        telemetry.request(PROTOCOL, "typing")

    for event, handler in (("ping", ping), ("load_file", load_file), ("typing", typing)):
        _on_every_namespace(sio, event, handler)


def _on_chat(sio: socketio.AsyncServer, service: Service) -> None:
    """``chat``: the ack only accepts; the tokens follow as events from a background task."""

    async def chat(sid: str, data: Any = None, namespace: str = "/") -> dict[str, Any] | str | None:
        if await _dropped(sio, service, sid, namespace, "chat"):
            return None
        data = data if isinstance(data, dict) else {}
        request_id, received = data.get("id"), time.time()
        try:
            await service.call(PROTOCOL, "chat", "chat", timed=False)
        except InjectedFault:
            await sio.emit("error", {"id": request_id, **_ERROR}, to=sid, namespace=namespace)
            return _ERROR
        max_tokens = data.get("max_tokens") if isinstance(data.get("max_tokens"), int) else 16
        max_tokens = max(1, min(max_tokens, MAX_TOKENS))
        prompt = str(data.get("message", ""))
        sio.start_background_task(_stream, sid, namespace, request_id, prompt, max_tokens, received)
        return {"id": request_id, "accepted": True}  # the stream is what the client reads

    async def _stream(sid: str, namespace: str, request_id: Any, prompt: str, max_tokens: int, received: float) -> None:
        sent = 0
        stream = service.llm.messages(PROTOCOL, "chat", prompt, max_tokens, received)
        async with contextlib.aclosing(stream):
            async for m in stream:
                token = {"id": request_id, "index": m.index, "token": m.text, "tokens": m.tokens}
                await sio.emit("token", {**token, "x_server_time": m.stamp}, to=sid, namespace=namespace)
                sent += 1
        service.telemetry.stream_messages(PROTOCOL, "chat", sent)
        done = {"id": request_id, "tokens": max_tokens, "x_server_time": time.time()}
        await sio.emit("done", done, to=sid, namespace=namespace)

    _on_every_namespace(sio, "chat", chat)


def _bind(handler: Any, namespace: str) -> Any:
    async def bound(sid: str, data: Any = None) -> Any:
        return await handler(sid, data, namespace)

    return bound
