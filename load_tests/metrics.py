"""THE hook every client reports through, and the request-type vocabulary shared by all reports.

Clients never touch Locust's stats: they call :func:`report`, which fires Locust's ``request`` event;
our exact histograms (``load_tests.recorder``) listen to that same event, so Locust's own tables and
ours always count the same requests. Something that has no reply (a fire-and-forget send) reports
``response_time=None``, never 0, so it cannot drag latency figures down.

Request types (the first column of every table; README "Request types" has the full table):
HTTP methods, ``SSE stream``; ``WS connect|reply|stream|send|ping|push|reconnect|connection``;
``SIO connect|ack|stream|send|event|reconnect|connection``; ``gRPC unary|server-stream|client-stream|
bidi-stream``. The ``... first ...`` types (``SSE first token``, ``WS first message``, ``SIO first
event``, ``gRPC first message``) are *facets*: the time to the first message of a stream that is
also reported whole. They get rows of their own but do not count again in totals and rates.

A stream's whole-row report carries ``context={"messages": n, "gaps_ms": [...]}`` so the summary can
give message counts and the gaps between messages without one event per message.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

SSE_FIRST_TOKEN = "SSE first token"
SSE_STREAM = "SSE stream"
WS_CONNECT = "WS connect"
WS_REPLY = "WS reply"
WS_FIRST = "WS first message"
WS_STREAM = "WS stream"
WS_SEND = "WS send"
WS_PING = "WS ping"
WS_PUSH = "WS push"
WS_RECONNECT = "WS reconnect"
WS_CONNECTION = "WS connection"
SIO_CONNECT = "SIO connect"
SIO_ACK = "SIO ack"
SIO_FIRST = "SIO first event"
SIO_STREAM = "SIO stream"
SIO_SEND = "SIO send"
SIO_EVENT = "SIO event"
SIO_RECONNECT = "SIO reconnect"
SIO_CONNECTION = "SIO connection"
GRPC_UNARY = "gRPC unary"
GRPC_FIRST = "gRPC first message"
GRPC_SERVER_STREAM = "gRPC server-stream"
GRPC_CLIENT_STREAM = "gRPC client-stream"
GRPC_BIDI_STREAM = "gRPC bidi-stream"
FACETS = frozenset({SSE_FIRST_TOKEN, WS_FIRST, SIO_FIRST, GRPC_FIRST})
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


def is_facet(request_type: str) -> bool:
    """True for time-to-first-message rows, which must not count again in totals."""
    return request_type in FACETS


def grpc_method_name(method: str) -> str:
    """``/loadtests.inference.v1.Inference/Predict`` -> ``Inference/Predict`` (the row name)."""
    service, _, name = method.lstrip("/").rpartition("/")
    return f"{service.rpartition('.')[2]}/{name}"


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
    """A request that failed for a reason we name (``timeout``, ``error 500``, ``connection dropped``,
    ``label mismatch: ...``); ``str()`` is its failure type in reports."""


def elapsed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - start) * 1000.0


class StreamTimer:
    """Times one stream: time to first message, the gap before each later message, and the whole.

    Every protocol's client uses this one class, so a stream means the same in every table.
    """

    __slots__ = ("first_ms", "gaps_ms", "last", "messages", "start")

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.last: float | None = None
        self.first_ms: float | None = None
        self.gaps_ms: list[float] = []
        self.messages = 0

    def message(self) -> float | None:
        """Note one message; returns the time to first message when this is the first, else None."""
        now = time.perf_counter()
        self.messages += 1
        if self.last is None:
            self.last = now
            self.first_ms = (now - self.start) * 1000.0
            return self.first_ms
        self.gaps_ms.append((now - self.last) * 1000.0)
        self.last = now
        return None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0

    def context(self) -> dict[str, Any]:
        return {"messages": self.messages, "gaps_ms": self.gaps_ms}
