"""The ``/ws/chat`` WebSocket protocol of the target.

Clients send JSON objects with a ``type`` and an ``id``; every answer carries that id so a client can
match replies to requests:

- ``{"type": "ping", "id": 1}`` -> ``{"type": "pong", "id": 1}``
- ``{"type": "echo", "id": 2, "payload": ...}`` -> ``{"type": "echo", "id": 2, "payload": ...}``
- ``{"type": "chat", "id": 3, "message": "hi", "max_tokens": 8}`` -> ``token`` messages, then ``done``;
  each ``token`` carries ``token`` (its words), ``tokens`` (how many) and ``x_server_time`` (epoch s),
  timed by the reference LLM (:mod:`llm_engine`), as every chat stream of the target
- ``{"type": "subscribe", "id": 4, "count": 3}`` -> ``{"type": "subscribed"}`` then 3 server pushes
- ``{"type": "notify", ...}`` -> nothing (fire-and-forget: counted, never answered)

Malformed JSON or an unknown type gets ``{"type": "error", ...}`` and the connection stays open.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from load_tests.reference_service.faults import InjectedFault
from load_tests.reference_service.service import Service

PROTOCOL = "websocket"
_OPERATIONS = {"ping": "ping", "echo": "echo", "chat": "chat", "subscribe": "ping", "notify": "ping"}
MAX_TOKENS = 2048


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(json.dumps(message))


def _parse(raw: str | bytes | None) -> dict[str, Any]:
    if raw is None:
        raise ValueError("empty frame")
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ValueError("a message must be a JSON object with a string 'type'")
    return data


async def serve_websocket(service: Service, websocket: WebSocket) -> None:
    """Serve one connection until the client leaves or a drop fault closes it."""
    telemetry = service.telemetry
    await websocket.accept()
    telemetry.connection_opened(PROTOCOL)
    try:
        while True:
            frame = await websocket.receive()
            if frame["type"] == "websocket.disconnect":
                return
            try:
                message = _parse(frame.get("text") or frame.get("bytes"))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                telemetry.request(PROTOCOL, "invalid")
                telemetry.error(PROTOCOL, "invalid", "bad_request")
                await _send(websocket, {"type": "error", "code": 400, "error": f"malformed message: {exc}"})
                continue
            if not await _answer(service, websocket, message):
                return
    except WebSocketDisconnect:
        return
    finally:
        telemetry.connection_closed(PROTOCOL)


async def _answer(service: Service, websocket: WebSocket, message: dict[str, Any]) -> bool:
    """Answer one message; False when the connection was dropped on purpose."""
    kind, msg_id = message["type"], message.get("id")
    operation = _OPERATIONS.get(kind)
    if operation is None:
        service.telemetry.request(PROTOCOL, "invalid")
        service.telemetry.error(PROTOCOL, "invalid", "bad_request")
        await _send(websocket, {"type": "error", "id": msg_id, "code": 400, "error": f"unknown type {kind!r}"})
        return True
    if service.work.should_drop(PROTOCOL, operation):
        service.telemetry.request(PROTOCOL, kind)
        service.telemetry.connection_dropped(PROTOCOL)
        await websocket.close(code=1011, reason="dropped by fault injection")
        return False
    if kind == "notify":
        service.telemetry.request(PROTOCOL, kind)
        return True
    received = time.time()
    try:
        await service.call(PROTOCOL, kind, operation, timed=kind != "chat")
    except InjectedFault:
        await _send(websocket, {"type": "error", "id": msg_id, "code": 500, "error": "injected fault"})
        return True
    if kind == "ping":
        await _send(websocket, {"type": "pong", "id": msg_id})
    elif kind == "echo":
        await _send(websocket, {"type": "echo", "id": msg_id, "payload": message.get("payload")})
    elif kind == "chat":
        await _stream_tokens(service, websocket, message, msg_id, received)
    else:
        await _push(service, websocket, message, msg_id)
    return True


def _bounded_int(value: Any, default: int) -> int:
    return max(1, min(int(value), MAX_TOKENS)) if isinstance(value, int) and not isinstance(value, bool) else default


async def _stream_tokens(
    service: Service, websocket: WebSocket, message: dict[str, Any], msg_id: Any, received: float
) -> None:
    max_tokens = _bounded_int(message.get("max_tokens"), 16)
    sent = 0
    stream = service.llm.messages(PROTOCOL, "chat", str(message.get("message", "")), max_tokens, received)
    async with contextlib.aclosing(stream):
        async for m in stream:
            token = {"type": "token", "id": msg_id, "index": m.index, "token": m.text, "tokens": m.tokens}
            await _send(websocket, {**token, "x_server_time": m.stamp})
            sent += 1
    service.telemetry.stream_messages(PROTOCOL, "chat", sent)
    await _send(websocket, {"type": "done", "id": msg_id, "tokens": max_tokens, "x_server_time": time.time()})


async def _push(service: Service, websocket: WebSocket, message: dict[str, Any], msg_id: Any) -> None:
    """Server-initiated messages: the client asked for ``count`` notifications, one per token gap."""
    count = _bounded_int(message.get("count"), 3)
    await _send(websocket, {"type": "subscribed", "id": msg_id, "count": count})
    for i in range(count):
        await service.work.token_gap()
        await _send(websocket, {"type": "notification", "id": msg_id, "index": i})
    service.telemetry.stream_messages(PROTOCOL, "subscribe", count)
