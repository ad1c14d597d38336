"""Socket.IO client (python-socketio under gevent) that times acks and event streams exactly once.

Rows reported: ``SIO connect`` (per transport and namespace), ``SIO ack`` (emit -> ack; Locust's
contrib client reports these twice and its plain emits as 0 ms), ``SIO first event`` and ``SIO stream``
(emit -> item events -> end event, matched by request id), ``SIO send`` (no ack: ``response_time=None``),
``SIO event`` (server-pushed events, counted), ``SIO connection`` (``connection dropped``) and
``SIO reconnect``. Reconnection is ours, not the library's: python-socketio does not reconnect after a
server-side disconnect, which is exactly the drop a load test must survive.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import engineio
import gevent
import requests
import socketio
from gevent.queue import Empty, Queue

from load_tests.clients import fast_json
from load_tests.clients.token_streams import finish_tokens, note_tokens, stream_timer
from load_tests.core.request_types import (
    SIO_ACK,
    SIO_CONNECT,
    SIO_CONNECTION,
    SIO_EVENT,
    SIO_FIRST,
    SIO_RECONNECT,
    SIO_SEND,
    SIO_STREAM,
    Failure,
)
from load_tests.core.token_rule import TokenRule
from load_tests.engine.request_hook import RequestEvent, elapsed_ms, report

_DROPPED = object()
MAX_BACKOFF_S = 5.0
# A caller's own judgement of a reply: (the ack or the stream's end event, every message) -> a failure text or None.
Check = Callable[[Any, list[Any]], str | None]


class _GreenletEngineIO(engineio.Client):
    """engine.io's client with its background tasks as bare greenlets.

    engine.io runs every received message's handler in a new ``threading.Thread`` (a greenlet under
    gevent's patched threading, but with Thread's Python start-up around it: about 20 µs, the largest
    single cost of an ack here). ``gevent.spawn`` runs the same handler, with the ``join`` engine.io
    calls on its read and write loops, for about a quarter of that.
    """

    def start_background_task(self, target: Any, *args: Any, **kwargs: Any) -> gevent.Greenlet:
        return gevent.spawn(target, *args, **kwargs)


class _SocketIO(socketio.Client):
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _GreenletEngineIO


class SocketIOClient:
    def __init__(
        self,
        url: str,
        request_event: RequestEvent,
        *,
        namespace: str = "/",
        transport: str = "websocket",
        auth: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        ca_file: str | None = None,
        stream_events: tuple[str, str, str] = ("token", "done", "error"),
        id_field: str = "id",
        reconnect: bool = True,
        transports: list[str] | None = None,
    ) -> None:
        self.url, self.event, self.namespace, self.transport = url, request_event, namespace, transport
        self.transports = list(transports or [transport])  # several: engine.io starts on the first, then upgrades
        self.auth, self.headers, self.timeout, self.reconnect_enabled = auth, headers or {}, timeout, reconnect
        self.name = f"{transport} {namespace}"
        session = None
        if ca_file:  # engineio uses the session's CA for polling and copies it into the WebSocket's sslopt
            session = _CaSession()
            session.verify = ca_file
        self.sio = _SocketIO(
            reconnection=False, http_session=session, request_timeout=timeout,
            websocket_extra_options={"skip_utf8_validation": True},  # see websocket_client.py: C decoding validates
            json=fast_json,  # every packet's encoding and parse (python-socketio sets it for the whole process)
        )  # fmt: skip
        self._ids = itertools.count(1)
        self._pending: dict[Any, Queue] = {}
        self._closing = False
        self._connected_once = False
        self._dropped_at: float | None = None
        self.id_field = id_field
        _, self._end_event, self._error_event = stream_events
        self._listening: set[str] = set()
        self.listen(*stream_events)
        self.sio.on("disconnect", self._on_disconnect, namespace=namespace)
        self.sio.on("connect_error", self._on_connect_error, namespace=namespace)
        self._connect_error: str | None = None
        self.sio.on("*", self._on_other, namespace=namespace)

    # connection lifecycle -------------------------------------------------------------------
    def _open(self) -> None:
        self.sio.connect(
            self.url, transports=self.transports, namespaces=[self.namespace], auth=self.auth,
            headers=self.headers, wait_timeout=self.timeout,
        )  # fmt: skip

    def connect(self) -> bool:
        start = time.perf_counter()
        try:
            self._open()
        except Exception as exc:  # refused, unreachable, timed out: this row's failure
            reason = self._connect_error or _reason(exc)
            report(
                self.event,
                SIO_CONNECT,
                self.name,
                elapsed_ms(start),
                exception=Failure(f"connect failed: {reason}"[:120]),
            )
            if self.reconnect_enabled:
                self._dropped_at = time.perf_counter()
                self._connected_once = True
                gevent.spawn(self._reconnect)
            return False
        report(self.event, SIO_CONNECT, self.name, elapsed_ms(start))
        self._connected_once = True
        return True

    def close(self) -> None:
        """Leave without waiting: a polite disconnect on long-polling waits for the pending poll (up to
        the server's 25 s ping interval), which would hold every user's stop at the end of a run."""
        self._closing = True
        self.sio.eio.disconnect(abort=True)

    def _on_connect_error(self, data: Any = None) -> None:
        """The server's reason for refusing us; python-socketio's exception only says a namespace failed."""
        self._connect_error = data.get("message", str(data)) if isinstance(data, dict) else str(data)

    def _on_disconnect(self, *_reason: Any) -> None:
        if self._closing or not self._connected_once:
            return
        self._dropped_at = time.perf_counter()
        report(self.event, SIO_CONNECTION, self.name, None, exception=Failure("connection dropped"))
        for queue in list(self._pending.values()):
            queue.put(_DROPPED)
        if self.reconnect_enabled:
            gevent.spawn(self._reconnect)

    def _reconnect(self) -> None:
        delay = 0.1
        while not self._closing:
            gevent.sleep(delay)
            try:
                self._open()
            except Exception:  # still down: back off and retry
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            report(self.event, SIO_RECONNECT, self.name, elapsed_ms(self._dropped_at or time.perf_counter()))
            return

    def listen(self, *event_names: str) -> None:
        """Route these server events to the stream waiting for their request id."""
        for event_name in event_names:
            if event_name not in self._listening:
                self._listening.add(event_name)
                self.sio.on(event_name, self._routed(event_name), namespace=self.namespace)

    def _routed(self, event_name: str) -> Any:
        def handler(data: Any = None) -> None:
            queue = self._pending.get(data.get(self.id_field)) if isinstance(data, dict) else None
            if queue is not None:
                queue.put((event_name, data))
            else:
                report(self.event, SIO_EVENT, event_name, None)

        return handler

    def _on_other(self, event_name: str, *_data: Any) -> None:
        report(self.event, SIO_EVENT, event_name, None)

    def _ensure_connected(self) -> None:
        deadline = time.perf_counter() + self.timeout
        while not self.sio.connected:
            if time.perf_counter() >= deadline or self._closing:
                raise Failure("not connected")
            gevent.sleep(0.05)

    # messages -----------------------------------------------------------------------------
    def call(
        self,
        event: str,
        data: Any = None,
        *,
        name: str | None = None,
        expect: tuple[str, ...] = (),
        check: Check | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Emit and wait for the ack (``SIO ack``); an ack with ``error`` is a failure ``error <status>``,
        and one that is not an object holding the ``expect`` keys is a ``malformed reply``. ``check``
        judges an ack that passed: its failure text fails this same row (one event per call)."""
        start, ack, error = time.perf_counter(), None, None
        try:
            self._ensure_connected()
            start = time.perf_counter()
            ack = self.sio.call(event, data, namespace=self.namespace, timeout=timeout or self.timeout)
            if isinstance(ack, dict) and "error" in ack:
                error = Failure(f"error {ack.get('status', '')}".strip())
            elif expect and not (isinstance(ack, dict) and all(k in ack for k in expect)):
                error = Failure("malformed reply")
            elif check is not None and (failure := check(ack, [ack])) is not None:
                error = Failure(failure)
        except socketio.exceptions.TimeoutError:
            error = Failure("timeout" if self.sio.connected else "connection dropped")
        except (socketio.exceptions.BadNamespaceError, socketio.exceptions.DisconnectedError):
            error = Failure("not connected")
        except Failure as exc:
            error = exc
        report(self.event, SIO_ACK, name or event, elapsed_ms(start), exception=error)
        return ack

    def stream(
        self,
        event: str,
        data: dict[str, Any],
        *,
        name: str | None = None,
        end_event: str | None = None,
        expect_messages: int | None = None,
        check: Check | None = None,
        timeout: float | None = None,
        tokens: TokenRule | None = None,
    ) -> list[Any]:
        """Emit ``data`` with a fresh ``id``; collect item events until the end event (``SIO stream``).

        ``check`` judges a complete stream (its end event's data and its items) on this same row.
        ``tokens``: what a token is in this stream; the row then carries TTFT, ITL and TPOT (``context["llm"]``)."""
        request_id = data.get(self.id_field) or f"r{next(self._ids)}"
        end_event = end_event or self._end_event
        queue: Queue = Queue()
        self._pending[request_id] = queue
        items: list[Any] = []
        error: BaseException | None = None
        timer, ended = stream_timer(tokens), False
        row = name or event
        try:
            self._ensure_connected()
            timer.start = time.perf_counter()
            self.sio.emit(event, {**data, self.id_field: request_id}, namespace=self.namespace)
            while True:
                got = queue.get(timeout=timeout or self.timeout)
                if got is _DROPPED:
                    raise Failure("connection dropped")
                kind, payload = got
                if kind == end_event:
                    ended = True
                    if expect_messages is not None and len(items) != expect_messages:
                        raise Failure(f"message count mismatch: expected {expect_messages}, got {len(items)}")
                    if check is not None and (failure := check(payload, items)) is not None:
                        raise Failure(failure)
                    break
                if kind == self._error_event:
                    raise Failure(f"error {payload.get('status', '')}".strip())
                items.append(payload)
                first = timer.message()
                note_tokens(timer, tokens, payload)
                if first is not None:
                    report(self.event, SIO_FIRST, row, first)
        except Empty:
            error = Failure("timeout")
        except (socketio.exceptions.BadNamespaceError, socketio.exceptions.DisconnectedError):
            error = Failure("not connected")
        except Failure as exc:
            error = exc
        finally:
            self._pending.pop(request_id, None)
        finish_tokens(timer, ended)
        report(self.event, SIO_STREAM, row, timer.elapsed_ms(), context=timer.context(), exception=error)
        return items

    def emit(self, event: str, data: Any = None, *, name: str | None = None) -> bool:
        """Fire and forget: ``SIO send`` with no response time; False when it could not be sent."""
        error: BaseException | None = None
        try:
            self._ensure_connected()
            self.sio.emit(event, data, namespace=self.namespace)
        except (socketio.exceptions.BadNamespaceError, socketio.exceptions.DisconnectedError):
            error = Failure("not connected")
        except Failure as exc:
            error = exc
        report(self.event, SIO_SEND, name or event, None, exception=error)
        return error is None


class _CaSession(requests.Session):
    """A session whose own CA wins: requests otherwise lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE replace it."""

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings["verify"] = self.verify
        return settings


def _reason(exc: Exception) -> str:
    """A one-line reason for a failed connect when the server gave none."""
    detail = exc.args[1] if len(exc.args) > 1 else (exc.args[0] if exc.args else type(exc).__name__)
    return detail.get("message", str(detail)) if isinstance(detail, dict) else str(detail)
