"""THE hook every client reports through, and the request-type vocabulary shared by all reports.

Clients never touch Locust's stats: they call :func:`report`, which fires Locust's ``request`` event;
our exact histograms (``load_tests.recorder``) listen to that same event, so Locust's own tables and
ours always count the same requests. Something that has no reply (a fire-and-forget send) reports
``response_time=None``, never 0, so it cannot drag latency figures down.

Request types (the first column of every table):

=====================  ========  ===========================================================
request type           protocol  what one row measures
=====================  ========  ===========================================================
GET, POST, ...         http      one HTTP request, send to complete response
SSE first token        http      streamed HTTP response: request sent to first event
SSE stream             http      streamed HTTP response: request sent to end of stream
WS ...                 websocket WebSocket connect, reply, stream, push, send (issue 4)
SIO ...                socketio  Socket.IO connect, ack, stream, send (issue 4)
gRPC ...               grpc      unary, server-stream, client-stream, bidi-stream (issue 4)
=====================  ========  ===========================================================
"""

from __future__ import annotations

import time
from typing import Any, Protocol

SSE_FIRST_TOKEN = "SSE first token"
SSE_STREAM = "SSE stream"
PROTOCOLS = ("http", "websocket", "socketio", "grpc")
_PREFIXES = (("WS", "websocket"), ("SIO", "socketio"), ("gRPC", "grpc"))


class RequestEvent(Protocol):
    def fire(self, **kwargs: Any) -> Any: ...


def protocol_of(request_type: str) -> str:
    """Which protocol a request type belongs to (HTTP methods and SSE rows are ``http``)."""
    for prefix, protocol in _PREFIXES:
        if request_type == prefix or request_type.startswith(prefix + " "):
            return protocol
    return "http"


def report(
    request_event: RequestEvent,
    request_type: str,
    name: str,
    response_time_ms: float | None,
    *,
    response_length: int = 0,
    exception: BaseException | str | None = None,
    context: dict[str, Any] | None = None,
) -> None:
    """Record one request/message/stream: fires Locust's request event exactly once."""
    request_event.fire(
        request_type=request_type,
        name=name,
        response_time=response_time_ms,
        response_length=response_length,
        exception=exception,
        context=context or {},
    )


class Failure(Exception):
    """A request that got an answer, but the wrong one; ``str()`` is its failure type in reports."""


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - start) * 1000.0
