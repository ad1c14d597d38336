"""The request-type vocabulary shared by all reports (the hook clients report through is
``load_tests.engine.request_hook``).

Request types (the first column of every table; README "Request types" has the full table):
HTTP methods, ``SSE stream``; ``LLM stream`` and ``LLM request`` (an OpenAI-compatible call, streamed or
not, named ``POST /v1/chat/completions``; both are HTTP);
``WS connect|reply|stream|send|ping|push|reconnect|connection``;
``SIO connect|ack|stream|send|event|reconnect|connection``; ``gRPC unary|server-stream|client-stream|
bidi-stream``. The ``... first ...`` types (``SSE first token``, ``WS first message``, ``SIO first
event``, ``gRPC first message``) are *facets*: the time to the first message of a stream that is
also reported whole. They get rows of their own but do not count again in totals and rates.

The TOTAL and protocol rows count *requests*: a call with an answer, or a send that is the request
itself. Connects, reconnects, pings, server pushes and a connection's own "dropped" failures are
not requests: they keep their rows but stay out of the totals, the rates and the error rate, unless
the config opts in (``run.count_connections: true``).
"""

from __future__ import annotations

SSE_FIRST_TOKEN = "SSE first token"
SSE_STREAM = "SSE stream"
LLM_STREAM = "LLM stream"
LLM_REQUEST = "LLM request"
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
CONNECTION_TYPES = frozenset({
    WS_CONNECT, WS_RECONNECT, WS_PING, WS_PUSH, WS_CONNECTION, SIO_CONNECT, SIO_RECONNECT, SIO_EVENT, SIO_CONNECTION,
})  # fmt: skip
PROTOCOLS = ("http", "websocket", "socketio", "grpc")
_PREFIXES = (("WS", "websocket"), ("SIO", "socketio"), ("gRPC", "grpc"))


def protocol_of(request_type: str) -> str:
    """Which protocol a request type belongs to (HTTP methods and SSE rows are ``http``)."""
    for prefix, protocol in _PREFIXES:
        if request_type == prefix or request_type.startswith(prefix + " "):
            return protocol
    return "http"


def is_facet(request_type: str) -> bool:
    """True for time-to-first-message rows, which must not count again in totals."""
    return request_type in FACETS


def counts_as_request(request_type: str, include_connections: bool = False) -> bool:
    """True for rows that the TOTAL and protocol rows, the rates and the error rate count."""
    if request_type in FACETS:
        return False
    return include_connections or request_type not in CONNECTION_TYPES


def grpc_method_name(method: str) -> str:
    """``/loadtests.inference.v1.Inference/Predict`` -> ``Inference/Predict`` (the row name)."""
    service, _, name = method.lstrip("/").rpartition("/")
    return f"{service.rpartition('.')[2]}/{name}"


class Failure(Exception):
    """A request that failed for a reason we name (``timeout``, ``error 500``, ``connection dropped``,
    ``label mismatch: ...``); ``str()`` is its failure type in reports."""
