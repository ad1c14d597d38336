"""WebSocket client (websocket-client under gevent) that times every message it waits for.

One receiver greenlet reads the socket and routes each JSON message by its id to the request
waiting for it (or, for a service whose replies carry no id, to the caller of :meth:`request_next`);
a message nobody waits for is a server push. Rows reported (see ``metrics``):
``WS connect``, ``WS reply`` (request -> reply with the same id), ``WS first message`` and ``WS stream``
(request -> end marker, with message count and gaps), ``WS send`` (no reply: ``response_time=None``),
``WS ping`` (protocol ping -> pong), ``WS push`` (server-initiated, counted), ``WS connection``
(``connection dropped`` failures) and ``WS reconnect`` (drop -> connected again, with backoff).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
import websocket
from gevent.event import AsyncResult, Event
from gevent.queue import Empty, Queue

from load_tests.clients import fast_json
from load_tests.clients.one_reply import OneReply, ReplyTimer
from load_tests.clients.token_streams import finish_tokens, note_tokens, stream_timer
from load_tests.clients.ws_frames import FrameReader, send_text
from load_tests.core.request_types import (
    WS_CONNECT,
    WS_CONNECTION,
    WS_FIRST,
    WS_PING,
    WS_PUSH,
    WS_RECONNECT,
    WS_REPLY,
    WS_SEND,
    WS_STREAM,
    Failure,
)
from load_tests.core.token_rule import TokenRule
from load_tests.engine.request_hook import RequestEvent, elapsed_ms, report

_DROPPED = object()
_MALFORMED = {"type": "__malformed__"}
MAX_BACKOFF_S = 5.0
# A caller's own judgement of a reply: (the reply, every message) -> a failure text, or None when it is fine.
Check = Callable[[Any, list[Any]], str | None]


class WebSocketClient:
    """A JSON-over-WebSocket session; ``name`` prefixes nothing, it is the row name of connect rows."""

    def __init__(
        self,
        url: str,
        request_event: RequestEvent,
        *,
        name: str = "/ws/chat",
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        ca_file: str | None = None,
        id_field: str = "id",
        reconnect: bool = True,
        subprotocols: list[str] | None = None,
    ) -> None:
        self.url, self.event, self.name, self.timeout = url, request_event, name, timeout
        self.header = [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sslopt = {"ca_certs": ca_file} if ca_file else None
        self.id_field, self.reconnect_enabled, self.subprotocols = id_field, reconnect, subprotocols
        self._ids = itertools.count(1)
        self._pending: dict[Any, Queue | OneReply] = {}
        self._waiting_next: deque[Queue] = deque()  # request_next callers, served in order
        self._pongs: dict[bytes, AsyncResult] = {}
        self._ws: websocket.WebSocket | None = None
        self._connected = Event()
        self._closing = False
        self._receiver: gevent.Greenlet | None = None
        self._timers = ReplyTimer(timeout)  # restarted by every wait for one reply (see OneReply)

    # connection lifecycle -------------------------------------------------------------------
    def _open(self) -> websocket.WebSocket:
        # skip_utf8_validation: websocket-client checks text frames byte by byte in pure Python (15 us
        # per message here, the biggest cost of a reply); decoding the frame to str validates it in C anyway
        ws = websocket.create_connection(
            self.url, timeout=self.timeout, header=self.header, sslopt=self.sslopt, enable_multithread=True,
            skip_utf8_validation=True, subprotocols=self.subprotocols,
        )  # fmt: skip
        ws.settimeout(None)  # the receiver blocks cooperatively; waits are bounded by the queues
        return ws

    def connect(self) -> bool:
        """Connect once, reporting ``WS connect``; True on success."""
        start = time.perf_counter()
        try:
            ws = self._open()
        except Exception as exc:  # any failure to connect is this row's failure, named by its class
            report(self.event, WS_CONNECT, self.name, elapsed_ms(start), exception=exc)
            if self.reconnect_enabled:
                gevent.spawn(self._reconnect)
            return False
        report(self.event, WS_CONNECT, self.name, elapsed_ms(start))
        self._attach(ws)
        return True

    def _attach(self, ws: websocket.WebSocket) -> None:
        self._ws = ws
        self._connected.set()
        self._receiver = gevent.spawn(self._receive, ws)

    def close(self) -> None:
        self._closing = True
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close(timeout=1)
            except Exception:  # closing a broken socket may fail; nothing left to measure
                ws.shutdown()
        if self._receiver is not None:
            self._receiver.kill(block=False)

    def _receive(self, ws: websocket.WebSocket) -> None:
        frames = FrameReader(ws)  # websocket-client's frame layers cost more than the rest of a reply
        while True:
            try:
                opcode, data = frames.next()
            except Exception:  # closed, reset, broken or not WebSocket: all mean the connection is gone
                opcode, data = websocket.ABNF.OPCODE_CLOSE, b""
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self._dropped(ws, data)
                return
            if opcode == websocket.ABNF.OPCODE_PONG:
                waiter = self._pongs.pop(bytes(data), None)
                if waiter is not None:
                    waiter.set(time.perf_counter())
            elif opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY):
                self._route(data)

    def _route(self, data: bytes | str) -> None:
        try:
            message = fast_json.loads(data)
        except ValueError:
            message = self._salvaged(data)
            if self._waiting_next and self._pending.get(message.get(self.id_field)) is None:
                message = data.decode(errors="replace") if isinstance(data, bytes) else data  # a text protocol
        queue = self._pending.get(message.get(self.id_field)) if isinstance(message, dict) else None
        if queue is None and self._waiting_next:
            queue = self._waiting_next.popleft()  # unclaimed by an id: the next message someone waits for
        if queue is not None:
            queue.put((message, len(data)))
        else:
            kind = message.get("type", "message") if isinstance(message, dict) else "message"
            error = Failure("malformed reply") if kind in ("malformed", _MALFORMED["type"]) else None
            report(self.event, WS_PUSH, str(kind), None, response_length=len(data), exception=error)

    def _salvaged(self, data: bytes | str) -> dict[str, Any]:
        """A frame that is not JSON (cut short, garbled): fail the request it answers, found by the id
        still readable in it. Without a readable id it is a failed ``malformed`` push, and the request
        it answered fails by its timeout."""
        text = data.decode(errors="replace") if isinstance(data, bytes) else data
        found = re.search(rf'"{re.escape(self.id_field)}"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)\s*[,}}]', text)
        if found is None:
            return {"type": "malformed"}
        return {**_MALFORMED, self.id_field: json.loads(found.group(1))}

    def _dropped(self, ws: websocket.WebSocket, close_frame: bytes = b"") -> None:
        """The server closed or the connection broke: fail what waits, then reconnect unless refused.

        A close code of 1008 or 44xx means the server refuses this client (4401: no valid API key);
        reconnecting would only be refused again, as fast as the backoff allows.
        """
        if self._closing or ws is not self._ws:
            return
        self._ws = None
        self._connected.clear()
        code = int.from_bytes(close_frame[:2], "big") if len(close_frame) >= 2 else None
        refused = code == 1008 or (code is not None and 4400 <= code <= 4499)
        reason = close_frame[2:].decode(errors="replace") if refused else ""
        failure = f"refused: close {code} {reason}".strip() if refused else "connection dropped"
        report(self.event, WS_CONNECTION, self.name, None, exception=Failure(failure))
        for queue in [*self._pending.values(), *self._waiting_next]:
            queue.put((_DROPPED, 0))
        if refused:
            self.reconnect_enabled = False
        if self.reconnect_enabled:
            self._reconnect()

    def _reconnect(self) -> None:
        """Reconnect with exponential backoff (0.1 s doubling to 5 s) until it works or we close."""
        dropped_at, delay = time.perf_counter(), 0.1
        while not self._closing:
            gevent.sleep(delay)
            try:
                ws = self._open()
            except Exception:  # still down: back off and try again
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            report(self.event, WS_RECONNECT, self.name, elapsed_ms(dropped_at))
            self._attach(ws)
            return

    def _socket(self) -> websocket.WebSocket:
        """The open socket, waiting up to the timeout for a reconnect in progress."""
        if self._ws is None and not self._connected.wait(self.timeout):
            raise Failure("not connected")
        if self._ws is None:
            raise Failure("not connected")
        return self._ws

    # messages -----------------------------------------------------------------------------
    def _exchange(self, message: dict[str, Any], one: bool = False) -> tuple[Any, Any, float]:
        """Send with the message's own id (a template may set it) or a fresh one; ``one``: one reply only."""
        msg_id = message.get(self.id_field)
        if msg_id is None:
            msg_id = next(self._ids)
            message = {**message, self.id_field: msg_id}
        queue = OneReply(self._timers) if one else Queue()
        self._pending[msg_id] = queue
        start = time.perf_counter()
        send_text(self._socket(), fast_json.dumps_bytes(message))
        return msg_id, queue, start

    def _next(self, queue: Queue | OneReply, timeout: float | None = None) -> tuple[Any, int]:
        try:
            message, size = queue.get(timeout=timeout or self.timeout)
        except Empty:
            raise Failure("timeout") from None
        if message is _DROPPED:
            raise Failure("connection dropped")
        kind = message.get("type") if isinstance(message, dict) else None  # a text reply (request_next) has none
        if kind == _MALFORMED["type"]:
            raise Failure("malformed reply")
        if kind == "error":
            raise Failure(f"error {message.get('code', '')}".strip())
        return message, size

    def request(
        self,
        message: dict[str, Any],
        *,
        name: str,
        expect: str | None = None,
        check: Check | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any] | None:
        """Send ``message`` with a fresh id and wait for the reply carrying it (``WS reply``).

        ``expect`` names the reply type a correct service answers; another type is a failure. ``check``
        judges a reply that passed: its failure text fails this same row (one event per request).
        """
        msg_id, start, reply, size, error = None, time.perf_counter(), None, 0, None
        try:
            msg_id, queue, start = self._exchange(message, one=True)
            reply, size = self._next(queue, timeout)
            if expect is not None and reply.get("type") != expect:
                raise Failure(f"unexpected reply: expected {expect}, got {reply.get('type')}")
            _judged(check, reply, [reply])
        except Failure as exc:
            error = exc
        except Exception as exc:  # the send itself failed (socket gone): named by its class
            error = exc
        finally:
            self._pending.pop(msg_id, None)
        report(self.event, WS_REPLY, name, elapsed_ms(start), response_length=size, exception=error)
        return reply

    def stream(
        self,
        message: dict[str, Any],
        *,
        name: str,
        end_type: Any = "done",
        end_field: str = "type",
        expect_messages: int | None = None,
        is_end: Callable[[dict[str, Any]], bool] | None = None,
        check: Check | None = None,
        timeout: float | None = None,
        tokens: TokenRule | None = None,
    ) -> list[dict[str, Any]]:
        """Send ``message`` and collect replies until one of ``end_type`` (``WS first message``, ``WS stream``).

        ``expect_messages``: how many messages a correct stream has; another count is a failure.
        ``is_end`` replaces the ``end_field``/``end_type`` test (an end marker deeper in the message);
        ``check`` judges a complete stream (its end message and its items) on this same row.
        ``tokens``: what a token is in this stream; the row then carries TTFT, ITL and TPOT (``context["llm"]``).
        """
        msg_id, items, size, error, ended = None, [], 0, None, False
        timer = stream_timer(tokens)
        try:
            msg_id, queue, timer.start = self._exchange(message)
            while True:
                reply, n = self._next(queue, timeout)
                size += n
                if is_end(reply) if is_end is not None else reply.get(end_field) == end_type:
                    ended = True
                    if expect_messages is not None and len(items) != expect_messages:
                        raise Failure(f"message count mismatch: expected {expect_messages}, got {len(items)}")
                    _judged(check, reply, items)
                    break
                items.append(reply)
                first = timer.message()
                note_tokens(timer, tokens, reply)
                if first is not None:
                    report(self.event, WS_FIRST, name, first)
        except Failure as exc:
            error = exc
        except Exception as exc:  # the send itself failed (socket gone)
            error = exc
        finally:
            self._pending.pop(msg_id, None)
        finish_tokens(timer, ended)
        report(self.event, WS_STREAM, name, timer.elapsed_ms(), response_length=size, context=timer.context(),
               exception=error)  # fmt: skip
        return items

    def request_next(
        self, message: dict[str, Any] | str, *, name: str, check: Check | None = None, timeout: float | None = None
    ) -> Any:
        """Send ``message`` (an object as JSON, a string as text) and wait for the next message that no
        request's id claims (``WS reply``): for services whose replies carry no request id. The reply is
        the parsed JSON, or the text of a frame that is not JSON."""
        queue: Queue = Queue()
        start, reply, size, error = time.perf_counter(), None, 0, None
        self._waiting_next.append(queue)
        try:
            data = message if isinstance(message, str) else json.dumps(message)
            socket = self._socket()
            start = time.perf_counter()
            socket.send(data)
            reply, size = self._next(queue, timeout)
            _judged(check, reply, [reply])
        except Exception as exc:  # a Failure, or the send itself failed (socket gone): named by its class
            error = exc
        finally:
            if queue in self._waiting_next:
                self._waiting_next.remove(queue)
        report(self.event, WS_REPLY, name, elapsed_ms(start), response_length=size, exception=error)
        return reply

    def send(self, message: dict[str, Any] | str, *, name: str) -> bool:
        """Fire and forget (an object as JSON, a string as text): counted as ``WS send`` with no response time;
        False when it could not be sent."""
        data = message if isinstance(message, str) else json.dumps(message)
        error: BaseException | None = None
        try:
            self._socket().send(data)
        except Exception as exc:  # Failure("not connected") or a broken socket
            error = exc
        report(self.event, WS_SEND, name, None, response_length=len(data), exception=error)
        return error is None

    def ping(self, *, name: str = "ping") -> None:
        """A protocol-level ping, timed to its pong (``WS ping``)."""
        payload = str(next(self._ids)).encode()
        waiter: AsyncResult = AsyncResult()
        self._pongs[payload] = waiter
        start, error = time.perf_counter(), None
        try:
            self._socket().ping(payload)
            waiter.get(timeout=self.timeout)
        except gevent.Timeout:
            error = Failure("timeout")
        except Exception as exc:  # not connected or a broken socket
            error = exc
        finally:
            self._pongs.pop(payload, None)
        report(self.event, WS_PING, name, elapsed_ms(start), exception=error)


def _judged(check: Check | None, reply: Any, messages: list[Any]) -> None:
    """Raise the caller's check failure, so that it fails the row being reported instead of adding one."""
    failure = check(reply, messages) if check is not None else None
    if failure is not None:
        raise Failure(failure)
