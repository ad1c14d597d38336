"""gRPC client: one timed channel for all four call kinds, timing unary calls and every stream.

Locust's documented example times unary calls in an interceptor only; this channel times around the
stubs' multi-callables instead (no interceptor layer: cheaper, same figures) and also wraps response
streams so each message is timed: ``gRPC unary``, ``gRPC client-stream``, ``gRPC server-stream`` /
``gRPC bidi-stream`` (whole stream, message count, gaps) and ``gRPC first message``.
A failed call's failure type is its status code name (``UNAVAILABLE``, ``DEADLINE_EXCEEDED``). The
API key travels as ``x-api-key`` metadata; every call gets the configured deadline unless it sets one.

grpcio under gevent needs ``grpc.experimental.gevent.init_gevent()`` before any channel exists, or
it hangs: :func:`init_gevent_once` is called by :class:`GrpcClient` and by the gRPC locustfile at
import. Channels are made per user, after any ``--processes`` fork, never at import time.

Calls made inside :func:`call_scope` are reported under the scope's row name instead of
``Service/Method``, and its check judges each finished call before the one report: a check's failure
fails that row, with no second event (the fleet's YAML-described calls use this). There a
client-streaming row also counts the messages it sent (``messages``, no gaps).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from load_tests.clients.token_streams import finish_tokens, note_tokens, stream_timer
from load_tests.core.request_types import (
    GRPC_BIDI_STREAM,
    GRPC_CLIENT_STREAM,
    GRPC_FIRST,
    GRPC_SERVER_STREAM,
    GRPC_UNARY,
    Failure,
    grpc_method_name,
)
from load_tests.core.token_rule import TokenRule
from load_tests.engine.request_hook import RequestEvent, StreamTimer, elapsed_ms, report

_gevent_ready = False
# A caller's judgement of a finished call: (status code name, trailing metadata, responses) -> failure text
# or None. When given, it alone decides whether the call failed (so a check may expect an error status).
CallCheck = Callable[[str, Any, list[Any]], str | None]


class CallScope(NamedTuple):
    name: str
    check: CallCheck | None = None
    tokens: TokenRule | None = None  # a server stream's token rule: its row carries TTFT, ITL, TPOT


# Per greenlet (greenlet gives each its own context): the row name and check of the calls made now.
_scope: ContextVar[CallScope | None] = ContextVar("grpc_call_scope", default=None)


@contextmanager
def call_scope(name: str, check: CallCheck | None = None, tokens: TokenRule | None = None) -> Iterator[None]:
    """Report the calls made inside under ``name``, judged by ``check`` (see :data:`CallCheck`); a response
    stream made inside counts ``tokens`` by that rule (``core/token_rule.py``)."""
    token = _scope.set(CallScope(name, check, tokens))
    try:
        yield
    finally:
        _scope.reset(token)


def init_gevent_once() -> None:
    """Make grpcio cooperate with gevent; idempotent, and must run before the first channel."""
    global _gevent_ready
    if not _gevent_ready:
        import grpc.experimental.gevent as grpc_gevent

        grpc_gevent.init_gevent()
        _gevent_ready = True


def status_failure(exc: grpc.RpcError) -> Failure:
    code = exc.code() if hasattr(exc, "code") else None
    return Failure(code.name if code is not None else type(exc).__name__)


def _judged(check: CallCheck, error: Failure | None, source: Any, responses: list[Any]) -> Failure | None:
    """The scope's verdict on a finished call; ``source`` (the call or its RpcError) holds the trailers."""
    try:
        trailing = source.trailing_metadata()
    except Exception:  # an outcome without trailers (cancelled before any): judge without them
        trailing = None
    failure = check("OK" if error is None else str(error), trailing, responses)
    return Failure(failure) if failure is not None else None


def _counted(messages: Iterator[Any], sent: list[Any]) -> Iterator[Any]:
    """The request stream as gRPC reads it, noting each message sent (no gaps: gRPC pulls them as fast as
    flow control allows, so the time between two says nothing about the service)."""
    for message in messages:
        sent.append(None)
        yield message


class _TimedStream:
    """Iterates a response stream, timing first message, gaps and the whole; reports once at the end."""

    def __init__(
        self, call: Any, request_type: str, name: str, event: RequestEvent, timer: StreamTimer,
        check: CallCheck | None = None, tokens: TokenRule | None = None,
    ) -> None:  # fmt: skip
        self._call, self._type, self._name, self._event, self._timer = call, request_type, name, event, timer
        self._check, self._tokens = check, tokens
        self._messages: list[Any] = []  # kept for the check only
        self._reported = False

    def __iter__(self) -> _TimedStream:
        return self

    def __next__(self) -> Any:
        try:
            message = next(self._call)
        except StopIteration:
            self._finish(None, self._call)
            raise
        except grpc.RpcError as exc:
            self._finish(status_failure(exc), exc)
            raise
        if self._check is not None:
            self._messages.append(message)
        first = self._timer.message()
        note_tokens(self._timer, self._tokens, message)
        if first is not None:
            report(self._event, GRPC_FIRST, self._name, first)
        return message

    def _finish(self, error: Failure | None, source: Any) -> None:
        if not self._reported:
            self._reported = True
            if self._check is not None:
                error = _judged(self._check, error, source, self._messages)
            finish_tokens(self._timer, source is self._call)  # ended by the server's status, not an RpcError
            report(self._event, self._type, self._name, self._timer.elapsed_ms(), context=self._timer.context(),
                   exception=error)  # fmt: skip

    def __getattr__(self, attribute: str) -> Any:  # cancel(), code(), trailing_metadata() ...
        return getattr(self._call, attribute)


class _Defaults(NamedTuple):
    """What every call of one client gets: its request event, its metadata (the API key), its deadline."""

    event: RequestEvent
    metadata: tuple[tuple[str, str], ...]
    timeout: float | None


class _Timed:
    """A multi-callable of the raw channel, with the row name worked out once and the client's defaults.

    Why not a grpcio interceptor (Locust's documented way): grpcio's interceptor layer wraps every call
    in call-details objects, a continuation closure and an outcome object, about 48 µs a call on this
    machine (bench/results/hot_path.md), more than our timing and recorder together. Stubs only ever ask
    the channel for multi-callables, so timing around them sees exactly what an interceptor saw.
    """

    __slots__ = ("_event", "_inner", "_kind", "_metadata", "_name", "_timeout")

    def __init__(self, inner: Any, kind: str, method: str | bytes, client: _Defaults) -> None:
        self._inner, self._kind = inner, kind
        self._name = grpc_method_name(method.decode() if isinstance(method, bytes) else method)
        self._event, self._metadata, self._timeout = client

    def _options(
        self, timeout: float | None = None, metadata: Any = None, credentials: Any = None,
        wait_for_ready: bool | None = None, compression: Any = None,
    ) -> dict[str, Any]:  # fmt: skip
        """The call's keyword arguments, from grpcio's multi-callable signature (after the request): its own
        deadline or the client's, its metadata then the client's."""
        if self._metadata:
            metadata = self._metadata if metadata is None else (*tuple(metadata), *self._metadata)
        return {"timeout": self._timeout if timeout is None else timeout, "metadata": metadata,
                "credentials": credentials, "wait_for_ready": wait_for_ready, "compression": compression}  # fmt: skip


class _TimedSingle(_Timed):
    """Unary-unary and stream-unary: one answer, timed from the call to its status, reported once."""

    __slots__ = ()

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        options = self._options(*args, **kwargs)
        response, _call, error = self._timed(request, options, with_call=False)
        if error is not None:
            raise error
        return response

    def with_call(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        options = self._options(*args, **kwargs)
        response, call, error = self._timed(request, options, with_call=True)
        if error is not None:
            raise error
        return response, call

    def future(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """The finished call, as the interceptor gave it: timing needs the answer, so this waits for it."""
        options = self._options(*args, **kwargs)
        _response, call, error = self._timed(request, options, with_call=True)
        return call if error is None else error

    def _timed(self, request: Any, options: dict[str, Any], with_call: bool) -> tuple[Any, Any, grpc.RpcError | None]:
        """Make the call, time it, report it once; (response, call, error) with the RpcError not yet raised.
        The plain blocking form is cheaper than ``with_call``, so the call object is fetched only when the
        caller or the scope's check (which reads trailers) needs it."""
        scope = _scope.get()
        with_call = with_call or (scope is not None and scope.check is not None)
        sent: list[Any] | None = None
        if scope is not None and self._kind == GRPC_CLIENT_STREAM:
            sent = []  # in a scope, a request stream's row counts the messages it sent
            request = _counted(request, sent)
        start = time.perf_counter()
        error: grpc.RpcError | None = None
        failure: Failure | None = None
        try:
            if with_call:
                response, call = self._inner.with_call(request, **options)
            else:
                response, call = self._inner(request, **options), None
        except grpc.RpcError as exc:
            response, call, error, failure = None, None, exc, status_failure(exc)
        if scope is not None and scope.check is not None:
            responses = [] if error is not None else [response]
            failure = _judged(scope.check, failure, call if error is None else error, responses)
        context = {"messages": len(sent), "gaps_ms": []} if sent is not None else None
        report(self._event, self._kind, scope.name if scope is not None else self._name, elapsed_ms(start),
               exception=failure, context=context)  # fmt: skip
        return response, call, error


class _TimedResponses(_Timed):
    """Unary-stream and stream-stream: the response iterator, timed per message by :class:`_TimedStream`."""

    __slots__ = ()

    def __call__(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        options = self._options(*args, **kwargs)
        scope = _scope.get()
        tokens = scope.tokens if scope is not None else None
        timer = stream_timer(tokens)
        call = self._inner(request, **options)
        if scope is None:
            return _TimedStream(call, self._kind, self._name, self._event, timer)
        return _TimedStream(call, self._kind, scope.name, self._event, timer, scope.check, tokens)


class TimedChannel(grpc.Channel):
    """The raw channel, handing out timed multi-callables; connectivity and closing are the raw channel's.
    A ``grpc.Channel``: pass it to a generated stub, or to ``grpc.intercept_channel``, like any channel."""

    def __init__(self, raw: grpc.Channel, defaults: _Defaults) -> None:
        self._raw, self._defaults = raw, defaults

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> _TimedSingle:  # type: ignore[override]
        return _TimedSingle(self._raw.unary_unary(method, *args, **kwargs), GRPC_UNARY, method, self._defaults)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> _TimedSingle:  # type: ignore[override]
        inner = self._raw.stream_unary(method, *args, **kwargs)
        return _TimedSingle(inner, GRPC_CLIENT_STREAM, method, self._defaults)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> _TimedResponses:  # type: ignore[override]
        inner = self._raw.unary_stream(method, *args, **kwargs)
        return _TimedResponses(inner, GRPC_SERVER_STREAM, method, self._defaults)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> _TimedResponses:  # type: ignore[override]
        inner = self._raw.stream_stream(method, *args, **kwargs)
        return _TimedResponses(inner, GRPC_BIDI_STREAM, method, self._defaults)

    def subscribe(self, callback: Any, try_to_connect: bool = False) -> None:
        self._raw.subscribe(callback, try_to_connect)

    def unsubscribe(self, callback: Any) -> None:
        self._raw.unsubscribe(callback)

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> TimedChannel:
        return self

    def __exit__(self, *exc: object) -> None:
        self._raw.close()


# gRPC's default reconnect backoff grows to 120 s: a target that is back after a restart would sit
# unused for minutes of the test. Cap it at 5 s like the WebSocket and Socket.IO reconnects.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 5000),
)


class GrpcClient:
    """One channel (plain or TLS), timed (:class:`TimedChannel`); stubs are made from it."""

    def __init__(
        self,
        target: str,
        request_event: RequestEvent,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        root_certificates: bytes | None = None,
        tls: bool = False,
    ) -> None:
        """TLS when ``root_certificates`` are given (trusted alone) or ``tls`` is set (the system's roots)."""
        init_gevent_once()
        if root_certificates is not None or tls:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            raw = grpc.secure_channel(target, credentials, options=CHANNEL_OPTIONS)
        else:
            raw = grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._raw = raw
        metadata = (("x-api-key", api_key),) if api_key else ()
        self.channel = TimedChannel(raw, _Defaults(request_event, metadata, timeout))
        self._health = health_pb2_grpc.HealthStub(self.channel)

    def stub(self, stub_class: type) -> Any:
        return stub_class(self.channel)

    def health_check(self, service: str = "") -> bool:
        """The standard ``grpc.health.v1`` check (row ``gRPC unary Health/Check``); True when SERVING."""
        try:
            reply = self._health.Check(health_pb2.HealthCheckRequest(service=service))
        except grpc.RpcError:
            return False
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    def close(self) -> None:
        self._raw.close()


def consume(stream: Iterator[Any]) -> list[Any]:
    """Read a response stream to its end; an RpcError was already reported, so it ends the list."""
    messages = []
    try:
        for message in stream:
            messages.append(message)
    except grpc.RpcError:
        pass
    return messages
