"""Faults below the application: replies cut short and connections reset, for HTTP and WebSockets.

A real service breaks in ways a handler cannot show with a clean error answer: a proxy cuts a body
in half, a pod dies and the kernel answers with a TCP reset. This ASGI middleware plays those
faults on the wire, so the harness is tested against them:

- ``malformed_rate``: an HTTP JSON body, or a ``/ws/chat`` text frame, is sent cut in half (bad
  JSON, a truncated frame). Socket.IO acks are cut in its own handlers (``sio_app``), because
  cutting Engine.IO frames would break the transport rather than one reply.
- ``reset_rate``: an HTTP request, or a message arriving on any WebSocket (``/ws/chat`` and
  Socket.IO's), is answered by aborting the TCP connection with SO_LINGER 0, which sends a reset.

The reset needs the connection's transport. uvicorn hands the app bound ``send`` methods of its
protocol objects, whose ``transport`` attribute is the asyncio transport; behind another server
the middleware falls back to ending the connection with an ASGI close (a clean close, not a reset).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from load_tests.reference_service.service import Service

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
UNTOUCHED = ("/admin/", "/metrics")  # the control plane and scraping never fail on purpose


def protocol_of(scope: dict[str, Any], socketio_path: str = "/socket.io") -> str:
    if scope.get("path", "").startswith(socketio_path):
        return "socketio"
    return "websocket" if scope["type"] == "websocket" else "http"


def reset_connection(send: Send) -> bool:
    """Abort the connection behind ``send`` with a TCP reset; False when no transport is reachable."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: aborting is all that is left
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


def cut_in_half(body: bytes) -> bytes:
    """A truncated body that no JSON parser accepts (a single byte is cut to nothing)."""
    return body[: len(body) // 2]


class WireFaultMiddleware:
    """Pure ASGI middleware playing ``malformed_rate`` and ``reset_rate`` on HTTP and WebSockets."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path", "").startswith(UNTOUCHED):
            return await self.app(scope, receive, send)
        protocol = protocol_of(scope)
        if scope["type"] == "http":
            return await self._http(scope, receive, send, protocol)
        return await self.app(scope, self._resetting(receive, send, protocol), self._truncating_ws(send, protocol))

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send, protocol: str) -> None:
        work, telemetry = self.service.work, self.service.telemetry
        if work.should_reset(protocol):
            telemetry.wire_fault(protocol, "reset")
            if reset_connection(send):
                return
        if protocol == "http" and work.should_malform(protocol):
            return await self.app(scope, receive, self._truncating_http(send, protocol))
        return await self.app(scope, receive, send)

    def _truncating_http(self, send: Send, protocol: str) -> Send:
        """Cut a JSON answer in half; other answers (SSE streams, text) pass as they are."""
        state: dict[str, Any] = {"json": False, "start": None}

        async def wrapped(event: dict[str, Any]) -> None:
            if event["type"] == "http.response.start":
                headers = dict(event.get("headers") or [])
                state["json"] = headers.get(b"content-type", b"").startswith(b"application/json")
                if state["json"]:
                    state["start"] = event  # sent with the cut body, which changes its length
                    return
            elif event["type"] == "http.response.body" and state["json"]:
                body = cut_in_half(event.get("body", b""))
                self.service.telemetry.wire_fault(protocol, "malformed")
                start = state["start"]
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                state["json"] = False
                return
            await send(event)

        return wrapped

    def _truncating_ws(self, send: Send, protocol: str) -> Send:
        if protocol != "websocket":
            return send

        async def wrapped(event: dict[str, Any]) -> None:
            text = event.get("text") if event["type"] == "websocket.send" else None
            if text and self.service.work.should_malform(protocol):
                self.service.telemetry.wire_fault(protocol, "malformed")
                event = {**event, "text": cut_in_half(text.encode()).decode(errors="ignore")}
            await send(event)

        return wrapped

    def _resetting(self, receive: Receive, send: Send, protocol: str) -> Receive:
        async def wrapped() -> dict[str, Any]:
            event = await receive()
            if event["type"] == "websocket.receive" and self.service.work.should_reset(protocol):
                self.service.telemetry.wire_fault(protocol, "reset")
                if reset_connection(send):
                    return {"type": "websocket.disconnect", "code": 1006}
                await send({"type": "websocket.close", "code": 1011, "reason": "reset by fault injection"})
                return {"type": "websocket.disconnect", "code": 1011}
            return event

        return wrapped


def malformed_json(value: Any) -> str:
    """``value`` as JSON cut in half: the Socket.IO handlers' malformed ack."""
    return cut_in_half(json.dumps(value).encode()).decode(errors="ignore")
